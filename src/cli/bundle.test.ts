/**
 * The bundled CLI (what scripts/device-pack.sh builds with esbuild: dist/cli.mjs beside package.json,
 * configs/ and models/) finds its shipped configs and models wherever it is unpacked: built here into a
 * temporary folder and run from another folder, `quickstart --dry-run` resolves both presets and checks
 * the shipped teacher, and `inspect` reads a shipped network by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('bundled CLI: quickstart --dry-run and inspect find configs/ and models/ from another folder', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-bundle-'));
  try {
    const pack = join(dir, 'unpacked');
    // the esbuild call of scripts/device-pack.sh
    const b = spawnSync(join(root, 'node_modules/.bin/esbuild'), [join(root, 'src/cli/main.ts'), '--bundle', '--platform=node', '--format=esm', '--target=node20', '--external:webgpu', '--external:@jax-js/jax',
      `--outfile=${join(pack, 'dist/cli.mjs')}`, "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);", '--log-level=warning'], { encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    copyFileSync(join(root, 'package.json'), join(pack, 'package.json'));
    cpSync(join(root, 'configs'), join(pack, 'configs'), { recursive: true });
    symlinkSync(join(root, 'models'), join(pack, 'models'));
    symlinkSync(join(root, 'node_modules'), join(pack, 'node_modules')); // jax-js and webgpu stay external
    const elsewhere = mkdtempSync(join(dir, 'cwd-'));
    const run = (...args: string[]) => spawnSync(process.execPath, [join(pack, 'dist/cli.mjs'), ...args], { cwd: elsewhere, encoding: 'utf8', env: { ...process.env, DI_DEBUG: '' } });
    for (const preset of ['cpu', 'gpu']) {
      const r = run('quickstart', '--device', 'wasm', '--preset', preset, '--dry-run');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`preset '${preset}' \\(${join(pack, 'configs', `quickstart-fmnist-${preset}.json`).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`));
      assert.equal(JSON.parse(r.stdout).teacher, 'fmnist-cond');
    }
    const i = run('inspect', 'fmnist-cond', '--json');
    assert.equal(i.status, 0, i.stderr);
    assert.equal(JSON.parse(i.stdout).file, join(pack, 'models', 'fmnist-cond.safetensors'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
