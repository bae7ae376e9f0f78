/**
 * `diff-instruct bench`: throughput of the standard U-Net on the current device, batch 128 by default:
 * (1) teacher training step (the trainer's own jitted step: loss, gradients, Adam, guard, EMA), (2) full Diff-Instruct iteration (one fake-score + one generator step),
 * (3) sampling, one step versus Heun 35 NFE, (4) time to the first step (compilation), (5) a per-kernel
 * profile of one teacher step, (6) with `phases`, the teacher step cut after each component (loss forward;
 * + backward and ‖g‖; + Adam; + guard; + EMA), each timed and profiled, so the differences attribute
 * wall time, kernel time and kernel count to each component. Warm-up excluded, median of repeats; every timed step ends with a read
 * of its result (jax-js is lazy: unrealised work would not be timed).
 */
import { defaultDevice, jit, numpy as np, random, tree } from '@jax-js/jax';
import { cpus, hostname } from 'node:os';
import { precondition, type Denoiser } from '../edm/precond.js';
import { karrasSigmas } from '../edm/schedule.js';
import { edmSample } from '../edm/sampler.js';
import { oneHot, oneStepGenerator, type Params } from '../distill/generator.js';
import { makeSteps } from '../distill/steps.js';
import { songUNetConfig, type SongUNetPreset } from '../nets/song-unet.js';
import { edmPresetSpec, isEdmPreset, type EdmPreset } from '../nets/edm-presets.js';
import { teacherNet, type NetSpec } from '../teacher/net.js';
import { adamInit, type AdamState } from '../train/adam.js';
import { flatParams, treeLayout } from '../train/flat-params.js';
import { makeTeacherStep, type TeacherStepStage } from '../teacher/trainer.js';
import { keyForSeed } from '../random/seeds.js';
import { stepsInFlight, type DeviceInfo } from '../platform/devices.js';
import { profileKernels, type Profile } from './profile.js';
import { reduceSplitMinIterations } from '../engine/reduce-split.js';
import { eagerSubmitEnabled, executorEnabled, executorStats, gpuTimingSettled, lastPlanCensus, setExecutor, setGpuTiming } from '../engine/executor.js';
import { convKernelPath, customKernelsEnabled } from '../engine/custom-kernels.js';

export interface BenchOptions {
  /** A 28×28×1 SongUNet preset, or one of EDM's (edm-cifar10: 32×32×3 DDPM++; edm-imagenet64: ADM). */
  preset: SongUNetPreset | EdmPreset;
  batch: number;
  repeats: number;
  labelDim: number;
  /** Which parts to run. */
  parts: ('teacher' | 'distill' | 'sample' | 'profile' | 'phases' | 'verify')[];
}

export interface BenchResult {
  date: string;
  device: DeviceInfo;
  host: { hostname: string; cpus: number; cpuModel: string };
  config: BenchOptions & { params: number };
  /**
   * What ran the steps: the step executor (src/engine/executor.ts) or jax-js's stock dispatch, and our
   * conv kernels (src/engine/custom-kernels.ts) or jax-js's generic ones; reduceSplitMin: the loop length
   * from which few-output reductions are split (src/engine/reduce-split.ts; WebGPU); viewReads / recompute:
   * jax-js's splitting patches 'view-reads' and 'recompute' on (WebGPU; DI_VIEW_READS, DI_RECOMPUTE).
   */
  engine: { executor: boolean; eagerSubmit: boolean; customKernels: boolean; convKernels: 'stock' | 'f32' | 'f16'; reduceSplitMin: number; viewReads: boolean; recompute: boolean };
  teacherStep?: Timed;
  distillIteration?: Timed;
  sampling?: { oneStep: { medianMs: number; imagesPerSec: number }; heun35: { medianMs: number; imagesPerSec: number } };
  profile?: Profile & { wallMs: number };
  /**
   * The executor against the stock path on this device: the same teacher steps from the same state,
   * max |Δ| of the losses and of every parameter after them (0 when every kernel ran the same).
   */
  verify?: { steps: number; lossesExecutor: number[]; lossesStock: number[]; maxLossDiff: number; maxParamDiff: number };
  /** The teacher step cut after each component (cumulative), in order. */
  phases?: { stage: TeacherStepStage; medianMs: number; kernels: number; gpuMs: number; profiledWallMs: number }[];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** A timed step: wall times, and per step the host's CPU time, kernels and GPU time. */
interface Timed {
  firstStepMs: number;
  medianMs: number;
  imagesPerSec: number;
  samplesMs: number[];
  /** CPU time of the whole process (all threads: JS, Dawn) per step, over the timed steps. */
  cpuMsPerStep: number;
  /** Kernel dispatches per step (executor: counted while encoding; stock path: from the kernel profile). */
  kernelsPerStep: number | null;
  /** Executor only: host ms per step spent encoding and submitting the recorded passes. */
  encodeMsPerStep: number | null;
  /** Executor only: of `encodeMsPerStep`, ms in `encoder.finish()` and `queue.submit` (Dawn's backend recording and submitting). */
  submitMsPerStep: number | null;
  /** Executor only: the kernels of the step's last program by class, most dispatches first (the Diff-Instruct iteration: its generator step). */
  kernelClasses: { kind: string; kernels: number; dispatches: number }[] | null;
  /** Executor only: compute passes per step (one per submitted chunk, plus one after each kernel that clears its outputs). */
  passesPerStep: number | null;
  /** GPU time per step: executor, timestamp queries around its passes; stock path, the sum of its kernels' times. */
  gpuMsPerStep: number | null;
  /** ms per step with steps issued back to back, as many unread as the trainers leave (`stepsInFlight()`; null: not measured). */
  pipelinedMs: number | null;
  /**
   * Host ms to issue one step (the synchronous part of the step's call: jax-js's jit dispatch and, with
   * eager submission, encoding and submitting every kernel), from the pipelined run (null: not measured).
   */
  issueMsPerStep: number | null;
}

/**
 * ms per step of `n` steps issued back to back, as many left unread as the trainers leave on this
 * device (`stepsInFlight()`: 4 on WebGPU, 0 on Wasm); `launch(i)` issues step i and returns a promise
 * of its result having been read.
 */
async function timePipelined(n: number, launch: (i: number) => Promise<void>): Promise<{ ms: number; issueMs: number }> {
  const inFlight = stepsInFlight();
  const t = performance.now();
  const queue: Promise<void>[] = [];
  let issue = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    queue.push(launch(i));
    issue += performance.now() - t0;
    if (queue.length > inFlight) await queue.shift();
  }
  await Promise.all(queue);
  return { ms: (performance.now() - t) / n, issueMs: issue / n };
}

/**
 * Times `repeats` calls of `one` (a step, waited for) after warm-up, with CPU time, kernel counts and
 * (separately) GPU time; with `launch`, also the pipelined ms per step.
 */
async function timeStep(one: (i: number) => Promise<void>, firstStepMs: number, repeats: number, B: number, launch?: (i: number) => Promise<void>): Promise<Timed> {
  await timeIt(2, one); // warm-up
  const s0 = executorStats();
  const c0 = process.cpuUsage();
  const ms = await timeIt(repeats, one);
  const c1 = process.cpuUsage(c0);
  const s1 = executorStats();
  const med = median(ms);
  const ex = executorEnabled() && defaultDevice() === 'webgpu';
  let kernels: number | null = ex ? (s1.dispatches - s0.dispatches) / repeats : null;
  let gpu: number | null = null;
  if (ex) {
    // GPU time of a few more steps, timed on the device (timestamp queries around each recorded pass)
    const n = Math.min(repeats, 5);
    setGpuTiming(true);
    const g0 = executorStats();
    await timeIt(n, one);
    await gpuTimingSettled();
    setGpuTiming(false);
    const g1 = executorStats();
    if (g1.gpuTimedCalls > g0.gpuTimedCalls) gpu = (g1.gpuMs - g0.gpuMs) / n;
  } else {
    const prof = await profileKernels(() => one(10_000));
    kernels = prof.kernels;
    gpu = prof.kernels > 0 ? prof.gpuMs : null;
  }
  const piped = launch ? await timePipelined(Math.max(repeats, 8), launch) : null;
  return {
    firstStepMs,
    medianMs: med,
    pipelinedMs: piped?.ms ?? null,
    issueMsPerStep: piped?.issueMs ?? null,
    imagesPerSec: (B / med) * 1000,
    samplesMs: ms,
    cpuMsPerStep: (c1.user + c1.system) / 1000 / repeats,
    kernelsPerStep: kernels,
    encodeMsPerStep: ex ? (s1.encodeMs - s0.encodeMs) / repeats : null,
    submitMsPerStep: ex ? (s1.submitMs - s0.submitMs) / repeats : null,
    passesPerStep: ex ? (s1.passes - s0.passes) / repeats : null,
    gpuMsPerStep: gpu,
    kernelClasses: ex ? lastPlanCensus() : null,
  };
}

const fmtTimed = (t: Timed) =>
  `median ${t.medianMs.toFixed(1)} ms` + (t.pipelinedMs !== null ? ` (pipelined ${t.pipelinedMs.toFixed(1)} ms)` : '') + `; ${t.kernelsPerStep?.toFixed(0) ?? '?'} kernels, CPU ${t.cpuMsPerStep.toFixed(1)} ms` +
  (t.encodeMsPerStep !== null ? ` (encode ${t.encodeMsPerStep.toFixed(1)} ms, of which submit ${t.submitMsPerStep!.toFixed(1)}; ${t.passesPerStep!.toFixed(0)} passes)` : '') +
  (t.issueMsPerStep !== null ? `, issue ${t.issueMsPerStep.toFixed(1)} ms` : '') +
  `, GPU ${t.gpuMsPerStep?.toFixed(1) ?? '?'} ms per step`;

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
  const layout = treeLayout(params);
  const x = random.uniform(random.key(1), [B, ...shape]).mul(2).sub(1);
  const labels = o.labelDim ? oneHot(random.randint(random.key(2), { minval: 0, maxval: o.labelDim, shape: [B] }), o.labelDim) : null;
  const result: BenchResult = {
    date: new Date().toISOString(),
    device,
    host: { hostname: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '' },
    config: { ...o, params: Object.values(tn.shapes).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0) },
    engine: { executor: executorEnabled(), eagerSubmit: executorEnabled() && eagerSubmitEnabled(), customKernels: customKernelsEnabled(), convKernels: convKernelPath(), reduceSplitMin: reduceSplitMinIterations(), viewReads: process.env.DI_VIEW_READS !== '0', recompute: process.env.DI_RECOMPUTE !== '0' },
  };
  const adam = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

  /** A teacher step cut at `stage`, with its state; `one(i)` runs step i and waits for its loss. */
  const teacherRunner = (stage: TeacherStepStage) => {
    // as the trainer runs it: params and EMA held flat (src/train/flat-params.ts)
    const step = makeTeacherStep(D, { adam, pMean: -1.2, pStd: 1.2, sigmaData: 0.5, stage, layout });
    let s: any = { params: flatParams(tree.ref(params)), ema: flatParams(tree.ref(params)), opt: adamInit(tree.ref(params)) };
    /** Runs step i and returns its loss. */
    const stepOnce = async (i: number) => {
      const [ns, st] = step(s, x.ref, labels ? [labels.ref] : [], keyForSeed(i, 99), np.array(1), np.array(0.999));
      s = ns;
      tree.dispose([st.gradNorm, st.finite]);
      return ((await st.loss.data()) as Float32Array)[0];
    };
    /** Issues step i; the promise resolves once its loss has been read. */
    const launch = (i: number) => {
      const [ns, st] = step(s, x.ref, labels ? [labels.ref] : [], keyForSeed(i, 99), np.array(1), np.array(0.999));
      s = ns;
      tree.dispose([st.gradNorm, st.finite]);
      return st.loss.data().then(() => {});
    };
    return {
      one: async (i: number) => void (await stepOnce(i)),
      launch,
      step: stepOnce,
      /** The state; `state(null)` disposes it. */
      state: (clear?: null) => (clear === null ? (tree.dispose(s), (s = null)) : s),
      dispose: () => tree.dispose(s),
    };
  };
  // jax-js's tracer sees only its own dispatches: profiles run the step on the stock path (same kernels)
  const profiled = async (one: (i: number) => Promise<void>) => {
    let wall = 0;
    const prev = setExecutor(false);
    try {
      const prof = await profileKernels(async () => {
        const t = performance.now();
        await one(1000);
        wall = performance.now() - t;
      });
      return { ...prof, wallMs: wall };
    } finally {
      setExecutor(prev);
    }
  };

  if (o.parts.includes('teacher') || o.parts.includes('profile')) {
    // The trainer's own step (src/teacher/trainer.ts): loss + grad + Adam + non-finite guard + EMA.
    const { one, launch, dispose } = teacherRunner('full');
    const first = await timeIt(1, one);
    log(`teacher step: first (compile + run) ${first[0].toFixed(0)} ms`);
    if (o.parts.includes('teacher')) {
      const t = (result.teacherStep = await timeStep(one, first[0], o.repeats, B, launch));
      log(`teacher step: ${fmtTimed(t)} = ${t.imagesPerSec.toFixed(0)} img/s`);
    }
    if (o.parts.includes('profile')) {
      const prof = await profiled(one);
      result.profile = { ...prof, classes: prof.classes.slice(0, 40) };
      log(`profile: ${prof.kernels} kernels, ${prof.gpuMs.toFixed(1)} ms kernel time in a ${prof.wallMs.toFixed(1)} ms step`);
    }
    dispose();
  }

  if (o.parts.includes('verify')) {
    const steps = 3;
    const run = async (on: boolean) => {
      const prev = setExecutor(on);
      try {
        const { step, state } = teacherRunner('full');
        const losses: number[] = [];
        for (let i = 0; i < steps; i++) losses.push(await step(i));
        const values = [(await state().params.ref.data()) as Float32Array];
        state(null);
        return { losses, values };
      } finally {
        setExecutor(prev);
      }
    };
    const a = await run(true);
    const b = await run(false);
    let maxParamDiff = 0;
    a.values.forEach((v, i) => v.forEach((x, j) => (maxParamDiff = Math.max(maxParamDiff, Math.abs(x - b.values[i][j])))));
    const maxLossDiff = Math.max(...a.losses.map((l, i) => Math.abs(l - b.losses[i])));
    result.verify = { steps, lossesExecutor: a.losses, lossesStock: b.losses, maxLossDiff, maxParamDiff };
    log(`verify: executor vs stock, ${steps} teacher steps: max |Δloss| ${maxLossDiff}, max |Δparam| ${maxParamDiff}`);
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
    const { fakeStep, genStep } = makeSteps<np.Array>(
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
      { theta: layout, phi: layout },
    );
    /** Adam's state for the flat params (the same flat moments; typed for the flat vector). */
    const flatAdam = (): AdamState<np.Array> => {
      const { m, v, count } = adamInit(tree.ref(params));
      return { m, v, count };
    };
    let fake = { phi: flatParams(tree.ref(params)), opt: flatAdam() };
    let g = { theta: flatParams(tree.ref(params)), ema: flatParams(tree.ref(params)), opt: flatAdam() };
    /** Issues iteration i (fake-score step, then generator step); resolves once both losses are read. */
    const launch = (i: number) => {
      const [nf, sf] = fakeStep(fake, tree.ref(g.theta), keyForSeed(i, 7), np.array(1));
      fake = nf;
      const [ng, sg] = genStep(g, tree.ref(fake.phi), tree.ref(params), keyForSeed(i, 8), np.array(1), np.array(0.999));
      g = ng;
      tree.dispose([sf.gradNorm, sf.finite, sg.gradNorm, sg.finite]);
      return Promise.all([sf.loss.data(), sg.loss.data()]).then(() => {});
    };
    const one = (i: number) => launch(i);
    const first = await timeIt(1, one);
    const t = (result.distillIteration = await timeStep(one, first[0], o.repeats, B, launch));
    log(`distill iteration (1 fake + 1 generator step): ${fmtTimed(t)} = ${t.imagesPerSec.toFixed(0)} generator img/s`);
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
