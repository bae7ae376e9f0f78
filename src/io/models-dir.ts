/** Where this package's shipped files live (models/, configs/) and which networks there are. Node only. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * This package's root folder (where its package.json, models/ and configs/ are): found by walking up
 * from this module to the folder whose package.json is ours, so it is the same from the source tree
 * (src/io/), an installed package and the bundled CLI (dist/cli.mjs, one level deep), wherever unpacked.
 */
export function packageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'diff-instruct') return dir;
      } catch {
        /* not ours: keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return fileURLToPath(new URL('../../', import.meta.url));
    dir = up;
  }
}

/** The package's `models/` folder, where shipped networks live. */
export function modelsDir(): string {
  return join(packageDir(), 'models');
}

/** The package's `configs/` folder (the quick start presets and example configs). */
export function configsDir(): string {
  return join(packageDir(), 'configs');
}

/** Names of the shipped networks (models/*.safetensors). */
export function shippedNames(): string[] {
  try {
    return readdirSync(modelsDir())
      .filter((f) => f.endsWith('.safetensors'))
      .map((f) => f.slice(0, -'.safetensors'.length))
      .sort();
  } catch {
    return [];
  }
}

/** A file under models/ (e.g. `classifier-fmnist.safetensors`). */
export function shippedFile(name: string): string {
  return join(modelsDir(), name);
}
