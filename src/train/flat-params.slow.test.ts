/**
 * Params kept flat in the training states (./flat-params.ts) against params kept as trees, for the
 * Diff-Instruct phases (src/distill/steps.ts) and the GAN phases with lazy R1 (src/gan/steps.ts): losses,
 * params, EMA and Adam moments bit-identical after a few iterations, on every backend; on WebGPU the flat
 * steps run fewer kernels, counted by the executor. (The teacher step's check is flat-params.test.ts;
 * the distill and GAN trainers' resume tests run the flat path in the main suite.)
 */
import '../platform/node.js';
import { numpy as np, random, tree } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { testOnBackends } from '../testing/backends.js';
import { hex, tinyTeacher } from '../testing/tiny-nets.js';
import { executorStats } from '../engine/executor.js';
import type { Params } from '../nets/layers.js';
import { keyForSeed } from '../random/seeds.js';
import { makeSteps } from '../distill/steps.js';
import { oneStepGenerator } from '../distill/generator.js';
import { DistillConfig } from '../distill/config.js';
import { stepOptionsOf } from '../distill/options.js';
import { makeGanSteps } from '../gan/steps.js';
import { GAN_PRESETS } from '../gan/config.js';
import { dcganDiscriminator, initDcganDiscriminator, initDcganGenerator, type DcganConfig } from '../gan/dcgan.js';
import { dcganGeneratorModel } from '../gan/generator.js';
import { adamInit } from './adam.js';
import { flatParams, paramTree, treeLayout, type Stored } from './flat-params.js';
import { leafNames } from './tree.js';

/** Two Diff-Instruct iterations (fake-score step, generator step with EMA) on a tiny SongUNet, states flat or trees. */
async function distillRun(flat: boolean, iters: number) {
  const { D, params } = tinyTeacher();
  const layout = treeLayout(params);
  const { fakeStep, genStep } = makeSteps<Stored<Params>>(
    { teacher: D, fake: D, generator: oneStepGenerator(D, 2.5, [1, 8, 8], 3) },
    stepOptionsOf(DistillConfig.parse({ batch: 3, clipFake: 1, clipGen: 1 })), // the shipped defaults (IKL), clipping on
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
