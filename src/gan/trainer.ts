/**
 * The GAN trainer (the teacher trainer's loop, src/teacher/trainer.ts, with two nets): owns the data
 * order, optimizers, EMA, keys, run folder, logs, snapshots and exact resume; the math is in steps.ts.
 *   each step: one D step (non-saturating loss; every r1Interval-th step + lazy R1 on the real
 *   batch), then one G step (+ EMA);
 *   every `tick` kimg: read the step scalars, log a line, stats.jsonl, TensorBoard, fixed-seed grid;
 *   every `snap` ticks (and at the end, at the time budget, on SIGINT): EMA generator snapshot
 *   `generator-snapshot-<kimg>.safetensors` (self-describing: src/gan/generator.ts), metrics when the
 *   classifier files exist, and the training state (both nets, G's EMA, both Adam states, step, data order).
 * Step t's keys are `keyForSeed(t, 3·2^29 + 2·seed + phase)` and the data order is a resumable `Batcher`,
 * so a resumed run continues the exact loss trajectory of an uninterrupted one.
 */
import { numpy as np, random, tree } from '@jax-js/jax';
import { batch as imageBatch, Batcher, loadImageDataset } from '../data/images.js';
import type { Params } from '../distill/generator.js';
import { loadParams, readMeta, saveParams } from '../io/params.js';
import { keyForSeed, parseSeeds, splitKeyList } from '../random/seeds.js';
import { createRunDir, openRunDir, snapshotName, type RunDir, gridName } from '../run/run-dir.js';
import { existsSync, rmSync } from 'node:fs';
import { resolveResume } from '../teacher/trainer.js';
import { adamInit, adamStateFromTensors, adamStateToTensors } from '../train/adam.js';
import { flatParams, paramTree, treeLayout } from '../train/flat-params.js';
import { countParams } from '../train/tree.js';
import { emaBeta } from '../train/ema.js';
import { liveBuffers, trackBuffers } from '../train/live-buffers.js';
import { fmtMetrics, fmtTime, mean, stoppedBy, rowsFromJson, stateRotation, stopIfAllSkipped, type LoopPosition, type StopReason, type TickInfo, trainingLoop, kimgText, rateText } from '../train/loop.js';
import { parseConfig } from '../config/config.js';
import { dcganConfigFor, GAN_FROZEN_ON_RESUME, GanConfig } from './config.js';
import { dcganDiscriminator, dcganDiscriminatorShapes, dcganGeneratorShapes, initDcganDiscriminator, initDcganGenerator, type DcganConfig } from './dcgan.js';
import { generatorEvaluator, writeGrid } from './evaluate.js';
import { dcganGeneratorModel, ganGeneratorMeta } from './generator.js';
import { makeGanSteps, type GanLayouts, type DState, type DStats, type GState, type GStats } from './steps.js';
import { writeRunCurves } from '../metrics/curves.js';
import { stepsInFlight } from '../platform/devices.js';

export const SNAPSHOT_PREFIX = 'generator-snapshot';
export const STATE_PREFIX = 'training-state';
export const GAN_STATE_FORMAT = 'diff-instruct/gan-state@1';

export interface GanResult {
  runDir: string;
  kimg: number;
  steps: number;
  skipped: number;
  snapshots: string[];
  statePath: string;
  metrics: Record<string, number>[];
  seconds: number;
  /** Why the loop ended before `duration`: the time budget or an abort (SIGINT). */
  stoppedEarly: '' | 'max-minutes' | 'interrupted';
  /** Per tick, in order (also in stats.jsonl). */
  ticks: { dLoss: number; gLoss: number; r1: number }[];
}

/** Step t's key of a phase (0: D, 1: G): a stream disjoint from the teacher's (2^29 + s) and distill's (2^30 + 4s + p). */
function stepKey(seed: number, step: number, phase: 0 | 1): np.Array {
  return keyForSeed(step, 3 * 2 ** 29 + 2 * (seed % 2 ** 27) + phase);
}

/**
 * The config of a resumed run: the saved one with `explicit` values (command-line flags) on top;
 * changing a key that shapes the trajectory (GAN_FROZEN_ON_RESUME) is a one-line error.
 */
export function ganResumeConfig(resume: string, explicit: Record<string, unknown> = {}): GanConfig {
  const { statePath } = resolveResume(resume);
  const { meta } = readMeta(statePath);
  if (!meta || meta.format !== GAN_STATE_FORMAT) throw new Error(`resume: '${statePath}' is not a GAN training state`);
  const merged = parseConfig(GanConfig, { ...meta.config, ...explicit, resume }, statePath, new Set(Object.keys(explicit)));
  checkFrozen(merged, meta.config);
  return merged;
}

function checkFrozen(cfg: GanConfig, saved: Record<string, unknown>): void {
  for (const k of GAN_FROZEN_ON_RESUME) {
    if (JSON.stringify(cfg[k]) !== JSON.stringify(saved[k])) {
      throw new Error(`resume: '${k}' cannot change when resuming (run has ${JSON.stringify(saved[k])}, got ${JSON.stringify(cfg[k])})`);
    }
  }
}


/** Picks `prefix`+name for every name of `like` out of a loaded state. */
const pick = (t: Params, prefix: string, like: Record<string, number[]>): Params => Object.fromEntries(Object.keys(like).map((k) => [k, t[prefix + k]]));

/** The tensor names and shapes a GAN training state must hold. */
function stateShapes(c: DcganConfig): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const add = (prefix: string, shapes: Record<string, number[]>) => Object.entries(shapes).forEach(([k, s]) => (out[prefix + k] = s));
  const g = dcganGeneratorShapes(c), d = dcganDiscriminatorShapes(c);
  for (const p of ['g.', 'gema.', 'gopt.adam.m.', 'gopt.adam.v.']) add(p, g);
  for (const p of ['d.', 'dopt.adam.m.', 'dopt.adam.v.']) add(p, d);
  out['gopt.adam.count'] = [];
  out['dopt.adam.count'] = [];
  return out;
}

/**
 * Trains (or resumes) a GAN for `cfg.duration` kimg of real images, or until `cfg.maxMinutes` or
 * `signal`; always ends with an EMA generator snapshot and a training state.
 */
export async function trainGan(cfg: GanConfig, opts: { signal?: AbortSignal; device?: string; echo?: boolean } = {}): Promise<GanResult> {
  const t0 = Date.now();
  const ds = await loadImageDataset(cfg.dataset, 'train');
  const netCfg = dcganConfigFor(cfg, { dataShape: [ds.channels, ds.height, ds.width], labelDim: ds.numClasses });
  const model = dcganGeneratorModel(netCfg);
  let run: RunDir;
  // G, its EMA and D held flat (src/train/flat-params.ts); `layouts` reads them as trees
  let gs: GState<np.Array>;
  let dst: DState<np.Array>;
  let layouts: GanLayouts;
  let batcher: Batcher;
  let step = 0;
  let skipped = 0;
  let trainSecondsBefore = 0;
  let startPosition: LoopPosition | undefined; // a resumed run's place in its tick, and that tick's rows so far
  let partialRows: number[][] = [];
  let snapshotAtStart = false;

  if (cfg.resume) {
    const { runPath, statePath } = resolveResume(cfg.resume);
    const { meta } = readMeta(statePath);
    if (!meta || meta.format !== GAN_STATE_FORMAT) throw new Error(`resume: '${statePath}' is not a GAN training state`);
    checkFrozen(cfg, meta.config);
    const st = (await loadParams(statePath, { expect: stateShapes(netCfg) })).params;
    const gShapes = dcganGeneratorShapes(netCfg), dShapes = dcganDiscriminatorShapes(netCfg);
    const g = pick(st, 'g.', gShapes), d = pick(st, 'd.', dShapes);
    const sub = (prefix: string) => Object.fromEntries(Object.entries(st).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    const gopt = adamStateFromTensors(sub('gopt.'), g);
    const dopt = adamStateFromTensors(sub('dopt.'), d);
    for (const k of Object.keys(st)) if (k.startsWith('gopt.') || k.startsWith('dopt.')) st[k].dispose(); // adamStateFromTensors took refs
    layouts = { g: treeLayout(g), d: treeLayout(d) };
    gs = { g: flatParams(g), ema: flatParams(pick(st, 'gema.', gShapes)), opt: { m: gopt.m, v: gopt.v, count: gopt.count } };
    dst = { d: flatParams(d), opt: { m: dopt.m, v: dopt.v, count: dopt.count } };
    batcher = Batcher.fromState(meta.batcher, ds.n);
    step = meta.step;
    skipped = meta.skipped;
    trainSecondsBefore = meta.trainSeconds ?? 0;
    startPosition = meta.loop;
    partialRows = rowsFromJson(meta.partialTick);
    run = openRunDir(runPath, { echo: opts.echo });
    snapshotAtStart = existsSync(run.file(snapshotName(SNAPSHOT_PREFIX, (step * cfg.batch) / 1000)));
    run.log(`Resumed from ${statePath} at step ${step} (${kimgText((step * cfg.batch) / 1000)} kimg)`);
    const moved = run.rewind(step, (step * cfg.batch) / 1000);
    if (moved) run.log(moved);
  } else {
    const desc = cfg.desc || `${cfg.dataset.replace(/[^A-Za-z0-9]+/g, '-')}-${cfg.cond ? 'cond' : 'uncond'}-${cfg.arch}`;
    run = createRunDir(cfg.outdir, desc, cfg, { kind: 'train-gan', device: opts.device ?? '' }, { echo: opts.echo });
    const [kg, kd] = splitKeyList(random.key(cfg.seed), 2);
    const g = initDcganGenerator(kg, netCfg), d = initDcganDiscriminator(kd, netCfg);
    layouts = { g: treeLayout(g), d: treeLayout(d) };
    const nG = countParams(g), nD = countParams(d);
    const gf = flatParams(g), df = flatParams(d);
    gs = { g: gf.ref, ema: gf.ref, opt: adamInit(gf) };
    dst = { d: df.ref, opt: adamInit(df) };
    batcher = new Batcher(ds.n, cfg.seed);
    run.log(`Training a ${cfg.arch} GAN (G ${nG} params, D ${nD} params, z ∈ R^${netCfg.zDim}) on ${cfg.dataset}${cfg.cond ? ' (class-conditional)' : ''}; run folder ${run.path}`);
  }
  if (!process.env.DI_NO_TRACK) await trackBuffers().catch(() => undefined);

  const adam = (lr: number) => ({ lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps });
  const { dStep, dStepR1, r1Grad, r1GradJit, gStep } = makeGanSteps<np.Array>(
    {
      generator: model,
      discriminator: (p, x, l) => dcganDiscriminator(netCfg, p, x, l),
      discriminatorR1: (p, x, l) => dcganDiscriminator(netCfg, p, x, l, { conv: 'lax' }), // see dcganDiscriminator
    },
    { batch: cfg.batch, r1Gamma: cfg.r1Gamma, r1Interval: cfg.r1Interval, adamG: adam(cfg.lrG), adamD: adam(cfg.lrD) },
    layouts,
  );
  const isR1Step = (s: number) => dStepR1 !== null && s % cfg.r1Interval === 0;
  const totalSteps = Math.ceil((cfg.duration * 1000) / cfg.batch);
  const stepsPerTick = Math.max(1, Math.round((cfg.tick * 1000) / cfg.batch));
  const gridSeeds = cfg.gridSeeds.trim() ? parseSeeds(cfg.gridSeeds) : [];
  const { evaluate, why } = cfg.evalN > 0 ? await generatorEvaluator(model, cfg.dataset, cfg.batch) : { evaluate: undefined, why: 'evalN 0' };
  if (cfg.evalN > 0 && !evaluate) run.log(`metrics off: ${why}`);
  const genMeta = (kimg: number) =>
    ganGeneratorMeta(netCfg, { dataset: cfg.dataset, config: cfg, kimg, step, imagesSeen: step * cfg.batch, device: opts.device ?? '', trainSeconds: trainSecondsBefore + (Date.now() - t0) / 1000 });

  // Step scalars are read a few steps late (src/distill/trainer.ts has the measurement).
  const IN_FLIGHT = stepsInFlight();
  const inflight: { d: DStats; g: GStats; r1Step: boolean }[] = [];
  const rows: number[][] = partialRows;
  const drain = async (keep: number) => {
    while (inflight.length > keep) {
      const { d, g, r1Step } = inflight.shift()!;
      const vals: number[] = [];
      for (const x of [d.loss, d.r1, d.realLogit, d.fakeLogit, d.gradNorm, d.finite, g.loss, g.gradNorm, g.finite]) vals.push((await x.data())[0]);
      vals.push(r1Step ? 1 : 0); // R1 is only computed on lazy-regularisation steps
      rows.push(vals);
    }
  };

  const snapshots: string[] = [];
  const metrics: Record<string, number>[] = [];
  const ticks: GanResult['ticks'] = [];
  let statePath = '';
  // G's EMA as a param tree (views of its flat vector): for snapshots, metrics and grids
  const emaTree = () => paramTree<Params>(gs.ema.ref, layouts.g);

  const drawGrid = async (kimg: number) => {
    if (!gridSeeds.length) return;
    await writeGrid(model, emaTree(), gridSeeds, run, gridName(kimg), 'Samples/generator', kimg, cfg.batch);
  };

  // `pos` and the tick's rows so far let a run resumed mid-tick close that tick as if never stopped
  const saveState = async (pos: LoopPosition) => {
    await drain(0);
    const tensors: Params = {};
    const put = (prefix: string, t: Params) => Object.entries(t).forEach(([k, v]) => (tensors[prefix + k] = v));
    // per-leaf names as ever (`g.<name>`, …), read from the flat vectors
    put('g.', paramTree<Params>(gs.g.ref, layouts.g));
    put('gema.', emaTree());
    put('d.', paramTree<Params>(dst.d.ref, layouts.d));
    put('gopt.', adamStateToTensors(tree.ref(gs.opt), layouts.g));
    put('dopt.', adamStateToTensors(tree.ref(dst.opt), layouts.d));
    const path = run.file(snapshotName(STATE_PREFIX, (step * cfg.batch) / 1000));
    try {
      await saveParams(path, tensors, {
        format: GAN_STATE_FORMAT,
        kind: 'gan-state',
        step,
        skipped,
        imagesSeen: step * cfg.batch,
        // The RNG needs no state: step t's keys are keyForSeed(t, 3·2^29 + 2·seed + phase).
        batcher: batcher.state(),
        trainSeconds: trainSecondsBefore + (Date.now() - t0) / 1000,
        config: cfg,
        netConfig: netCfg,
        loop: pos,
        partialTick: rows,
      });
    } finally {
      tree.dispose(tensors);
    }
    statePath = path;
    return path;
  };
  const states = stateRotation((p) => rmSync(p, { force: true }));

  const snapshot = async (pos: LoopPosition) => {
    const kimg = (step * cfg.batch) / 1000;
    const path = run.file(snapshotName(SNAPSHOT_PREFIX, kimg));
    const ema = emaTree();
    try {
      await saveParams(path, ema, genMeta(kimg));
    } finally {
      tree.dispose(ema);
    }
    snapshots.push(path);
    states.snapshot(await saveState(pos));
    run.log(`snapshot ${path}`);
    if (evaluate) {
      const m = await evaluate(emaTree(), cfg.evalN);
      const row = { kimg, step, ...m };
      metrics.push(row);
      run.log(`metrics @ ${kimgText(kimg)} kimg: ${fmtMetrics(m)}`);
      run.stats({ kind: 'metrics', ...row });
      writeRunCurves(run.path);
      for (const [k, v] of Object.entries(m)) run.tb.scalar(`Metrics/${k}`, v, Math.round(kimg * 1000));
    }
  };

  const finishTick = async ({ tick, steps: tickSteps, seconds: secs }: TickInfo) => {
    await drain(0);
    const r = rows.splice(0);
    const c = (i: number) => mean(r.map((x) => x[i]));
    skipped += r.filter((x) => !x[5] || !x[8]).length;
    const kimg = (step * cfg.batch) / 1000;
    const imagesPerSec = (tickSteps * cfg.batch) / Math.max(secs, 1e-9);
    let live = -1;
    try {
      live = liveBuffers();
    } catch {
      /* not tracked on this backend */
    }
    const t = { dLoss: c(0), gLoss: c(6), r1: mean(r.filter((x) => x[9]).map((x) => x[1])) };
    ticks.push(t);
    run.stats({ kind: 'tick', tick, kimg, step, ...t, dReal: c(2), dFake: c(3), dGradNorm: c(4), gGradNorm: c(7), skipped, imagesPerSec, secPerTick: secs, liveBuffers: live, totalSec: (Date.now() - t0) / 1000 });
    run.log(
      `tick ${String(tick).padEnd(5)} kimg ${kimgText(kimg).padEnd(8)} time ${fmtTime((Date.now() - t0) / 1000).padEnd(9)} sec/tick ${secs.toFixed(1).padEnd(7)} img/s ${rateText(imagesPerSec).padEnd(6)} ` +
        `D ${t.dLoss.toPrecision(4)} G ${t.gLoss.toPrecision(4)} R1 ${t.r1.toPrecision(3)} D(real) ${c(2).toPrecision(3)} D(fake) ${c(3).toPrecision(3)} skipped ${skipped}`,
    );
    stopIfAllSkipped(tick, [{ name: 'discriminator', rows: r, finite: (x) => !!x[5], loss: (x) => x[0] }, { name: 'generator', rows: r, finite: (x) => !!x[8], loss: (x) => x[6] }]);
    const img = Math.round(kimg * 1000);
    const scalars = { 'Loss/D': t.dLoss, 'Loss/G': t.gLoss, 'Loss/R1': t.r1, 'Logits/real': c(2), 'Logits/fake': c(3), 'GradNorm/D': c(4), 'GradNorm/G': c(7), 'Timing/images_per_sec': imagesPerSec, 'Health/skipped_steps': skipped, 'Health/live_buffers': live };
    for (const [k, v] of Object.entries(scalars)) if (Number.isFinite(v)) run.tb.scalar(k, v, img);
    await drawGrid(kimg);
  };

  let stoppedEarly: StopReason = '';
  const labelsArg = (l: np.Array | null) => (l ? [l] : []);
  const oneStep = async (s: number) => {
    const b = imageBatch(ds, batcher.next(cfg.batch));
    let yReal: np.Array | null = b.labels;
    if (!cfg.cond) {
      b.labels.dispose();
      yReal = null;
    }
    const r1Step = isR1Step(s);
    const r1 = r1Step ? [r1Grad(dst.d.ref, b.x.ref, labelsArg(yReal ? yReal.ref : null))] : [];
    const [nextD, sd] = (r1Step ? dStepR1! : dStep)(dst, gs.g.ref, b.x, labelsArg(yReal), stepKey(cfg.seed, s, 0), r1);
    dst = nextD;
    const beta = np.array(emaBeta(cfg.batch, cfg.emaHalfLife * 1000, (s + 1) * cfg.batch, cfg.emaRampup));
    const [nextG, sg] = gStep(gs, dst.d.ref, stepKey(cfg.seed, s, 1), beta);
    gs = nextG;
    inflight.push({ d: sd, g: sg, r1Step });
    await drain(IN_FLIGHT);
    step = s + 1;
  };
  let failed = false;
  try {
    if (step === 0) await drawGrid(0);
    ({ stoppedEarly } = await trainingLoop(
      { startStep: step, startPosition, snapshotAtStart, stateMinutes: cfg.stateMinutes, totalSteps, stepsPerTick, snap: cfg.snap, maxMinutes: cfg.maxMinutes, t0, signal: opts.signal, log: (l) => run.log(l), batch: cfg.batch },
      { step: oneStep, finishTick, snapshot, saveState: async (pos) => states.timed(await saveState(pos)), pending: () => inflight.length > 0 || rows.length > 0, status: () => (rows.length ? `D ${rows.at(-1)![0].toPrecision(4)} G ${rows.at(-1)![6].toPrecision(4)}` : '') },
    ));
  } catch (e) {
    run.log(stoppedBy(e));
    failed = true;
    throw e;
  } finally {
    run.log(`Done: ${step} steps (${kimgText((step * cfg.batch) / 1000)} kimg), ${skipped} skipped, ${fmtTime((Date.now() - t0) / 1000)}${stoppedEarly ? ` (stopped: ${stoppedEarly})` : ''}`);
    run.close();
    // a new run that failed before its first step leaves no folder behind (the error says what was wrong)
    if (failed && !cfg.resume && step === 0) run.discard();
    tree.dispose(gs);
    tree.dispose(dst);
    dStep.dispose();
    dStepR1?.dispose();
    r1GradJit.dispose();
    gStep.dispose();
  }
  return { runDir: run.path, kimg: (step * cfg.batch) / 1000, steps: step, skipped, snapshots, statePath, metrics, seconds: (Date.now() - t0) / 1000, stoppedEarly, ticks };
}
