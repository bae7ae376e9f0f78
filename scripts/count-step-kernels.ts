/**
 * Kernels per jitted training step on WebGPU, counted by the step executor (src/engine/executor.ts), with
 * params held as trees (the stock way, as `bench` runs them) and held flat (the trainers' way:
 * src/train/flat-params.ts): the fmnist-small teacher step, one Diff-Instruct iteration (fake-score step +
 * generator step, fmnist-small teacher as both denoisers), and one GAN iteration (D step + G step, gan-small
 * DCGAN). Batch 2 by default. Prints one JSON line per count. A first call compiles; the count is of the
 * second call.
 *
 *   EGL_PLATFORM=surfaceless npx tsx scripts/count-step-kernels.ts [teacher,distill,gan] [batch] [--classes]
 *
 * `--classes` also prints each counted program's kernels by class (map/reduce sizes, routines), most
 * dispatches first.
 *
 * On llvmpipe our conv kernels are off unless DI_CUSTOM_KERNELS=1 (they are on on GPUs): run both.
 */
import '../src/platform/node.js';
import { defaultDevice, numpy as np, random, tree } from '@jax-js/jax';
import { initBackend } from '../src/platform/devices.js';
import { executorStats, lastPlanCensus } from '../src/engine/executor.js';
import { customKernelsEnabled } from '../src/engine/custom-kernels.js';
import { precondition } from '../src/edm/precond.js';
import { initSongUNet, songUNet, songUNetConfig } from '../src/nets/song-unet.js';
import type { Params } from '../src/nets/layers.js';
import { makeTeacherStep } from '../src/teacher/trainer.js';
import { makeSteps } from '../src/distill/steps.js';
import { oneStepGenerator } from '../src/distill/generator.js';
import { DistillConfig } from '../src/distill/config.js';
import { stepOptionsOf } from '../src/distill/options.js';
import { makeGanSteps } from '../src/gan/steps.js';
import { GAN_PRESETS } from '../src/gan/config.js';
import { dcganDiscriminator, initDcganDiscriminator, initDcganGenerator, type DcganConfig } from '../src/gan/dcgan.js';
import { dcganGeneratorModel } from '../src/gan/generator.js';
import { adamInit } from '../src/train/adam.js';
import { flatParams, treeLayout, type Stored } from '../src/train/flat-params.js';
import { keyForSeed } from '../src/random/seeds.js';

const args = process.argv.slice(2).filter((a) => a !== '--classes');
const classes = process.argv.includes('--classes');
const parts = (args[0] ?? 'teacher,distill,gan').split(',');
const B = Number(args[1] ?? 2);
if (!(await initBackend('webgpu'))) throw new Error('count-step-kernels: no WebGPU adapter here');
defaultDevice('webgpu');
const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const engine = { customKernels: customKernelsEnabled() };

/** Kernels dispatched while `fn` runs and its results are read. */
async function count(fn: () => Promise<void>): Promise<number> {
  const d0 = executorStats().dispatches;
  await fn();
  if (classes) console.log(JSON.stringify({ classes: lastPlanCensus() }));
  return executorStats().dispatches - d0;
}
const report = (what: string, form: string, kernels: Record<string, number>) => console.log(JSON.stringify({ what, form, batch: B, ...kernels, engine }));
const read = async (xs: np.Array[]) => {
  for (const x of xs) await x.data();
};

const cfg = songUNetConfig('fmnist-small', { imgResolution: 28, channels: 1, labelDim: 10 });
const D = precondition('edm', (p: Params, x: np.Array, c: np.Array, l: np.Array | null, o?: object) => songUNet(cfg, p, x, c, l, o as any), { sigmaData: 0.5 });
const params = initSongUNet(random.key(0), cfg);
const layout = treeLayout(params);
const labels = () => np.eye(10).slice([0, B]);

for (const flat of [false, true]) {
  const form = flat ? 'flat' : 'tree';
  const p0 = (): Stored<Params> => (flat ? flatParams(tree.ref(params)) : tree.ref(params));
  if (parts.includes('teacher')) {
    const step = makeTeacherStep<Stored<Params>>(D, { adam, pMean: -1.2, pStd: 1.2, sigmaData: 0.5, layout: flat ? layout : undefined });
    const p = p0();
    let s = { params: tree.ref(p), ema: p, opt: adamInit(tree.ref(p)) };
    const x = random.uniform(random.key(1), [B, 1, 28, 28]).mul(2).sub(1);
    let k = 0;
    for (let i = 0; i < 2; i++) {
      k = await count(async () => {
        const [ns, st] = step(s, x.ref, [labels()], keyForSeed(i, 99), np.array(1), np.array(0.9));
        s = ns;
        await read([st.loss, st.gradNorm, st.finite]);
      });
    }
    report('teacher step (fmnist-small)', form, { kernels: k });
    tree.dispose([s, x]);
    step.dispose();
  }
  if (parts.includes('distill')) {
    const { fakeStep, genStep } = makeSteps<Stored<Params>>(
      { teacher: D, fake: D, generator: oneStepGenerator(D, 2.5, [1, 28, 28], 10) },
      stepOptionsOf(DistillConfig.parse({ batch: B })), // the shipped defaults: IKL, Adam, dropout
      flat ? { theta: layout, phi: layout } : undefined,
    );
    const p = p0();
    let fake = { phi: tree.ref(p), opt: adamInit(tree.ref(p)) };
    let gen = { theta: tree.ref(p), ema: p, opt: adamInit(tree.ref(p)) };
    const k = { fake: 0, gen: 0 };
    for (let i = 0; i < 2; i++) {
      k.fake = await count(async () => {
        const [nf, sf] = fakeStep(fake, tree.ref(gen.theta), keyForSeed(i, 7), np.array(1));
        fake = nf;
        await read([sf.loss, sf.gradNorm, sf.finite]);
      });
      k.gen = await count(async () => {
        const [ng, sg] = genStep(gen, tree.ref(fake.phi), tree.ref(params), keyForSeed(i, 8), np.array(1), np.array(0.999));
        gen = ng;
        await read([sg.loss, sg.gradNorm, sg.finite]);
      });
    }
    report('Diff-Instruct iteration (fmnist-small)', form, { ...k, kernels: k.fake + k.gen });
    tree.dispose([fake, gen]);
    fakeStep.dispose();
    genStep.dispose();
  }
  if (parts.includes('gan')) {
    const c: DcganConfig = { ...GAN_PRESETS['gan-small'], labelDim: 10, channels: 1, resolution: 28, norm: 'group' };
    const g0 = initDcganGenerator(random.key(1), c), d0 = initDcganDiscriminator(random.key(2), c);
    const layouts = { g: treeLayout(g0), d: treeLayout(d0) };
    const steps = makeGanSteps<Stored<Params>>(
      { generator: dcganGeneratorModel(c), discriminator: (p, x, l) => dcganDiscriminator(c, p, x, l) },
      { batch: B, r1Gamma: 0, r1Interval: 16, adamG: adam, adamD: adam },
      flat ? layouts : undefined,
    );
    const gp: Stored<Params> = flat ? flatParams(g0) : g0;
    const dp: Stored<Params> = flat ? flatParams(d0) : d0;
    let gs = { g: tree.ref(gp), ema: gp, opt: adamInit(tree.ref(gp)) };
    let ds = { d: dp, opt: adamInit(tree.ref(dp)) };
    const x = random.uniform(random.key(5), [B, 1, 28, 28]).mul(2).sub(1);
    const k = { d: 0, g: 0 };
    for (let i = 0; i < 2; i++) {
      k.d = await count(async () => {
        const [nd, sd] = steps.dStep(ds, tree.ref(gs.g), x.ref, [labels()], keyForSeed(i, 3), []);
        ds = nd;
        await read([sd.loss, sd.r1, sd.realLogit, sd.fakeLogit, sd.gradNorm, sd.finite]);
      });
      k.g = await count(async () => {
        const [ng, sg] = steps.gStep(gs, tree.ref(ds.d), keyForSeed(i, 4), np.array(0.9));
        gs = ng;
        await read([sg.loss, sg.gradNorm, sg.finite]);
      });
    }
    report('GAN iteration (gan-small, no R1)', form, { ...k, kernels: k.d + k.g });
    tree.dispose([gs, ds, x]);
    for (const f of [steps.dStep, steps.dStepR1, steps.gStep, steps.r1GradJit]) f?.dispose();
  }
}
tree.dispose(params);
