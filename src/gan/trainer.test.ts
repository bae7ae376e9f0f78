/**
 * The GAN trainer at tiny scale on Wasm (Fashion-MNIST, tiny preset, batch 8):
 *  - exact resume: 4 steps, or 2 steps + resume + 2 steps, give the same per-tick D/G/R1 losses and a
 *    bit-identical final EMA generator (keys depend on (seed, step), the state holds both nets, both
 *    Adam states and the data order); frozen keys cannot change on resume;
 *  - the snapshot describes itself: `loadGenerator` / `loadNetwork` rebuild the GAN generator from the
 *    metadata alone and `generateImages` samples it (the `sample` command's path);
 *  - grids and stats land in the run folder; `maxMinutes` stops cleanly with a snapshot.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDevice, tree } from '@jax-js/jax';
import { initDevice } from '../platform/devices.js';
import { readSafetensors } from '../io/safetensors.js';
import { generateImages, loadNetwork } from '../teacher/generate.js';
import { GanConfig } from './config.js';
import { loadGenerator } from './load.js';
import { ganResumeConfig, trainGan } from './trainer.js';

const kimgPerStep = 8 / 1000;
const base = (outdir: string, o: Partial<GanConfig> = {}) =>
  GanConfig.parse({ arch: 'tiny', batch: 8, r1Interval: 2, tick: 2 * kimgPerStep, snap: 1, evalN: 0, gridSeeds: '0-9', outdir, lrG: 1e-3, lrD: 1e-3, ...o });

test('train-gan: 2 steps + resume + 2 steps = 4 steps exactly; the snapshot rebuilds and samples', { timeout: 300_000 }, async () => {
  await initDevice('wasm');
  defaultDevice('wasm');
  const dirA = mkdtempSync(join(tmpdir(), 'di-gan-a-')), dirB = mkdtempSync(join(tmpdir(), 'di-gan-b-'));
  try {
    const a = await trainGan(base(dirA, { duration: 4 * kimgPerStep }), { echo: false, device: 'wasm: test' });
    const b1 = await trainGan(base(dirB, { duration: 2 * kimgPerStep }), { echo: false });
    assert.equal(b1.steps, 2);
    assert.throws(() => ganResumeConfig(b1.runDir, { r1Gamma: 5 }), /'r1Gamma' cannot change when resuming/);
    const b2 = await trainGan(ganResumeConfig(b1.runDir, { duration: 4 * kimgPerStep }), { echo: false });
    assert.equal(a.steps, 4);
    assert.equal(b2.steps, 4);
    assert.equal(b2.runDir, b1.runDir);
    assert.deepEqual([...b1.ticks, ...b2.ticks], a.ticks);
    assert.ok(a.ticks.every((t) => Number.isFinite(t.dLoss) && Number.isFinite(t.gLoss) && t.r1 > 0), JSON.stringify(a.ticks));
    const ta = readSafetensors(a.snapshots.at(-1)!), tb = readSafetensors(b2.snapshots.at(-1)!);
    for (const k of Object.keys(ta.tensors)) assert.deepEqual(tb.tensors[k].data, ta.tensors[k].data, k);

    // Self-describing snapshot.
    assert.match(a.snapshots.at(-1)!, /generator-snapshot-000000\.032\.safetensors$/);
    const meta = JSON.parse(ta.metadata.diff_instruct);
    assert.deepEqual([meta.format, meta.kind, meta.generator, meta.zDim, meta.labelDim, meta.dataset, meta.step], ['diff-instruct/gan-generator@1', 'generator', 'dcgan', 16, 10, 'fashion-mnist', 4]);
    assert.deepEqual(meta.netConfig.gChannels, [16, 8, 8]);
    assert.equal(meta.config.arch, 'tiny');
    const g = await loadGenerator(a.snapshots.at(-1)!);
    assert.deepEqual([g.model.kind, g.model.latentShape, g.model.outputShape], ['dcgan', [16], [1, 28, 28]]);
    tree.dispose(g.params);
    const net = await loadNetwork(a.snapshots.at(-1)!);
    const x = await generateImages(net, [0, 1, 2], { classes: 3 });
    assert.deepEqual(x.shape, [3, 1, 28, 28]);
    assert.ok(((await x.data()) as Float32Array).every((v) => v >= -1 && v <= 1));
    tree.dispose(net.params);

    // Run folder: grids, stats, state with both nets and both optimizers.
    const files = readdirSync(a.runDir);
    for (const f of ['fakes-000000.png', 'stats.jsonl', 'log.txt', 'training_options.json', 'training-state-000000.032.safetensors']) assert.ok(files.includes(f), f);
    const rows = readFileSync(join(a.runDir, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.filter((r) => r.kind === 'tick').length, 2);
    for (const k of ['dLoss', 'gLoss', 'r1', 'dReal', 'dFake', 'imagesPerSec', 'liveBuffers']) assert.ok(k in rows[0], k);
    const st = readSafetensors(a.statePath);
    for (const k of ['g.map.weight', 'gema.map.weight', 'd.fc.weight', 'gopt.adam.m.out.weight', 'dopt.adam.v.embed.weight', 'gopt.adam.count', 'dopt.adam.count']) assert.ok(k in st.tensors, k);
    assert.deepEqual(JSON.parse(st.metadata.diff_instruct).batcher.pos, 32);
  } finally {
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  }
});

test('train-gan: maxMinutes stops before the first step with a snapshot and a state', { timeout: 120_000 }, async () => {
  await initDevice('wasm');
  defaultDevice('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'di-gan-c-'));
  try {
    const r = await trainGan(base(dir, { duration: 1, maxMinutes: 1e-9, gridSeeds: '' }), { echo: false });
    assert.equal(r.stoppedEarly, 'max-minutes');
    assert.equal(r.steps, 0);
    assert.ok(existsSync(r.snapshots[0]) && existsSync(r.statePath));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('configs/gan-*.json are valid train-gan / refine configs', async () => {
  const { readdirSync: ls } = await import('node:fs');
  const { parseConfig } = await import('../config/config.js');
  const { RefineConfig } = await import('../distill/setup-refine.js');
  const dir = fileURLToPath(new URL('../../configs/', import.meta.url));
  const files = ls(dir).filter((f) => /^gan-.*\.json$/.test(f));
  assert.ok(files.includes('gan-small.json') && files.includes('gan-base.json') && files.includes('gan-refine.json'), files.join(', '));
  for (const f of files) {
    const raw = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const cfg = f === 'gan-refine.json' ? parseConfig(RefineConfig, raw, f) : parseConfig(GanConfig, raw, f);
    assert.ok(cfg, f);
  }
  const small = parseConfig(GanConfig, JSON.parse(readFileSync(join(dir, 'gan-small.json'), 'utf8')));
  const base = parseConfig(GanConfig, JSON.parse(readFileSync(join(dir, 'gan-base.json'), 'utf8')));
  assert.notEqual(small.arch, base.arch, 'two different GANs');
});
