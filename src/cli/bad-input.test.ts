/**
 * The corrupt-input corpus: every case runs the real CLI (bin/diff-instruct.mjs) on a bad file, config,
 * seed list or device and must end with exit code 1 and exactly one line on stderr,
 * `diff-instruct: error: <what is wrong>`, naming the problem (no stack trace, nothing half-written).
 * The commands use --dry-run or fail before any compute, so the corpus takes seconds per case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.js';

const bin = fileURLToPath(new URL('../../bin/diff-instruct.mjs', import.meta.url));
/** Runs the CLI; resolves with its exit code and stderr. */
function cli(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, DI_DEBUG: '' }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stderr }));
  });
}

const cases: [string[], RegExp][] = [];
/** Queues a case: `args` must fail with one error line matching `message`. */
function fails(args: string[], message: RegExp) {
  cases.push([args, message]);
}

async function check(args: string[], message: RegExp) {
  const r = await cli(args);
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !/^(quickstart|device): /.test(l)); // what ran, then the error
  assert.equal(r.status, 1, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  assert.equal(lines.length, 1, `${args.join(' ')}: one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^diff-instruct: error: /);
  assert.match(lines[0], message, args.join(' '));
}

test('bad input: corrupt safetensors files, wrong kinds, bad configs, seeds and devices each give one line and exit 1', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-bad-'));
  try {
    const good = serializeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } }, { diff_instruct: JSON.stringify({ kind: 'teacher', net: 'song-unet' }) });
    const file = (name: string, bytes: Uint8Array | string) => {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      return p;
    };
    const truncated = file('truncated.safetensors', good.subarray(0, good.length - 4));
    const huge = new Uint8Array(good);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true); // header length of 1 TiB
    const oversized = file('oversized.safetensors', huge);
    const garbage = file('garbage.safetensors', 'this is not a safetensors file at all, just text');
    const tiny = file('tiny.safetensors', new Uint8Array([1, 2, 3]));
    const noMeta = file('nometa.safetensors', serializeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }));
    const badJson = file('bad.json', '{ "batch": 4, ');
    const unknownKey = file('unknown.json', JSON.stringify({ batch: 4, learningRate: 1 }));
    const wrongType = file('wrongtype.json', JSON.stringify({ batch: 'four' }));

    // corrupt files, read by inspect and by the checks of --dry-run
    fails(['inspect', truncated], /truncated\.safetensors.*(truncated|beyond)/);
    fails(['inspect', oversized], /oversized\.safetensors/);
    fails(['inspect', garbage], /garbage\.safetensors/);
    fails(['inspect', tiny], /tiny\.safetensors/);
    fails(['distill', '--dry-run', '--teacher', garbage], /garbage\.safetensors/);
    fails(['distill', '--dry-run', '--teacher', noMeta], /no diff_instruct metadata/);
    // wrong kinds: a classifier or a generator where a teacher is wanted
    fails(['distill', '--dry-run', '--teacher', 'classifier-fmnist'], /holds a classifier checkpoint, expected teacher/);
    fails(['distill', '--dry-run', '--teacher', 'fmnist-cond-onestep'], /holds a generator checkpoint, expected teacher/);
    fails(['train-teacher', '--dry-run', '--init', 'classifier-fmnist'], /holds a classifier checkpoint, expected teacher/);
    fails(['distill', '--dry-run', '--teacher', join(dir, 'missing.safetensors')], /not found/);
    fails(['distill', '--dry-run', '--teacher', dir], /is a folder/);
    // configs
    fails(['distill', '--dry-run', '--config', badJson], /bad\.json' is not valid JSON/);
    fails(['distill', '--dry-run', '--config', unknownKey], /unknown config key 'learningRate'/);
    fails(['distill', '--dry-run', '--config', wrongType], /config key 'batch'/);
    fails(['distill', '--dry-run', '--config', join(dir, 'nope.json')], /cannot be read/);
    fails(['distill', '--dry-run', '--batch', 'abc'], /--batch: expected a number, got 'abc'/);
    fails(['distill', '--dry-run', '--batch', '0'], /^diff-instruct: error: --batch: /);
    fails(['distill', '--dry-run', '--loss', 'kl'], /^diff-instruct: error: --loss: /);
    // seeds
    fails(['sample', '--dry-run', '--seeds', '5-1'], /seed/);
    fails(['sample', '--dry-run', '--seeds', 'abc'], /seed/);
    fails(['sample', '--dry-run', '--seeds', '-3'], /seed/);
    // devices
    fails(['distill', '--dry-run', '--device', 'cuda'], /unknown device 'cuda'/);
    fails(['sample', '--device', 'tpu', '--network', 'fmnist-cond-onestep', '--seeds', '0', '--outdir', join(dir, 'out')], /unknown device 'tpu'/);
    // a failed start leaves no run folder behind
    const runs = join(dir, 'runs');
    // the shipped teacher with one NaN in a bias: refused when loaded, naming the tensor
    const teacher = readSafetensors(fileURLToPath(new URL('../../models/fmnist-cond.safetensors', import.meta.url)));
    const bias = Object.keys(teacher.tensors).find((k) => k.endsWith('.bias'))!;
    const t = teacher.tensors[bias];
    if (t.dtype === 'F16') (t.data as Uint16Array)[0] = 0x7e00; // an f16 NaN
    else (t.data as Float32Array)[0] = NaN;
    const nanTeacher = file('nan-teacher.safetensors', serializeSafetensors(teacher.tensors, teacher.metadata));
    const biasRe = new RegExp(`nan-teacher\\.safetensors': tensor '${bias.replace(/\./g, '\\.')}' holds 1 non-finite value \\(NaN or ±Inf\\)`);
    fails(['distill', '--teacher', nanTeacher, '--outdir', runs, '--device', 'wasm'], biasRe);
    fails(['sample', '--network', nanTeacher, '--seeds', '0', '--outdir', join(runs, 'samples'), '--device', 'wasm'], biasRe);
    fails(['train-teacher', '--init', 'classifier-fmnist', '--outdir', runs, '--device', 'wasm'], /holds a classifier checkpoint/);
    // error texts (issue 28): each names the problem, as the user typed it, before any compute
    const nullCfg = file('null.json', 'null');
    const arrayCfg = file('array.json', '[1, 2]');
    const aFile = file('not-a-folder', 'x');
    fails(['distill', '--dry-run', '--config', nullCfg], /null\.json' must hold a JSON object of config keys, not null$/);
    fails(['distill', '--dry-run', '--config', arrayCfg], /array\.json' must hold a JSON object of config keys, not an array$/);
    fails(['distill', '--resume', dir, '--config', unknownKey], /unknown\.json: unknown config key 'learningRate'$/); // the file, not a training state
    fails(['distill', '--dry-run', '--lr-fake', '-1'], /^diff-instruct: error: --lr-fake: /);
    fails(['distill', '--teacher', 'toy:ring8', '--eval-n', '1', '--outdir', runs, '--device', 'wasm'], /^diff-instruct: error: --eval-n: expected 0 \(no metrics\) or at least 2 samples/);
    fails(['distill', '--dry-run', '--teacher', 'toy:ring8', '--grid-seeds', 'abc'], /^diff-instruct: error: --grid-seeds: expected seeds as N or A-B/);
    fails(['sample', '--network', 'fmnist-cond-onestep', '--seeds', '0', '--outdir', aFile, '--device', 'wasm'], /--outdir '.*not-a-folder': '.*not-a-folder' is a file, not a folder$/);
    if (existsSync('/proc/self')) fails(['distill', '--teacher', 'toy:ring8', '--duration', '0.1', '--outdir', '/proc/di-x', '--device', 'wasm'], /cannot create folder '\/proc\/di-x': ENOENT$/); // Node's recursive mkdir spins forever there
    // three processes at a time: each spends most of its ~2 s loading the CLI
    const queue = [...cases];
    await Promise.all([0, 1, 2].map(async () => {
      for (let c = queue.shift(); c; c = queue.shift()) await check(...c);
    }));
    assert.ok(!existsSync(runs) || readdirSync(runs).length === 0, 'no empty run folder');
    // commander's own errors carry the same prefix (then its usage hint)
    for (const [args, message] of [[['distill', '--bogus'], /^diff-instruct: error: unknown option '--bogus'$/], [['distll'], /^diff-instruct: error: unknown command 'distll'$/]] as const) {
      const r = await cli([...args]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr.split('\n')[0], message);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
