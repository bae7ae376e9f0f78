#!/usr/bin/env node
/**
 * Applies this project's patches to @jax-js/jax 0.1.25 in node_modules (run by `npm install`/`npm ci`
 * as `postinstall`; idempotent). Each patch is a literal before → after replacement in the package's
 * dist files (ESM and CJS builds); a snippet that is not found exactly is a one-line error, so a jax-js
 * upgrade cannot silently skip a patch. See patches/README.md for what each patch does and why.
 */
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PATCHES } from '../patches/jax-js.mjs';

const MARK = '/* diff-instruct patches applied */';
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '@jax-js', 'jax');
if (!existsSync(join(pkgDir, 'package.json'))) {
  console.log('patch-jax: @jax-js/jax is not installed; nothing to patch');
  process.exit(0);
}
const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
if (version !== '0.1.25') {
  console.error(`patch-jax: @jax-js/jax ${version} is installed but the patches are for 0.1.25: update patches/jax-js.mjs`);
  process.exit(1);
}
// Each patch names the dist file it edits: 'index' (default), 'backend' (the shared chunk holding the
// backends) or 'webgpu' (the WebGPU backend's chunk), the last two with a content hash in their names,
// in both the ESM and the CJS build.
const dist = join(pkgDir, 'dist');
function chunk(prefix) {
  const files = readdirSync(dist).filter((f) => new RegExp(`^${prefix}-[^.]+\\.(js|cjs)$`).test(f));
  if (files.length !== 2) {
    console.error(`patch-jax: expected one ESM and one CJS ${prefix} chunk in ${dist}, found ${files.join(', ') || 'none'}`);
    process.exit(1);
  }
  return files;
}
const targets = { index: ['index.js', 'index.cjs'], backend: chunk('backend'), webgpu: chunk('webgpu') };
for (const [kind, files] of Object.entries(targets)) {
  const patches = PATCHES.filter((p) => (p.file ?? 'index') === kind);
  for (const file of files) {
    const path = join(dist, file);
    let src = readFileSync(path, 'utf8');
    if (src.includes(MARK) || patches.length === 0) continue;
    for (const p of patches) {
      for (const [before, after] of p.replace) {
        const n = src.split(before).length - 1;
        if (n !== 1) {
          console.error(`patch-jax: patch '${p.name}' expects its snippet once in dist/${file}, found it ${n} times`);
          process.exit(1);
        }
        src = src.replace(before, () => after);
      }
    }
    writeFileSync(path, `${MARK}\n${src}`);
    console.log(`patch-jax: patched dist/${file} (${patches.map((p) => p.name).join(', ')})`);
  }
}
