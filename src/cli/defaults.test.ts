/**
 * Defaults that fit the device: on Wasm, `distill`/`refine` of an image teacher and `eval --network`
 * take sizes that fit in 4 GiB and finish in minutes on a CPU (WASM_IMAGE_DEFAULTS, WASM_EVAL_DEFAULTS)
 * wherever the user gives no value; --dry-run says which, and prints them in the config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/diff-instruct.mjs', import.meta.url));
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, DI_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('Wasm defaults: distill of an image teacher and eval --network fit the device; explicit values and toy teachers keep theirs', { timeout: 120_000 }, async () => {
  const [image, given, toy, ev] = await Promise.all([
    cli(['distill', '--teacher', 'fmnist-cond', '--device', 'wasm', '--dry-run']),
    cli(['distill', '--teacher', 'fmnist-cond', '--device', 'wasm', '--dry-run', '--batch', '2', '--eval-n', '0']),
    cli(['distill', '--teacher', 'toy:ring8', '--device', 'wasm', '--dry-run']),
    cli(['eval', '--network', 'fmnist-cond-onestep', '--device', 'wasm', '--dry-run']),
  ]);
  for (const r of [image, given, toy, ev]) assert.equal(r.status, 0, r.stderr);
  const a = JSON.parse(image.stdout);
  assert.deepEqual([a.batch, a.duration, a.tick, a.snap, a.evalN], [4, 0.256, 0.128, 100, 200]);
  assert.match(image.stderr, /^defaults on WebAssembly \(CPU\): --batch 4, --duration 0\.256, --tick 0\.128, --snap 100, --eval-n 200 /m);
  const b = JSON.parse(given.stdout);
  assert.deepEqual([b.batch, b.evalN, b.duration], [2, 0, 0.256]);
  assert.match(given.stderr, /^defaults on WebAssembly \(CPU\): --duration 0\.256, --tick 0\.128, --snap 100 /m);
  const c = JSON.parse(toy.stdout);
  assert.deepEqual([c.batch, c.duration], [128, 200]);
  assert.doesNotMatch(toy.stderr, /defaults on WebAssembly/);
  const e = JSON.parse(ev.stdout);
  assert.deepEqual([e.batch, e.seeds], [64, '0-199']);
});

test('eval: scoring a network against another dataset than its own is said, before any compute', { timeout: 60_000 }, async () => {
  const r = await cli(['eval', '--network', 'fmnist-cond-onestep', '--dataset', 'mnist', '--device', 'wasm', '--dry-run']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^diff-instruct: warning: 'fmnist-cond-onestep' was trained on fashion-mnist; scoring it against mnist measures how far apart the datasets are, not its quality$/m);
  const same = await cli(['eval', '--network', 'fmnist-cond-onestep', '--dataset', 'fashion-mnist', '--device', 'wasm', '--dry-run']);
  assert.doesNotMatch(same.stderr, /warning/);
});
