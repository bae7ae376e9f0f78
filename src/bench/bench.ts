/**
 * `diff-instruct bench`: throughput of the standard U-Net on the current device, batch 128 by default:
 * (1) teacher training step (the trainer's own jitted step: loss, gradients, Adam, guard, EMA), (2) full Diff-Instruct iteration (one fake-score + one generator step),
 * (3) sampling, one step versus Heun 35 NFE, (4) time to the first step (compilation), (5) a per-kernel
 * profile of one teacher step, (6) with `phases`, the teacher step cut after each component (loss forward;
 * + backward and ‖g‖; + Adam; + guard; + EMA), each timed and profiled, so the differences attribute
 * wall time, kernel time and kernel count to each component. Warm-up excluded, median of repeats; every timed step ends with a read
 * of its result (jax-js is lazy: unrealised work would not be timed).
 */
import { jit, numpy as np, random, tree } from '@jax-js/jax';
import { cpus, hostname } from 'node:os';
import { precondition, type Denoiser } from '../edm/precond.js';
import { karrasSigmas } from '../edm/schedule.js';
import { edmSample } from '../edm/sampler.js';
import { oneHot, oneStepGenerator, type Params } from '../distill/generator.js';
import { makeSteps } from '../distill/steps.js';
import { songUNetConfig, type SongUNetPreset } from '../nets/song-unet.js';
import { edmPresetSpec, isEdmPreset, type EdmPreset } from '../nets/edm-presets.js';
import { teacherNet, type NetSpec } from '../teacher/net.js';
import { adamInit } from '../train/adam.js';
import { makeTeacherStep, type TeacherStepStage } from '../teacher/trainer.js';
import { keyForSeed } from '../random/seeds.js';
import type { DeviceInfo } from '../platform/devices.js';
import { profileKernels, type Profile } from './profile.js';

export interface BenchOptions {
  /** A 28×28×1 SongUNet preset, or one of EDM's (edm-cifar10: 32×32×3 DDPM++; edm-imagenet64: ADM). */
  preset: SongUNetPreset | EdmPreset;
  batch: number;
  repeats: number;
  labelDim: number;
  /** Which parts to run. */
  parts: ('teacher' | 'distill' | 'sample' | 'profile' | 'phases')[];
}

export interface BenchResult {
  date: string;
  device: DeviceInfo;
  host: { hostname: string; cpus: number; cpuModel: string };
  config: BenchOptions & { params: number };
  teacherStep?: { firstStepMs: number; medianMs: number; imagesPerSec: number; samplesMs: number[] };
  distillIteration?: { firstStepMs: number; medianMs: number; imagesPerSec: number; samplesMs: number[] };
  sampling?: { oneStep: { medianMs: number; imagesPerSec: number }; heun35: { medianMs: number; imagesPerSec: number } };
  profile?: Profile & { wallMs: number };
  /** The teacher step cut after each component (cumulative), in order. */
  phases?: { stage: TeacherStepStage; medianMs: number; kernels: number; gpuMs: number; profiledWallMs: number }[];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function timeIt(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

export async function runBench(o: BenchOptions, device: DeviceInfo, log: (s: string) => void = () => {}): Promise<BenchResult> {
  const spec: NetSpec = isEdmPreset(o.preset) ? edmPresetSpec(o.preset, o.labelDim) : { net: 'song-unet', netConfig: songUNetConfig(o.preset, { imgResolution: 28, channels: 1, labelDim: o.labelDim }) };
  const tn = teacherNet(spec);
  const shape = tn.dataShape;
  const net = tn.raw;
  const D: Denoiser = precondition('edm', net, { sigmaData: 0.5 });
  const B = o.batch;
  const params = tn.init(random.key(0));
  const x = random.uniform(random.key(1), [B, ...shape]).mul(2).sub(1);
  const labels = o.labelDim ? oneHot(random.randint(random.key(2), { minval: 0, maxval: o.labelDim, shape: [B] }), o.labelDim) : null;
  const result: BenchResult = {
    date: new Date().toISOString(),
    device,
    host: { hostname: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '' },
    config: { ...o, params: Object.values(tn.shapes).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0) },
  };
  const adam = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

  /** A teacher step cut at `stage`, with its state; `one(i)` runs step i and waits for its loss. */
  const teacherRunner = (stage: TeacherStepStage) => {
    const step = makeTeacherStep(D, { adam, pMean: -1.2, pStd: 1.2, sigmaData: 0.5, stage });
    let s: any = { params: tree.ref(params), ema: tree.ref(params), opt: adamInit(tree.ref(params)) };
    return {
      one: async (i: number) => {
        const [ns, st] = step(s, x.ref, labels ? [labels.ref] : [], keyForSeed(i, 99), np.array(1), np.array(0.999));
        s = ns;
        await st.loss.data();
        tree.dispose([st.gradNorm, st.finite]);
      },
      dispose: () => tree.dispose(s),
    };
  };
  const profiled = async (one: (i: number) => Promise<void>) => {
    let wall = 0;
    const prof = await profileKernels(async () => {
      const t = performance.now();
      await one(1000);
      wall = performance.now() - t;
    });
    return { ...prof, wallMs: wall };
  };

  if (o.parts.includes('teacher') || o.parts.includes('profile')) {
    // The trainer's own step (src/teacher/trainer.ts): loss + grad + Adam + non-finite guard + EMA.
    const { one, dispose } = teacherRunner('full');
    const first = await timeIt(1, one);
    log(`teacher step: first (compile + run) ${first[0].toFixed(0)} ms`);
    if (o.parts.includes('teacher')) {
      await timeIt(2, one); // warm-up
      const ms = await timeIt(o.repeats, one);
      const med = median(ms);
      result.teacherStep = { firstStepMs: first[0], medianMs: med, imagesPerSec: (B / med) * 1000, samplesMs: ms };
      log(`teacher step: median ${med.toFixed(1)} ms = ${((B / med) * 1000).toFixed(0)} img/s`);
    }
    if (o.parts.includes('profile')) {
      const prof = await profiled(one);
      result.profile = { ...prof, classes: prof.classes.slice(0, 40) };
      log(`profile: ${prof.kernels} kernels, ${prof.gpuMs.toFixed(1)} ms kernel time in a ${prof.wallMs.toFixed(1)} ms step`);
    }
    dispose();
  }

  if (o.parts.includes('phases')) {
    result.phases = [];
    log('phases (cumulative): stage, median wall ms, kernels, kernel ms');
    for (const stage of ['loss', 'grad', 'adam', 'guard', 'full'] as TeacherStepStage[]) {
      const { one, dispose } = teacherRunner(stage);
      await timeIt(3, one); // compile + warm-up
      const med = median(await timeIt(o.repeats, one));
      const prof = await profiled(one);
      dispose();
      result.phases.push({ stage, medianMs: med, kernels: prof.kernels, gpuMs: prof.gpuMs, profiledWallMs: prof.wallMs });
      log(`  ${stage.padEnd(6)} ${med.toFixed(1).padStart(7)} ms ${String(prof.kernels).padStart(6)} kernels ${prof.gpuMs.toFixed(1).padStart(7)} ms`);
    }
  }

  if (o.parts.includes('distill')) {
    const gen = oneStepGenerator(D, 2.5, shape, o.labelDim);
    const { fakeStep, genStep } = makeSteps(
      { teacher: D, fake: D, generator: gen },
      {
        batch: B,
        loss: { kind: 'ikl', weighting: 'reference', sigma: { kind: 'lognormal', pMean: -1.2, pStd: 1.2 }, sidAlpha: 1.2 },
        fakeLoss: { pMean: -1.2, pStd: 1.2, sigmaData: 0.5 },
        adamFake: { ...adam, beta1: 0 },
        adamGen: { ...adam, beta1: 0 },
        clipFake: 0,
        clipGen: 0,
        dropout: true,
      },
    );
    let fake = { phi: tree.ref(params), opt: adamInit(tree.ref(params)) };
    let g = { theta: tree.ref(params), ema: tree.ref(params), opt: adamInit(tree.ref(params)) };
    const one = async (i: number) => {
      const [nf, sf] = fakeStep(fake, tree.ref(g.theta), keyForSeed(i, 7), np.array(1));
      fake = nf;
      const [ng, sg] = genStep(g, tree.ref(fake.phi), tree.ref(params), keyForSeed(i, 8), np.array(1), np.array(0.999));
      g = ng;
      await sf.loss.data();
      await sg.loss.data();
      tree.dispose([sf.gradNorm, sf.finite, sg.gradNorm, sg.finite]);
    };
    const first = await timeIt(1, one);
    await timeIt(2, one);
    const ms = await timeIt(o.repeats, one);
    const med = median(ms);
    result.distillIteration = { firstStepMs: first[0], medianMs: med, imagesPerSec: (B / med) * 1000, samplesMs: ms };
    log(`distill iteration (1 fake + 1 generator step): median ${med.toFixed(1)} ms = ${((B / med) * 1000).toFixed(0)} generator img/s`);
    tree.dispose([fake, g]);
  }

  if (o.parts.includes('sample')) {
    const gen = oneStepGenerator(D, 2.5, shape, o.labelDim);
    const apply = jit((p: Params, z: np.Array, l: np.Array) => gen.apply(p, z, o.labelDim ? l : (l.dispose(), null)));
    const lab = () => (labels ? labels.ref : np.zeros([B, 1]));
    const oneStep = async (i: number) => {
      await apply(tree.ref(params), gen.sampleLatent(keyForSeed(i, 5), B), lab()).data();
    };
    await timeIt(3, oneStep);
    const ms1 = await timeIt(o.repeats, oneStep);
    const sigmas = karrasSigmas(18);
    const heun = async (i: number) => {
      const out = await edmSample(D, tree.ref(params), random.normal(keyForSeed(i, 6), [B, ...shape]), sigmas, labels ? labels.ref : null, { solver: 'heun' });
      await out.data();
    };
    await timeIt(1, heun);
    const msH = await timeIt(Math.max(2, Math.ceil(o.repeats / 4)), heun);
    result.sampling = {
      oneStep: { medianMs: median(ms1), imagesPerSec: (B / median(ms1)) * 1000 },
      heun35: { medianMs: median(msH), imagesPerSec: (B / median(msH)) * 1000 },
    };
    log(`sampling: one step ${median(ms1).toFixed(1)} ms (${((B / median(ms1)) * 1000).toFixed(0)} img/s), Heun 35 NFE ${median(msH).toFixed(0)} ms (${((B / median(msH)) * 1000).toFixed(0)} img/s)`);
  }
  tree.dispose([params, x, labels]);
  return result;
}
