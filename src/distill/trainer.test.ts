/**
 * The distillation trainer end to end, on Wasm at tiny scale:
 *  - exact resume: N steps, or N/2 steps + `--resume` + N/2 steps, give the same tick losses and a
 *    bit-identical final EMA generator (keys depend only on (seed, step), state holds Adam moments);
 *  - the paper's image setting wired through: a (random, tiny) SongUNet teacher file → one-step
 *    generator snapshot that `loadNetwork` reads back as a generator and samples at σ_init.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { random, tree } from '@jax-js/jax';
import { initDevice } from '../platform/devices.js';
import { parseConfig } from '../config/config.js';
import { readSafetensors } from '../io/safetensors.js';
import { saveParams } from '../io/params.js';
import { initSongUNet, songUNetConfig } from '../nets/song-unet.js';
import { generateImages, loadNetwork } from '../teacher/generate.js';
import { TEACHER_FORMAT } from '../teacher/load.js';
import { DistillConfig } from './config.js';
import { buildSetup } from './build.js';
import { disposeSetup, resumeDistillConfig, runDistill } from './trainer.js';

const ticks = (run: string) =>
  readFileSync(join(run, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'tick');

async function distill(over: Record<string, unknown> | DistillConfig) {
  const cfg = parseConfig(DistillConfig, over);
  const setup = await buildSetup(cfg);
  try {
    return await runDistill(cfg, setup, { echo: false });
  } finally {
    disposeSetup(setup);
  }
}

test('distill: stop halfway and --resume reproduces the uninterrupted run exactly', { timeout: 600_000 }, async () => {
  await initDevice('wasm');
  const out = mkdtempSync(join(tmpdir(), 'di-resume-'));
  const base = { teacher: 'toy:ring8', batch: 32, tick: 0.064, snap: 1000, evalN: 0, mlpWidth: 16, mlpDepth: 2, fakeWarmup: 3, lrGen: 1e-3, lrFake: 1e-3, sigmaData: 1, dropout: false, outdir: out, emaHalfLife: 0.1, gridSeeds: '0-3' };
  const full = await distill({ ...base, duration: 0.256, desc: 'full' }); // 8 generator steps, 4 ticks
  const half = await distill({ ...base, duration: 0.128, desc: 'half' }); // 4 steps, then resume to 8
  // As `distill --resume <run> --duration 0.256`: the run's saved config, with only the length changed.
  assert.throws(() => resumeDistillConfig(half.runDir, { duration: 0.256, lrGen: 0.5 }), /^Error: resume: 'lrGen' cannot change when resuming \(run has 0.001, got 0.5\)$/);
  const resumed = await distill(resumeDistillConfig(half.runDir, { duration: 0.256 }));
  assert.equal(full.genSteps, 8);
  assert.equal(resumed.genSteps, 8);
  const a = ticks(full.runDir), b = ticks(half.runDir); // the resumed run appends to the same stats.jsonl
  assert.equal(a.length, 4);
  assert.equal(b.length, 4);
  for (let i = 0; i < 4; i++) {
    assert.equal(b[i].fakeLoss, a[i].fakeLoss, `tick ${i} fake loss`);
    assert.equal(b[i].genLoss, a[i].genLoss, `tick ${i} generator loss`);
  }
  const snap = (r: string) => readSafetensors(readdirSync(r).filter((f) => f.startsWith('generator-snapshot')).sort().map((f) => join(r, f)).at(-1)!).tensors;
  const sa = snap(full.runDir), sb = snap(resumed.runDir);
  for (const k of Object.keys(sa)) assert.deepEqual(sb[k].data, sa[k].data, `EMA generator tensor ${k}`);
});

test('distill: --resume from an older state moves the later history aside; the rerun writes the same weights, no row twice', { timeout: 600_000 }, async () => {
  await initDevice('wasm');
  const out = mkdtempSync(join(tmpdir(), 'di-rewind-'));
  const base = { teacher: 'toy:ring8', batch: 32, tick: 0.064, snap: 1, evalN: 0, mlpWidth: 16, mlpDepth: 2, fakeWarmup: 3, lrGen: 1e-3, lrFake: 1e-3, sigmaData: 1, dropout: false, outdir: out, emaHalfLife: 0.1, gridSeeds: '0-3', desc: 'rw' };
  const first = await distill({ ...base, duration: 0.256 }); // snapshots and states at 0.064 … 0.256 kimg
  const later = 'generator-snapshot-000000.256.safetensors';
  const before = readFileSync(join(first.runDir, later));
  const weights = (f: string) => Object.entries(readSafetensors(f).tensors).map(([k, t]) => [k, Array.from(t.data as Float32Array)]);
  const beforeWeights = weights(join(first.runDir, later));
  const resumed = await distill(resumeDistillConfig(join(first.runDir, 'training-state-000000.128.safetensors'), { duration: 0.256 }));
  assert.equal(resumed.genSteps, 8);
  const aside = join(first.runDir, 'superseded-0');
  for (const f of ['generator-snapshot-000000.192.safetensors', later, 'training-state-000000.256.safetensors', 'fakes-000000.256.png']) {
    assert.ok(readdirSync(aside).includes(f), `${f} moved aside`);
  }
  assert.deepEqual(readFileSync(join(aside, later)), before, 'the superseded snapshot is kept as it was');
  // the same weights (the metadata differs: its config records the resume)
  assert.deepEqual(weights(join(first.runDir, later)), beforeWeights, 'the resumed run rewrites the same weights');
  const rows = ticks(first.runDir);
  assert.deepEqual(rows.map((r) => r.tick), [0, 1, 2, 3], 'each tick once');
  assert.deepEqual(rows.map((r) => r.step), [2, 4, 6, 8]);
  assert.equal(ticks(aside).length, 2, 'the two superseded tick rows are kept aside');
});

test('distill: an EDM teacher file becomes a one-step generator checkpoint that samples', { timeout: 600_000 }, async () => {
  await initDevice('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'di-img-'));
  const netConfig = songUNetConfig('tiny', { imgResolution: 28, channels: 1, labelDim: 10 });
  const params = initSongUNet(random.key(3), netConfig);
  const teacherPath = join(dir, 'teacher.safetensors');
  await saveParams(teacherPath, params, { format: TEACHER_FORMAT, kind: 'teacher', net: 'song-unet', netConfig, precond: 'edm', sigmaData: 0.5, dataset: 'fashion-mnist' });
  tree.dispose(params);
  const r = await distill({ teacher: teacherPath, batch: 4, duration: 0.008, tick: 0.004, snap: 1000, evalN: 0, gridSeeds: '0-9', outdir: dir, lrGen: 1e-4, lrFake: 1e-4 });
  assert.equal(r.genSteps, 2);
  const gen = await loadNetwork(r.snapshots.at(-1)!);
  assert.equal(gen.kind, 'generator');
  assert.equal(gen.meta.sigmaInit, 2.5);
  const x = await generateImages(gen, [0, 1, 2], { classes: 4 });
  assert.deepEqual(x.shape, [3, 1, 28, 28]);
  const v = (await x.data()) as Float32Array;
  assert.ok(v.every(Number.isFinite), 'generator output is finite');
  tree.dispose(gen.params);
  assert.ok(readdirSync(r.runDir).some((f) => f.startsWith('fakes-')), 'a sample grid was written');
});

test('distill: one metrics row per evaluated kimg: a stop that lands on a snapshot, resuming a finished run, resuming with a shorter duration', { timeout: 600_000 }, async () => {
  await initDevice('wasm');
  const out = mkdtempSync(join(tmpdir(), 'di-rows-'));
  const base = { teacher: 'toy:ring8', batch: 32, tick: 0.064, snap: 2, evalN: 64, mlpWidth: 16, mlpDepth: 2, fakeWarmup: 3, lrGen: 1e-3, lrFake: 1e-3, sigmaData: 1, dropout: false, outdir: out, emaHalfLife: 0.1, gridSeeds: '0-3', duration: 0.512 };
  const rows = (run: string) => readFileSync(join(run, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const once = (run: string) => {
    const keys = rows(run).map((r) => `${r.kind}@${r.step}`);
    assert.deepEqual(keys, [...new Set(keys)], `no row twice in ${run}/stats.jsonl`);
  };
  // 1. the stop (as Ctrl-C) arrives while the snapshot of step 4 evaluates: that snapshot is the last one
  const ac = new AbortController();
  const cfg = parseConfig(DistillConfig, { ...base, desc: 'stop' });
  const setup = await buildSetup(cfg);
  const evaluate = setup.evaluate!;
  let calls = 0;
  setup.evaluate = async (ema, n) => {
    if (++calls === 2) ac.abort(); // call 1: the initial generator; call 2: the snapshot after tick 1
    return evaluate(ema, n);
  };
  let stopped;
  try {
    stopped = await runDistill(cfg, setup, { echo: false, signal: ac.signal });
  } finally {
    disposeSetup(setup);
  }
  assert.equal(stopped.stopReason, 'interrupted');
  assert.equal(stopped.genSteps, 4);
  assert.deepEqual(rows(stopped.runDir).filter((r) => r.kind === 'metrics').map((r) => r.step), [0, 4]);
  once(stopped.runDir);
  // 2. resumed to the end, then resumed again although finished: nothing new
  const done = await distill(resumeDistillConfig(stopped.runDir));
  assert.equal(done.genSteps, 16);
  assert.deepEqual(rows(done.runDir).filter((r) => r.kind === 'metrics').map((r) => r.step), [0, 4, 8, 12, 16]);
  const before = readFileSync(join(done.runDir, 'stats.jsonl'), 'utf8');
  const again = await distill(resumeDistillConfig(done.runDir));
  assert.equal(again.genSteps, 16);
  assert.equal(again.stopReason, '');
  assert.equal(readFileSync(join(done.runDir, 'stats.jsonl'), 'utf8'), before, 'resuming a finished run appends nothing');
  // 3. resumed with a shorter duration: nothing new either
  const shorter = await distill(resumeDistillConfig(done.runDir, { duration: 0.256 }));
  assert.equal(shorter.genSteps, 16);
  assert.equal(readFileSync(join(done.runDir, 'stats.jsonl'), 'utf8'), before, 'resuming with a shorter duration appends nothing');
  assert.match(readFileSync(join(done.runDir, 'log.txt'), 'utf8'), /nothing to run: the run is at 0\.512 kimg, duration 0\.256 kimg/);
  once(done.runDir);
});

test('distill: a tick whose every generator step was skipped (non-finite) stops the run with the reason', { timeout: 600_000 }, async () => {
  await initDevice('wasm');
  const out = mkdtempSync(join(tmpdir(), 'di-skip-'));
  // lrGen 1e38: the first update sends the generator's weights to ±Inf, so every later loss is NaN
  const cfg = { teacher: 'toy:ring8', batch: 32, tick: 0.064, snap: 1000, evalN: 0, mlpWidth: 16, mlpDepth: 2, fakeWarmup: 3, lrGen: 1e38, lrFake: 1e-3, sigmaData: 1, dropout: false, outdir: out, emaHalfLife: 0.1, gridSeeds: '0-3', duration: 0.512 };
  await assert.rejects(distill(cfg), /^Error: tick 1: every generator step \(2 of 2\) was skipped, its loss was NaN or ±Inf every time: training cannot go on/);
  const run = join(out, readdirSync(out)[0]);
  assert.equal(ticks(run).length, 2, 'the skipped tick is logged, then the run stops');
  assert.match(readFileSync(join(run, 'log.txt'), 'utf8'), /Stopped by an error: tick 1: every generator step/);
});
