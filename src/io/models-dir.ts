/** Where shipped networks live (models/ of this package) and which there are. Node only. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's `models/` folder, where shipped networks live: found by walking up from this module to
 * the folder whose package.json is ours, so it is the same from the source tree (src/io/), an
 * installed package and the bundled CLI (dist/cli.mjs, one level deep).
 */
export function modelsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'diff-instruct') return join(dir, 'models');
      } catch {
        /* not ours: keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return fileURLToPath(new URL('../../models/', import.meta.url));
    dir = up;
  }
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
