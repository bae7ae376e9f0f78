/**
 * IKL versus KL on misaligned supports, and SDS as Diff-Instruct's Dirac case (Luo et al. 2023, §3:
 * "IKL is robust to misaligned supports"; docs/ikl-vs-kl.md). For each pair `start:target` of 2-D toys
 * the generator starts on `start` and the teacher is the exact denoiser of `target`; then the same
 * trainer (src/distill/trainer.ts) runs three generator losses from the same starting samples:
 *  - ikl: Diff-Instruct, σ ~ loguniform[σ_min, σ_max] (the integral of KLs of diffused distributions),
 *  - kl:  the same loss at one small σ (sigmaDist fixed): plain KL, up to a σ-sized blur,
 *  - sds: the Dirac generator (free particles) with the IKL σ distribution.
 * The MLP generator is put on `start` by an MMD fit (prefit.ts); the SDS particles are that fitted
 * generator's first `batch` samples, so all three methods start from the same cloud.
 * Outputs: `<out>/study2d-<pair>-samples.png` (rows = methods, columns = training steps),
 * `<out>/study2d-<pair>-curves.svg` (MMD, sliced Wasserstein, modes covered, spread vs step) and
 * `<out>/study2d-summary.json` (every number behind the figures).
 */
import { numpy as np, tree } from '@jax-js/jax';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from 'fast-png';
import { z } from 'zod';
import { TOYS, toyModes } from '../data/toy2d.js';
import { DistillConfig } from '../distill/config.js';
import type { GeneratorModel, Params } from '../distill/generator.js';
import { setupToy, type DistillSetup } from '../distill/setup.js';
import { runDistill } from '../distill/trainer.js';
import { makeDirs, writeFileAtomic } from '../io/atomic.js';
import { GENERATOR_COLOR, scatterPng, TEACHER_COLOR } from '../io/scatter.js';
import { keyForSeed } from '../random/seeds.js';
import { prefitGenerator, PREFIT_DEFAULTS } from './prefit.js';
import { spreadStats, teacherSpread } from './spread.js';
import { linePlotsSvg, type Panel } from '../io/svg-plot.js';

export const STUDY_METHODS = ['ikl', 'kl', 'sds'] as const;
export type StudyMethod = (typeof STUDY_METHODS)[number];

export const Study2dConfig = z.object({
  pairs: z.array(z.string()).default(['left-blob:right-blob', 'ring8-shifted:ring8']).describe('start:target toy pairs (generator starts on start; teacher = target, a Gaussian-mixture toy)'),
  methods: z.array(z.enum(STUDY_METHODS)).default([...STUDY_METHODS]).describe('generator losses to compare: ikl (loguniform σ), kl (one small σ), sds (particles)'),
  steps: z.number().int().positive().default(1000).describe('generator steps per method (same budget for all)'),
  seed: z.number().int().min(0).default(0).describe('seed of the generator init, prefit and training keys'),
  outdir: z.string().default('study2d').describe('folder for the figures and study2d-summary.json'),
  batch: z.number().int().positive().default(128).describe('samples per step (also the number of SDS particles)'),
  evalEvery: z.number().int().positive().default(25).describe('generator steps between metric points on the curves'),
  evalN: z.number().int().positive().default(1000).describe('generator samples per metric point (SDS: all particles)'),
  frames: z.number().int().min(2).default(4).describe('training steps pictured per method: 0, …, T/16, T/4, T (T = steps)'),
  sigmaMin: z.number().positive().default(0.01).describe('smallest σ of the IKL/SDS loguniform σ'),
  sigmaMax: z.number().positive().default(10).describe('largest σ of the IKL/SDS loguniform σ (must reach the distance between supports)'),
  klSigma: z.number().positive().default(0.02).describe('the single σ of the KL method (small: plain KL up to a σ blur)'),
  weighting: z.enum(['reference', 'score-uniform']).default('reference').describe('w(σ) on D_φ − D_p for all methods (reference: 1, as the paper\'s code)'),
  lrGen: z.number().positive().default(2e-3).describe('Adam learning rate of the MLP generator'),
  lrParticles: z.number().positive().default(5e-2).describe('Adam learning rate of the SDS particles (each coordinate moves ≲ lr per step)'),
  lrFake: z.number().positive().default(2e-3).describe('Adam learning rate of the fake score'),
  fakeSteps: z.number().int().positive().default(2).describe('fake-score steps per generator step (ikl, kl)'),
  fakeWarmup: z.number().int().min(0).default(300).describe('fake-score steps on the starting generator before training (ikl, kl)'),
  pMean: z.number().default(-0.5).describe('mean of ln σ of the fake score\'s denoising loss (covers both klSigma and the large σ of IKL)'),
  pStd: z.number().positive().default(2).describe('std of ln σ of the fake score\'s denoising loss'),
  sigmaData: z.number().positive().default(1).describe('σ_data of the fake score\'s EDM preconditioning (the toys span a few units)'),
  mlpWidth: z.number().int().positive().default(64).describe('hidden width of the MLP generator and fake score'),
  mlpDepth: z.number().int().positive().default(3).describe('hidden layers of the MLP generator and fake score'),
  prefitSteps: z.number().int().min(0).default(PREFIT_DEFAULTS.steps).describe('Adam steps of the MMD fit that puts the generator on the start support'),
  runs: z.string().default('').describe('keep the trainer\'s run folders here (default: a temporary folder, deleted)'),
});
export type Study2dConfig = z.infer<typeof Study2dConfig>;

/** One metric point of one method. */
export type MetricRow = { step: number } & Record<string, number>;

export interface MethodResult {
  method: StudyMethod;
  generator: string;
  history: MetricRow[];
  frames: { step: number; points: Float32Array }[];
  seconds: number;
}

export interface PairResult {
  start: string;
  target: string;
  /** Last prefit loss (MMD² without its constant) and the prefit generator's metrics against `start` and `target`. */
  prefit: { loss: number; vsStart: Record<string, number>; vsTarget: Record<string, number> };
  /** Teacher samples against teacher samples: the metrics' noise floor at `evalN`. */
  teacherFloor: Record<string, number>;
  /** The teacher's own spread statistics (the value SDS should undershoot). */
  teacherSpread: { modeDist: number; spread: number };
  methods: MethodResult[];
}

/** Sample-set metrics against a toy (MMD, sliced Wasserstein, modes covered): src/metrics/toy2d.ts. */
export type ToyMetrics = (x: np.Array, toy: string) => Promise<Record<string, number>>;

export const METHOD_COLORS: Record<StudyMethod, string> = { ikl: '#1f77b4', kl: '#d62728', sds: '#2ca02c' };
export const METHOD_LABELS: Record<StudyMethod, string> = { ikl: 'IKL (loguniform σ)', kl: 'KL (one small σ)', sds: 'SDS (particles)' };

/** Parses `start:target`, checking both toys (target must have an exact score). */
export function parsePair(spec: string): { start: string; target: string } {
  const m = /^([A-Za-z0-9-]+):([A-Za-z0-9-]+)$/.exec(spec.trim());
  if (!m) throw new Error(`study2d: pair '${spec}' must look like start:target (e.g. left-blob:right-blob)`);
  const [, start, target] = m;
  for (const t of [start, target]) if (!Object.hasOwn(TOYS, t)) throw new Error(`study2d: unknown toy '${t}' in pair '${spec}': expected one of ${Object.keys(TOYS).join(', ')}`);
  if (!TOYS[target].mixture) throw new Error(`study2d: target '${target}' in pair '${spec}' has no exact score (only Gaussian-mixture toys can be teachers)`);
  return { start, target };
}

/** The trainer config of one method. */
export function methodConfig(cfg: Study2dConfig, method: StudyMethod, target: string, outdir: string): DistillConfig {
  const sds = method === 'sds';
  return DistillConfig.parse({
    teacher: `toy:${target}`,
    loss: sds ? 'sds' : 'ikl',
    weighting: cfg.weighting,
    sigmaDist: method === 'kl' ? 'fixed' : 'loguniform',
    sigmaMin: cfg.sigmaMin,
    sigmaMax: cfg.sigmaMax,
    sigmaFixed: cfg.klSigma,
    pMean: cfg.pMean,
    pStd: cfg.pStd,
    sigmaData: cfg.sigmaData,
    fakeSteps: sds ? 0 : cfg.fakeSteps,
    fakeWarmup: sds ? 0 : cfg.fakeWarmup,
    lrGen: sds ? cfg.lrParticles : cfg.lrGen,
    lrFake: cfg.lrFake,
    dropout: false,
    batch: cfg.batch,
    duration: (cfg.steps * cfg.batch) / 1000,
    // evaluate the raw generator: an EMA would only delay every curve alike
    emaHalfLife: 0,
    emaRampup: null,
    tick: (cfg.evalEvery * cfg.batch) / 1000,
    snap: 1,
    evalN: cfg.evalN,
    seed: cfg.seed,
    mlpWidth: cfg.mlpWidth,
    mlpDepth: cfg.mlpDepth,
    outdir,
    desc: `study2d-${target}-${method}`,
  });
}

/**
 * The steps pictured: 0, then T·4^−(F−2), …, T/4, T for F = `frames` and T = `steps` (quarter-spaced on
 * a log scale, so both the early transport and the late sharpening show), rounded to multiples of
 * `evalEvery` (where the trainer calls back).
 */
export function frameSteps(cfg: Pick<Study2dConfig, 'steps' | 'frames' | 'evalEvery'>): number[] {
  const out = new Set<number>([0, cfg.steps]);
  for (let i = 1; i < cfg.frames - 1; i++) {
    const s = cfg.steps / 4 ** (cfg.frames - 1 - i);
    out.add(Math.min(cfg.steps, Math.max(cfg.evalEvery, Math.round(s / cfg.evalEvery) * cfg.evalEvery)));
  }
  return [...out].sort((a, b) => a - b);
}

/** `n` samples of the generator at fixed latents (image seeds 0..n−1; particles: every particle). Consumes `theta`. */
async function cloud(gen: GeneratorModel, theta: Params, n: number): Promise<Float32Array> {
  const count = gen.kind === 'particles' ? gen.latentShape[0] : n;
  const zs = gen.latentForSeeds(Array.from({ length: count }, (_, i) => i));
  return (await gen.apply(theta, zs, null, { train: false }).data()) as Float32Array;
}

/** Samples of a toy from a fixed key, as host floats. */
async function toySamples(name: string, n: number, seed: number): Promise<Float32Array> {
  return (await TOYS[name].sample(keyForSeed(seed, 3), n).data()) as Float32Array;
}

const toArray = (p: Float32Array) => np.array(p, { shape: [p.length / 2, 2] });

/** Plot range [−r, r] covering both toys' samples with a margin. */
function rangeOf(...sets: Float32Array[]): [number, number] {
  let m = 0;
  for (const s of sets) for (const v of s) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  const r = Math.ceil(m * 1.05 + 0.2);
  return [-r, r];
}

/** The generator's starting point for one pair, shared by every method (the caller frees `theta`). */
export interface StudyStart {
  start: string;
  target: string;
  /** The MLP generator model (the same in every non-SDS method) and its MMD-fitted params. */
  generator: GeneratorModel;
  theta: Params;
  prefit: PairResult['prefit'];
}

/** Metrics of a cloud against the target toy plus its spread statistics. */
async function metricRow(metrics: ToyMetrics, target: string, points: Float32Array): Promise<Record<string, number>> {
  return { ...(await metrics(toArray(points), target)), ...spreadStats(points, toyModes(target)!.centers) };
}

/**
 * Puts the MLP generator on the pair's start support: the generator of the IKL setup (the same seed gives
 * the same init in every method), MMD-fitted to samples of `start` (prefit.ts).
 */
export async function prepareStart(cfg: Study2dConfig, spec: string, metrics: ToyMetrics, runsDir: string): Promise<StudyStart> {
  const { start, target } = parsePair(spec);
  const base = await setupToy(methodConfig(cfg, 'ikl', target, runsDir));
  tree.dispose(base.phi0);
  tree.dispose(base.teacherParams);
  const startToy = TOYS[start];
  const pre = await prefitGenerator(base.models.generator, base.theta0, (k, n) => startToy.sample(k, n), { ...PREFIT_DEFAULTS, steps: cfg.prefitSteps, seed: cfg.seed });
  const startCloud = await cloud(base.models.generator, tree.ref(pre.theta), cfg.evalN);
  const prefit = { loss: pre.loss, vsStart: await metrics(toArray(startCloud), start), vsTarget: await metricRow(metrics, target, startCloud) };
  return { start, target, generator: base.models.generator, theta: pre.theta, prefit };
}

/**
 * Trains one method from `st` with the distillation trainer and records its curves and pictured frames.
 * Borrows `st.theta`.
 */
export async function runMethod(cfg: Study2dConfig, st: StudyStart, method: StudyMethod, metrics: ToyMetrics, runsDir: string): Promise<MethodResult> {
  const t0 = Date.now();
  const wanted = frameSteps(cfg);
  const dcfg = methodConfig(cfg, method, st.target, runsDir);
  const setup: DistillSetup = await setupToy(dcfg);
  const gen = setup.models.generator;
  // start from the prefit generator (particles: its first `batch` samples)
  const theta0 = method === 'sds' ? { x: toArray(await cloud(st.generator, tree.ref(st.theta), cfg.batch)) } : tree.ref(st.theta);
  tree.dispose(setup.theta0);
  setup.theta0 = theta0;
  const frames: MethodResult['frames'] = [];
  const history: MetricRow[] = [{ step: 0, ...(await metricRow(metrics, st.target, await cloud(gen, tree.ref(theta0), cfg.evalN))) }];
  setup.evaluate = async (ema, n) => metricRow(metrics, st.target, await cloud(gen, ema, n));
  setup.drawGrid = async (ema, _run, kimg) => {
    const step = Math.round((kimg * 1000) / cfg.batch);
    if (wanted.includes(step) && !frames.some((f) => f.step === step)) frames.push({ step, points: await cloud(gen, ema, cfg.evalN) });
    else tree.dispose(ema);
  };
  try {
    const r = await runDistill(dcfg, setup, { echo: false, device: 'study2d' });
    for (const row of r.metrics) {
      const { kimg: _k, step, ...m } = row;
      history.push({ step, ...m } as MetricRow);
    }
  } finally {
    tree.dispose(setup.teacherParams);
  }
  return { method, generator: gen.kind, history, frames, seconds: (Date.now() - t0) / 1000 };
}

/** Runs one pair: the start, the teacher's noise floor, then every method. `log` receives progress lines. */
export async function runPair(cfg: Study2dConfig, spec: string, metrics: ToyMetrics, runsDir: string, log: (s: string) => void): Promise<PairResult> {
  const st = await prepareStart(cfg, spec, metrics, runsDir);
  const { start, target, prefit } = st;
  const modes = toyModes(target)!;
  log(`${spec}: prefit on ${start}: ${fmtRow(prefit.vsStart)}; against ${target}: ${fmtRow(prefit.vsTarget)}`);
  const teacherFloor = await metricRow(metrics, target, await toySamples(target, cfg.evalN, 1000 + cfg.seed));
  const methods: MethodResult[] = [];
  try {
    for (const method of cfg.methods) {
      const res = await runMethod(cfg, st, method, metrics, runsDir);
      methods.push(res);
      const last = res.history.at(-1)!;
      log(`${spec}: ${method} (${res.generator}) ${res.seconds.toFixed(0)}s, step ${last.step}: ${fmtRow(last)}`);
    }
  } finally {
    tree.dispose(st.theta);
  }
  return { start, target, prefit, teacherFloor, teacherSpread: teacherSpread(modes.std), methods };
}

function fmtRow(r: Record<string, number>): string {
  return Object.entries(r)
    .filter(([k]) => !['step', 'n', 'modesTotal'].includes(k))
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(3)}`)
    .join(', ');
}

const slug = (spec: string) => spec.replace(/[^A-Za-z0-9]+/g, '-');

/**
 * The sample montage of a pair as PNG bytes: one row per method, one column per pictured step; teacher
 * samples grey, generator samples red, cells separated by white lines.
 */
export async function montagePng(pair: PairResult, cfg: Study2dConfig, cell = 240): Promise<Uint8Array> {
  const teacher = await toySamples(pair.target, 2000, 12345);
  const startPts = await toySamples(pair.start, 2000, 12345);
  const range = rangeOf(teacher, startPts);
  const steps = frameSteps(cfg);
  const gap = 4;
  const rows = pair.methods.length, cols = steps.length;
  const W = cols * cell + (cols - 1) * gap, H = rows * cell + (rows - 1) * gap;
  const img = new Uint8Array(W * H * 3).fill(255);
  pair.methods.forEach((m, r) => {
    steps.forEach((s, c) => {
      const f = m.frames.find((fr) => fr.step === s);
      const png = decode(scatterPng([{ points: teacher, color: TEACHER_COLOR }, ...(f ? [{ points: f.points, color: GENERATOR_COLOR }] : [])], { range, size: cell }));
      const src = png.data as Uint8Array;
      const ch = png.channels;
      for (let y = 0; y < cell; y++) {
        for (let x = 0; x < cell; x++) {
          const o = ((r * (cell + gap) + y) * W + c * (cell + gap) + x) * 3;
          const i = (y * cell + x) * ch;
          img[o] = src[i];
          img[o + 1] = src[i + 1];
          img[o + 2] = src[i + 2];
        }
      }
    });
  });
  return encode({ width: W, height: H, data: img, channels: 3, depth: 8 });
}

const MMD_CLAMP = 1e-4;

/** The curves of a pair: MMD, sliced Wasserstein, modes covered and spread against steps, one line per method. */
export function curvesSvg(pair: PairResult): string {
  const series = (key: string) =>
    pair.methods.map((m) => ({ name: METHOD_LABELS[m.method], color: METHOD_COLORS[m.method], points: m.history.map((h) => [h.step, h[key]] as [number, number]) }));
  const keys = Object.keys(pair.methods[0]?.history[0] ?? {});
  const panels: Panel[] = [];
  const mmdKey = keys.find((k) => /^mmd/i.test(k));
  const swKey = keys.find((k) => /^(swd|sw|sliced)/i.test(k));
  const modeKey = keys.find((k) => /^modes/i.test(k));
  const floor = (k: string, label = 'teacher vs teacher') => [{ y: pair.teacherFloor[k], label }];
  // the unbiased MMD² estimate can dip below 0 near a perfect fit: clamp it for the log axis
  const clampMmd = (pts: [number, number][]) => pts.map(([x, y]) => [x, Math.max(y, MMD_CLAMP)] as [number, number]);
  if (mmdKey) {
    const s = series(mmdKey).map((v) => ({ ...v, points: clampMmd(v.points) }));
    panels.push({ title: 'MMD² to the teacher', xLabel: 'generator step', yLabel: `MMD² (clamped at ${MMD_CLAMP})`, series: s, logY: true, refs: [{ y: Math.max(pair.teacherFloor[mmdKey], MMD_CLAMP), label: 'teacher vs teacher' }] });
  }
  if (swKey) panels.push({ title: 'sliced Wasserstein', xLabel: 'generator step', yLabel: swKey, series: series(swKey), logY: true, refs: floor(swKey) });
  if (modeKey) {
    const K = toyModes(pair.target)!.centers.length;
    panels.push({ title: 'modes covered', xLabel: 'generator step', yLabel: `${modeKey} (of ${K})`, series: series(modeKey), yRange: [0, K + 0.5] });
  }
  panels.push({ title: 'spread within modes', xLabel: 'generator step', yLabel: 'RMS distance to cluster mean', series: series('spread'), logY: true, refs: [{ y: pair.teacherSpread.spread, label: 'teacher' }] });
  return linePlotsSvg(panels);
}

/** The whole study: every pair, then figures and the JSON summary under `cfg.outdir`. */
export async function runStudy2d(cfg: Study2dConfig, metrics: ToyMetrics, log: (s: string) => void = () => {}): Promise<{ pairs: PairResult[]; files: string[] }> {
  for (const p of cfg.pairs) parsePair(p);
  makeDirs(cfg.outdir);
  const runsDir = cfg.runs || mkdtempSync(join(tmpdir(), 'study2d-runs-'));
  const pairs: PairResult[] = [];
  const files: string[] = [];
  try {
    for (const spec of cfg.pairs) {
      const pair = await runPair(cfg, spec, metrics, runsDir, log);
      pairs.push(pair);
      const png = join(cfg.outdir, `study2d-${slug(spec)}-samples.png`);
      writeFileAtomic(png, await montagePng(pair, cfg));
      const svg = join(cfg.outdir, `study2d-${slug(spec)}-curves.svg`);
      writeFileAtomic(svg, curvesSvg(pair));
      files.push(png, svg);
    }
  } finally {
    if (!cfg.runs) rmSync(runsDir, { recursive: true, force: true });
  }
  const summary = join(cfg.outdir, 'study2d-summary.json');
  writeFileSync(summary, JSON.stringify(summarize(cfg, pairs), null, 1) + '\n');
  files.push(summary);
  return { pairs, files };
}

/** The JSON summary: config, and per pair and method the final metrics and the full curves (frames left out). */
export function summarize(cfg: Study2dConfig, pairs: PairResult[]) {
  const round = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number.isInteger(v) ? v : Number(v.toPrecision(4))]));
  return {
    format: 'diff-instruct/study2d@1',
    config: { ...cfg, runs: undefined },
    pairs: pairs.map((p) => ({
      pair: `${p.start}:${p.target}`,
      prefit: { loss: p.prefit.loss, vsStart: round(p.prefit.vsStart), vsTarget: round(p.prefit.vsTarget) },
      teacherFloor: round(p.teacherFloor),
      teacherSpread: round(p.teacherSpread),
      methods: Object.fromEntries(
        p.methods.map((m) => [m.method, { generator: m.generator, seconds: Math.round(m.seconds), final: round(m.history.at(-1)!), history: m.history.map(round) }]),
      ),
    })),
  };
}
