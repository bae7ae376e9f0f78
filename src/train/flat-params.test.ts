/**
 * Params kept flat in the training state (./flat-params.ts) against params kept as a tree: a teacher step
 * on a tiny SongUNet gives bit-identical losses, params, EMA and Adam moments after several steps (the same
 * arithmetic per element, only the kernels' grouping changes), on every backend; on WebGPU the flat step
 * runs far fewer kernels (Adam and the EMA one kernel each, not one per leaf), counted by the executor.
 */
import '../platform/node.js';
import { numpy as np, random, tree } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testOnBackends } from '../testing/backends.js';
import { executorStats } from '../engine/executor.js';
import { precondition } from '../edm/precond.js';
import { initSongUNet, songUNet, songUNetConfig } from '../nets/song-unet.js';
import type { Params } from '../nets/layers.js';
import { makeTeacherStep } from '../teacher/trainer.js';
import { makeSteps } from '../distill/steps.js';
import { oneStepGenerator } from '../distill/generator.js';
import { makeGanSteps } from '../gan/steps.js';
import { GAN_PRESETS } from '../gan/config.js';
import { dcganDiscriminator, initDcganDiscriminator, initDcganGenerator, type DcganConfig } from '../gan/dcgan.js';
import { dcganGeneratorModel } from '../gan/generator.js';
import { keyForSeed } from '../random/seeds.js';
import { adamInit } from './adam.js';
import { flatParams, isFlat, paramTree, treeLayout, type Stored } from './flat-params.js';
import { concatLeaves, leafNames } from './tree.js';

const hex = async (x: np.Array) => Buffer.from(((await x.data()) as Float32Array).buffer).toString('hex');

/** A tiny conditional SongUNet denoiser (8×8, 3 classes) and its initial params. */
function tinyTeacher() {
  const cfg = songUNetConfig('tiny', { imgResolution: 8, channels: 1, labelDim: 3 });
  const D = precondition('edm', (p, x, c, l, o) => songUNet(cfg, p, x, c, l, o), { sigmaData: 0.5 });
  return { D, params: initSongUNet(random.key(0), cfg) };
}

/** `steps` teacher steps of a tiny conditional SongUNet, params held flat or as a tree; losses, final state as hex, kernels per step. */
async function teacherRun(flat: boolean, steps: number) {
  const { D, params } = tinyTeacher();
  const layout = treeLayout(params);
  const step = makeTeacherStep<Stored<Params>>(D, { adam: { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, pMean: -1.2, pStd: 1.2, sigmaData: 0.5, layout: flat ? layout : undefined });
  const x = random.uniform(random.key(1), [3, 1, 8, 8]).mul(2).sub(1);
  const labels = np.eye(3);
  const p0: Stored<Params> = flat ? flatParams(params) : params;
  let s = { params: tree.ref(p0), ema: p0, opt: adamInit(tree.ref(p0)) };
  const losses: number[] = [];
  let kernels = 0;
  for (let i = 0; i < steps; i++) {
    const d0 = executorStats().dispatches;
    const [ns, st] = step(s, x.ref, [labels.ref], keyForSeed(i, 7), np.array(1), np.array(0.8));
    s = ns;
    tree.dispose([st.gradNorm, st.finite]);
    losses.push(((await st.loss.data()) as Float32Array)[0]);
    kernels = executorStats().dispatches - d0;
  }
  step.dispose();
  assert.equal(isFlat(s.params), flat);
  // compare as trees (the flat padding is zero and stays zero: checked below)
  const asTree = (p: Stored<Params>) => paramTree<Params>(p, layout);
  const out = { params: asTree(tree.ref(s.params)), ema: asTree(tree.ref(s.ema)), m: s.opt.m.ref, v: s.opt.v.ref };
  const names = leafNames(out.params);
  const result = {
    losses,
    kernels,
    params: await Promise.all(names.map((k) => hex(out.params[k].ref))),
    ema: await Promise.all(names.map((k) => hex(out.ema[k].ref))),
    m: await hex(out.m.ref),
    v: await hex(out.v.ref),
    pad: flat ? Array.from(((await (s.params as np.Array).ref.slice([layout.offsets.at(-1)! + layout.sizes.at(-1)!]).data()) as Float32Array)) : [],
    leaves: names.length,
  };
  tree.dispose([out, s, x, labels]);
  return result;
}

testOnBackends('a teacher step with params and EMA held flat is bit-identical to one with trees', async (backend) => {
  const ref = await teacherRun(false, 4);
  const got = await teacherRun(true, 4);
  assert.ok(ref.losses.every(Number.isFinite));
  assert.deepEqual(got.losses, ref.losses);
  assert.deepEqual(got.params, ref.params, 'params after 4 steps');
  assert.deepEqual(got.ema, ref.ema, 'EMA after 4 steps');
  assert.equal(got.m, ref.m, 'Adam m');
  assert.equal(got.v, ref.v, 'Adam v');
  assert.ok(got.pad.length > 0 && got.pad.every((v) => v === 0), 'the flat padding stays zero');
  if (backend === 'webgpu') {
    // Adam's per-leaf kernels and the EMA's become one each: at least one kernel per leaf fewer, net of
    // the copies routines (convs) make of their weights' views. Measured on llvmpipe (2026-12-07): see below.
    assert.ok(ref.kernels > 0, 'the executor counted the steps');
    assert.ok(got.kernels <= ref.kernels - ref.leaves, `flat step ${got.kernels} kernels, tree step ${ref.kernels}, ${ref.leaves} leaves`);
    console.log(`teacher step kernels (tiny SongUNet, batch 3): tree ${ref.kernels}, flat ${got.kernels}`);
  }
});

/** Two Diff-Instruct iterations (fake-score step, generator step with EMA) on a tiny SongUNet, states flat or trees. */
async function distillRun(flat: boolean, iters: number) {
  const { D, params } = tinyTeacher();
  const layout = treeLayout(params);
  const { fakeStep, genStep } = makeSteps<Stored<Params>>(
    { teacher: D, fake: D, generator: oneStepGenerator(D, 2.5, [1, 8, 8], 3) },
    {
      batch: 3,
      loss: { kind: 'ikl', weighting: 'reference', sigma: { kind: 'lognormal', pMean: -1.2, pStd: 1.2 }, sidAlpha: 1.2 },
      fakeLoss: { pMean: -1.2, pStd: 1.2, sigmaData: 0.5 },
      adamFake: { lr: 1e-2, beta1: 0, beta2: 0.999, eps: 1e-8 },
      adamGen: { lr: 1e-2, beta1: 0, beta2: 0.999, eps: 1e-8 },
      clipFake: 1,
      clipGen: 1,
      dropout: false,
    },
    flat ? { theta: layout, phi: layout } : undefined,
  );
  const p0: Stored<Params> = flat ? flatParams(tree.ref(params)) : tree.ref(params);
  let fake = { phi: tree.ref(p0), opt: adamInit(tree.ref(p0)) };
  let gen = { theta: tree.ref(p0), ema: p0, opt: adamInit(tree.ref(p0)) };
  const losses: number[] = [];
  const kernels = { fake: 0, gen: 0 };
  for (let i = 0; i < iters; i++) {
    let d0 = executorStats().dispatches;
    const [nf, sf] = fakeStep(fake, tree.ref(gen.theta), keyForSeed(i, 7), np.array(1));
    fake = nf;
    losses.push(((await sf.loss.data()) as Float32Array)[0]);
    kernels.fake = executorStats().dispatches - d0;
    d0 = executorStats().dispatches;
    const [ng, sg] = genStep(gen, tree.ref(fake.phi), tree.ref(params), keyForSeed(i, 8), np.array(1), np.array(0.9));
    gen = ng;
    losses.push(((await sg.loss.data()) as Float32Array)[0]);
    kernels.gen = executorStats().dispatches - d0;
    tree.dispose([sf.gradNorm, sf.finite, sg.gradNorm, sg.finite]);
  }
  fakeStep.dispose();
  genStep.dispose();
  const asTree = (p: Stored<Params>) => paramTree<Params>(p, layout);
  const names = leafNames(params);
  const out = { theta: asTree(gen.theta), ema: asTree(gen.ema), phi: asTree(fake.phi) };
  const hexes = async (t: Params) => Promise.all(names.map((k) => hex(t[k].ref)));
  const result = { losses, kernels, theta: await hexes(out.theta), ema: await hexes(out.ema), phi: await hexes(out.phi), m: [await hex(gen.opt.m.ref), await hex(fake.opt.m.ref)] };
  tree.dispose([out, gen.opt, fake.opt, params]);
  return result;
}

testOnBackends('Diff-Instruct steps with flat states are bit-identical to steps with trees', async (backend) => {
  const ref = await distillRun(false, 2);
  const got = await distillRun(true, 2);
  assert.ok(ref.losses.every(Number.isFinite));
  assert.deepEqual(got.losses, ref.losses);
  for (const k of ['theta', 'ema', 'phi', 'm'] as const) assert.deepEqual(got[k], ref[k], k);
  if (backend === 'webgpu') {
    console.log(`Diff-Instruct kernels (tiny SongUNet, batch 3): tree fake ${ref.kernels.fake} + gen ${ref.kernels.gen}, flat ${got.kernels.fake} + ${got.kernels.gen}`);
    assert.ok(got.kernels.fake < ref.kernels.fake && got.kernels.gen < ref.kernels.gen, JSON.stringify({ ref: ref.kernels, got: got.kernels }));
  }
});

/** Two GAN iterations (lazy-R1 D step, then plain D steps, each followed by a G step with EMA), states flat or trees. */
async function ganRun(flat: boolean, iters: number) {
  const c: DcganConfig = { ...GAN_PRESETS.tiny, labelDim: 10, channels: 1, resolution: 28, norm: 'group' };
  const g0 = initDcganGenerator(random.key(1), c), d0 = initDcganDiscriminator(random.key(2), c);
  const layouts = { g: treeLayout(g0), d: treeLayout(d0) };
  const gNames = leafNames(g0), dNames = leafNames(d0);
  const adam = { lr: 2e-3, beta1: 0, beta2: 0.99, eps: 1e-8 };
  const steps = makeGanSteps<Stored<Params>>(
    { generator: dcganGeneratorModel(c), discriminator: (p, x, l) => dcganDiscriminator(c, p, x, l), discriminatorR1: (p, x, l) => dcganDiscriminator(c, p, x, l, { conv: 'lax' }) },
    { batch: 2, r1Gamma: 1, r1Interval: 2, adamG: adam, adamD: adam },
    flat ? layouts : undefined,
  );
  const gp: Stored<Params> = flat ? flatParams(g0) : g0;
  const dp: Stored<Params> = flat ? flatParams(d0) : d0;
  let gs = { g: tree.ref(gp), ema: gp, opt: adamInit(tree.ref(gp)) };
  let ds = { d: dp, opt: adamInit(tree.ref(dp)) };
  const x = random.uniform(random.key(5), [2, 1, 28, 28]).mul(2).sub(1);
  const y = np.eye(10).slice([3, 5]);
  const losses: number[] = [];
  const kernels = { d: 0, g: 0 };
  for (let i = 0; i < iters; i++) {
    const r1Step = i === 0;
    const r1 = r1Step ? [steps.r1Grad(tree.ref(ds.d), x.ref, [y.ref])] : [];
    let k0 = executorStats().dispatches;
    const [nd, sd] = (r1Step ? steps.dStepR1! : steps.dStep)(ds, tree.ref(gs.g), x.ref, [y.ref], keyForSeed(i, 3), r1);
    ds = nd;
    losses.push(((await sd.loss.data()) as Float32Array)[0]);
    if (!r1Step) kernels.d = executorStats().dispatches - k0;
    k0 = executorStats().dispatches;
    const [ng, sg] = steps.gStep(gs, tree.ref(ds.d), keyForSeed(i, 4), np.array(0.9));
    gs = ng;
    losses.push(((await sg.loss.data()) as Float32Array)[0]);
    kernels.g = executorStats().dispatches - k0;
    tree.dispose([sd.r1, sd.realLogit, sd.fakeLogit, sd.gradNorm, sd.finite, sg.gradNorm, sg.finite]);
  }
  for (const f of [steps.dStep, steps.dStepR1, steps.gStep, steps.r1GradJit]) f?.dispose();
  const out = { g: paramTree<Params>(gs.g, layouts.g), ema: paramTree<Params>(gs.ema, layouts.g), d: paramTree<Params>(ds.d, layouts.d) };
  const hexes = async (t: Params, names: string[]) => Promise.all(names.map((k) => hex(t[k].ref)));
  const result = { losses, kernels, g: await hexes(out.g, gNames), ema: await hexes(out.ema, gNames), d: await hexes(out.d, dNames), m: [await hex(gs.opt.m.ref), await hex(ds.opt.m.ref)] };
  tree.dispose([out, gs.opt, ds.opt, x, y]);
  return result;
}

testOnBackends('GAN steps (with lazy R1) with flat states are bit-identical to steps with trees', async (backend) => {
  const ref = await ganRun(false, 3);
  const got = await ganRun(true, 3);
  assert.ok(ref.losses.every(Number.isFinite));
  assert.deepEqual(got.losses, ref.losses);
  for (const k of ['g', 'ema', 'd', 'm'] as const) assert.deepEqual(got[k], ref[k], k);
  if (backend === 'webgpu') {
    console.log(`GAN kernels (tiny DCGAN, batch 2): tree D ${ref.kernels.d} + G ${ref.kernels.g}, flat ${got.kernels.d} + ${got.kernels.g}`);
    // D's Adam kernels saved are spent again on copies of its conv weights (measured 241 both ways); G also has its EMA
    assert.ok(got.kernels.d <= ref.kernels.d && got.kernels.g < ref.kernels.g, JSON.stringify({ ref: ref.kernels, got: got.kernels }));
  }
});

test('paramTree: a flat vector needs its layout (one-line error); a tree passes through', () => {
  const t = { a: np.ones([2, 3]), b: np.zeros([4]) };
  const layout = treeLayout(t);
  const flat = concatLeaves(tree.ref(t));
  assert.throws(() => paramTree(flat.ref, undefined), /held flat, but the step was built without its tree layout/);
  const back = paramTree<typeof t>(flat, layout);
  assert.deepEqual(back.a.shape, [2, 3]);
  assert.deepEqual(back.b.shape, [4]);
  assert.equal(paramTree(t, undefined), t);
  tree.dispose([back, t]);
});
