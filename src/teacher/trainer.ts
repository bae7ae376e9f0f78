/**
 * The EDM teacher trainer (Karras et al. 2022, training/training_loop.py): the EDM loss (Eq. 8,
 * src/edm/loss.ts) on a preconditioned SongUNet (or a 2-D MLP), Adam with EDM's linear learning-rate
 * ramp-up, EMA by half-life with ramp-up, a non-finite guard, EDM-style ticks and snapshots. One
 * readable loop:
 *   each step: one jitted call = valueAndGrad of the batch-mean loss + Adam + guard + EMA;
 *   every `tick` kimg: read the step scalars, log a line, stats.jsonl, TensorBoard;
 *   every `snap` ticks (and at the end, at the time budget, on SIGINT): EMA snapshot
 *   `network-snapshot-<kimg>.safetensors`, sample grid `fakes-<kimg>.png`, and the training state.
 * Step t's key is `keyForSeed(t, 2^29 + seed)` and the data order is a resumable `Batcher`, so a run
 * resumed from its training state continues the exact loss trajectory of an uninterrupted one.
 */
import { jit, numpy as np, random, tree, valueAndGrad } from '@jax-js/jax';
import { batch as imageBatch, Batcher, loadImageDataset, type ImageDataset } from '../data/images.js';
import { sampleToy, TOYS } from '../data/toy2d.js';
import { edmLoss } from '../edm/loss.js';
import type { Denoiser } from '../edm/precond.js';
import { loadParams, readMeta, saveParams } from '../io/params.js';
import { saveImageGrid } from '../io/png.js';
import { saveScatter, GENERATOR_COLOR } from '../io/scatter.js';
import type { Params } from '../nets/layers.js';
import { songUNetConfig, type SongUNetConfig } from '../nets/song-unet.js';
import { keyForSeed, parseSeeds } from '../random/seeds.js';
import { createRunDir, openRunDir, resolveResume as resolveRunResume, snapshotName, type RunDir, gridName } from '../run/run-dir.js';
import { existsSync, rmSync } from 'node:fs';
import { adamInit, adamStateFromTensors, adamStateToTensors, adamUpdateFlat, type AdamConfig, type AdamState } from '../train/adam.js';
import { emaBeta, emaUpdate } from '../train/ema.js';
import { liveBuffers, trackBuffers } from '../train/live-buffers.js';
import { concatLeaves, countParams, flatSumOfSquares, flattenNamed } from '../train/tree.js';
import { flatParams, paramTree, treeLayout, type Stored, type TreeLayout } from '../train/flat-params.js';
import { fmtTime, mean, stoppedBy, rowsFromJson, stateRotation, stopIfAllSkipped, type LoopPosition, type StopReason, type TickInfo, trainingLoop, kimgText, rateText } from '../train/loop.js';
import { FROZEN_ON_RESUME, TeacherConfig } from './config.js';
import { generateImages, type Network } from './generate.js';
import { loadDenoiser, TEACHER_FORMAT } from './load.js';
import { sameNet, teacherDenoiser, teacherNet, type NetSpec, type TeacherNet } from './net.js';
import { parseConfig } from '../config/config.js';
import { stepsInFlight } from '../platform/devices.js';

export const SNAPSHOT_PREFIX = 'network-snapshot';
export const STATE_PREFIX = 'training-state';
export const STATE_FORMAT = 'diff-instruct/teacher-state@1';

/** EDM's Adam settings (train.py: betas [0.9, 0.999], eps 1e-8). */
const ADAM_BETAS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export interface TeacherResult {
  runDir: string;
  kimg: number;
  steps: number;
  skipped: number;
  snapshots: string[];
  statePath: string;
  seconds: number;
  /** Why the loop ended before `duration`: the time budget or an abort (SIGINT). */
  stoppedEarly: '' | 'max-minutes' | 'interrupted';
  /** Mean loss of each tick, in order (also in stats.jsonl). */
  tickLosses: number[];
}

/** Where the training data comes from: a labelled image set or a 2-D toy. */
interface DataSource {
  name: string;
  dataShape: number[];
  labelDim: number;
  /** Batch for step `step` (consumes `key`). */
  next(key: np.Array, n: number): { x: np.Array; labels: np.Array | null };
  state(): object;
}

async function openData(cfg: TeacherConfig, batcherState?: object): Promise<DataSource> {
  if (cfg.dataset.startsWith('toy:')) {
    const name = cfg.dataset.slice(4);
    if (!Object.hasOwn(TOYS, name)) throw new Error(`unknown toy dataset '${cfg.dataset}': expected toy:<${Object.keys(TOYS).join('|')}>`);
    if (cfg.cond) throw new Error(`dataset '${cfg.dataset}' has no classes: use --cond false`);
    if (cfg.arch !== 'mlp') throw new Error(`dataset '${cfg.dataset}' is 2-D: use --arch mlp`);
    return { name: cfg.dataset, dataShape: [2], labelDim: 0, next: (key, n) => ({ x: sampleToy(name, key, n), labels: null }), state: () => ({}) };
  }
  if (cfg.arch === 'mlp') throw new Error(`arch 'mlp' is for 2-D toy datasets, not '${cfg.dataset}'`);
  const ds: ImageDataset = await loadImageDataset(cfg.dataset, 'train');
  const batcher = batcherState ? Batcher.fromState(batcherState as any, ds.n) : new Batcher(ds.n, cfg.seed);
  return {
    name: cfg.dataset,
    dataShape: [ds.channels, ds.height, ds.width],
    labelDim: cfg.cond ? ds.numClasses : 0,
    next: (key, n) => {
      key.dispose();
      const b = imageBatch(ds, batcher.next(n));
      if (cfg.cond) return { x: b.x, labels: b.labels };
      b.labels.dispose();
      return { x: b.x, labels: null };
    },
    state: () => batcher.state(),
  };
}

/** The network spec a config asks for, given the data's shape and classes. */
export function netSpecFor(cfg: TeacherConfig, data: { dataShape: number[]; labelDim: number }): NetSpec {
  if (cfg.arch === 'mlp') {
    return { net: 'mlp', netConfig: { dim: data.dataShape[0], hidden: cfg.mlpWidth, layers: cfg.mlpDepth, embChannels: 32, labelDim: data.labelDim } };
  }
  const [c, h, w] = data.dataShape;
  if (h !== w) throw new Error(`SongUNet needs square images, got ${h}x${w}`);
  const overrides: Partial<SongUNetConfig> = {
    modelChannels: cfg.modelChannels,
    channelMult: cfg.channelMult,
    numBlocks: cfg.numBlocks,
    attnResolutions: cfg.attnResolutions,
    dropout: cfg.dropout,
  };
  return { net: 'song-unet', netConfig: songUNetConfig(cfg.arch, { imgResolution: h, channels: c, labelDim: data.labelDim }, overrides) };
}

/** Resolves `--resume` to the run folder and training-state file (src/run/run-dir.ts). */
export const resolveResume = (resume: string) => resolveRunResume(resume, STATE_PREFIX);

/**
 * The config of a resumed run: the saved one, with `explicit` values (command-line flags) on top.
 * Changing a key that shapes the trajectory (FROZEN_ON_RESUME) is a one-line error.
 */
export function resumeConfig(resume: string, explicit: Record<string, unknown> = {}): TeacherConfig {
  const { statePath } = resolveResume(resume);
  const { meta } = readMeta(statePath);
  if (!meta || meta.format !== STATE_FORMAT) throw new Error(`resume: '${statePath}' is not a teacher training state`);
  const merged = parseConfig(TeacherConfig, { ...meta.config, ...explicit, resume }, statePath, new Set(Object.keys(explicit)));
  for (const k of FROZEN_ON_RESUME) {
    if (JSON.stringify(merged[k]) !== JSON.stringify(meta.config[k])) {
      throw new Error(`resume: '${k}' cannot change when resuming (run has ${JSON.stringify(meta.config[k])}, got ${JSON.stringify(merged[k])})`);
    }
  }
  return merged;
}

/**
 * Teacher weights to start a fresh run from (`--init`): the file's network must be the one this
 * config builds (same architecture, channels, classes, preconditioning), else a one-line error.
 */
async function loadInitWeights(cfg: TeacherConfig, net: TeacherNet): Promise<Params> {
  const t = await loadDenoiser(cfg.init);
  const want = JSON.stringify(net.spec), got = JSON.stringify(t.net.spec);
  if (!sameNet(net.spec, t.net.spec) || t.meta.precond !== cfg.precond || t.meta.sigmaData !== cfg.sigmaData) {
    tree.dispose(t.params);
    throw new Error(`init: '${t.path}' holds a different network (${got}, ${t.meta.precond}) than this config builds (${want}, ${cfg.precond})`);
  }
  return t.params;
}

/** Step t's key: a per-step stream of the seed, disjoint from seeds.ts's latent/label/churn streams. */
function stepKey(seed: number, step: number): np.Array {
  return keyForSeed(step, 2 ** 29 + (seed % 2 ** 28));
}

/**
 * The training state. The trainer keeps `params` and `ema` flat (src/train/flat-params.ts: Adam and the EMA
 * are then one kernel each); a step also takes them as trees (`bench`, tests), in both fields alike.
 */
export type TrainState<P extends Stored<Params> = Params> = { params: P; ema: P; opt: AdamState<P> };
type StepStats = { loss: np.Array; gradNorm: np.Array; finite: np.Array };

/**
 * Where a step stops: the trainer runs 'full'; `bench --parts phases` times each cut to attribute a
 * step's time and kernels to its components (loss forward; + backward and ‖g‖; + Adam; + guard; + EMA).
 */
export type TeacherStepStage = 'loss' | 'grad' | 'adam' | 'guard' | 'full';

/**
 * One jitted training step: valueAndGrad of the batch-mean EDM loss, Adam, non-finite guard, EMA.
 * `layout` (the param tree's `treeLayout`) lets the state hold params and EMA flat.
 */
export function makeTeacherStep<P extends Stored<Params> = Params>(
  denoiser: Denoiser,
  o: { adam: AdamConfig; pMean: number; pStd: number; sigmaData: number; stage?: TeacherStepStage; layout?: TreeLayout },
) {
  const stage = o.stage ?? 'full';
  return jit((s: TrainState<P>, x: np.Array, labels: np.Array[], key: np.Array, lrScale: np.Array, beta: np.Array): [TrainState<P>, StepStats] => {
    const keys = random.split(key, 2);
    const kLoss = keys.ref.slice(0);
    const kDrop = keys.slice(1);
    const label = labels[0] ?? null;
    const lossFn = (p: Params) =>
      edmLoss((pp, xx, ss, ll) => denoiser(pp, xx, ss, ll, { key: kDrop.ref, train: true }), p, x.ref, label ? label.ref : null, kLoss.ref, o).mean();
    if (stage === 'loss') {
      const loss = lossFn(paramTree<Params>(tree.ref<Stored<Params>>(s.params), o.layout));
      tree.dispose([x, kLoss, kDrop, lrScale, beta]);
      label?.dispose();
      return [s, { loss, gradNorm: np.zeros([]), finite: np.array(true) }];
    }
    const [loss, grads] = valueAndGrad(lossFn)(paramTree<Params>(tree.ref<Stored<Params>>(s.params), o.layout)); // flat params: the leaves as views
    tree.dispose([x, kLoss, kDrop]);
    label?.dispose();
    const g = concatLeaves(grads); // flat: norm, guard and Adam in a few kernels over the whole model
    const gradNorm = np.sqrt(flatSumOfSquares(g.ref));
    const finite = np.logicalAnd(np.isfinite(gradNorm.ref), np.isfinite(loss.ref)); // a NaN/Inf (or overflowing) gradient makes ‖g‖ non-finite
    if (stage === 'grad') {
      tree.dispose([g, lrScale, beta]);
      return [s, { loss, gradNorm, finite }];
    }
    // 'adam' times Adam alone; from 'guard' on, Adam skips a non-finite step on the device (fused guard)
    const { params, state: opt } = adamUpdateFlat(g, s.opt, s.params, o.adam, lrScale, stage === 'adam' ? undefined : finite.ref);
    if (stage === 'adam' || stage === 'guard') {
      beta.dispose();
      return [{ params, ema: s.ema, opt }, { loss, gradNorm, finite }];
    }
    const ema = emaUpdate(s.ema, tree.ref(params), beta);
    return [{ params, ema, opt }, { loss, gradNorm, finite }];
  });
}

/**
 * Trains (or resumes) a teacher for `cfg.duration` kimg, or until `cfg.maxMinutes` or `signal`;
 * always ends with an EMA snapshot and a training state. Returns where everything went.
 */
export async function trainTeacher(cfg: TeacherConfig, opts: { signal?: AbortSignal; device?: string; echo?: boolean } = {}): Promise<TeacherResult> {
  const t0 = Date.now();
  let run: RunDir;
  let state: TrainState<np.Array>; // params and EMA flat (`layout` reads them as trees)
  let layout: TreeLayout;
  let step = 0;
  let skipped = 0;
  let trainSecondsBefore = 0;
  let startPosition: LoopPosition | undefined; // a resumed run's place in its tick, and that tick's rows so far
  let partialRows: number[][] = [];
  let snapshotAtStart = false;
  let data: DataSource;
  let net: TeacherNet;

  if (cfg.resume) {
    const { runPath, statePath } = resolveResume(cfg.resume);
    const { meta } = readMeta(statePath);
    if (!meta || meta.format !== STATE_FORMAT) throw new Error(`resume: '${statePath}' is not a teacher training state`);
    for (const k of FROZEN_ON_RESUME) {
      if (JSON.stringify(cfg[k]) !== JSON.stringify(meta.config[k])) {
        throw new Error(`resume: '${k}' cannot change when resuming (run has ${JSON.stringify(meta.config[k])}, got ${JSON.stringify(cfg[k])})`);
      }
    }
    data = await openData(cfg, meta.batcher);
    net = teacherNet(netSpecFor(cfg, data));
    const like = net.shapes;
    const expect: Record<string, number[]> = {};
    for (const [k, s] of Object.entries(like)) {
      expect[`params.${k}`] = s;
      expect[`ema.${k}`] = s;
      expect[`adam.m.${k}`] = s;
      expect[`adam.v.${k}`] = s;
    }
    expect['adam.count'] = [];
    const st = await loadParams(statePath, { expect });
    const pick = (prefix: string): Params => Object.fromEntries(Object.keys(like).map((k) => [k, st.params[prefix + k]]));
    const params = pick('params.');
    const { m, v, count } = adamStateFromTensors(st.params, params); // flat moments, whatever the params' form
    for (const k of Object.keys(st.params)) if (k.startsWith('adam.')) st.params[k].dispose(); // adamStateFromTensors took refs
    layout = treeLayout(params);
    state = { params: flatParams(params), ema: flatParams(pick('ema.')), opt: { m, v, count } };
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
    data = await openData(cfg);
    net = teacherNet(netSpecFor(cfg, data));
    const desc = cfg.desc || `${cfg.dataset.replace(/[^A-Za-z0-9]+/g, '-')}-${cfg.cond ? 'cond' : 'uncond'}-${cfg.arch}`;
    // weights first: a bad --init is an error before any run folder exists
    const params = cfg.init ? await loadInitWeights(cfg, net) : net.init(random.key(cfg.seed));
    run = createRunDir(cfg.outdir, desc, cfg, { kind: 'train-teacher', device: opts.device ?? '' }, { echo: opts.echo });
    layout = treeLayout(params);
    const nParams = countParams(params);
    const flat = flatParams(params);
    state = { params: flat.ref, ema: flat.ref, opt: adamInit(flat) };
    run.log(`Training a ${cfg.arch} teacher (${nParams} params, ${cfg.precond} preconditioning) on ${cfg.dataset}${cfg.cond ? ' (class-conditional)' : ''}; run folder ${run.path}`);
    if (cfg.init) run.log(`Initial weights: ${cfg.init} (fresh Adam state)`);
  }
  // DI_NO_TRACK=1 skips the live-buffer counter (an A/B switch for measuring its cost on a GPU).
  if (!process.env.DI_NO_TRACK) await trackBuffers().catch(() => undefined);

  const denoiser = teacherDenoiser(net, cfg.precond, cfg.sigmaData);
  const trainStep = makeTeacherStep<np.Array>(denoiser, { adam: { lr: cfg.lr, ...ADAM_BETAS }, pMean: cfg.pMean, pStd: cfg.pStd, sigmaData: cfg.sigmaData, layout });
  // the EMA as a param tree (views of the flat vector), for snapshots and grids; the caller disposes it
  const emaTree = () => paramTree<Params>(state.ema.ref, layout);
  const totalSteps = Math.ceil((cfg.duration * 1000) / cfg.batch);
  const stepsPerTick = Math.max(1, Math.round((cfg.tick * 1000) / cfg.batch));
  // EDM: lr · min(cur_nimg / max(lr_rampup_kimg·1000, 1e-8), 1) with cur_nimg the images before this step.
  const lrScaleAt = (s: number) => Math.min((s * cfg.batch) / Math.max(cfg.lrRampup * 1000, 1e-8), 1);
  const gridSeeds = cfg.gridSeeds.trim() ? parseSeeds(cfg.gridSeeds) : [];
  const netMeta = (kimg: number) => ({
    format: TEACHER_FORMAT,
    kind: 'teacher',
    ...net.spec,
    precond: cfg.precond,
    sigmaData: cfg.sigmaData,
    dataset: cfg.dataset,
    cond: cfg.cond,
    labelDim: net.labelDim,
    dataShape: net.dataShape,
    resolution: net.spec.net === 'mlp' ? null : net.spec.netConfig.imgResolution,
    channels: net.spec.net === 'mlp' ? null : net.spec.netConfig.inChannels,
    config: cfg,
    kimg,
    step,
    imagesSeen: step * cfg.batch,
    device: opts.device ?? '',
    trainSeconds: trainSecondsBefore + (Date.now() - t0) / 1000,
  });

  // Step scalars are read a few steps late, so the host prepares step t+1 while the GPU runs step t
  // (src/distill/trainer.ts says why not more).
  const IN_FLIGHT = stepsInFlight();
  const inflight: StepStats[] = [];
  const tickRows: number[][] = partialRows;
  const drain = async (keep: number) => {
    while (inflight.length > keep) {
      const st = inflight.shift()!;
      tickRows.push([(await st.loss.data())[0], (await st.gradNorm.data())[0], (await st.finite.data())[0]]);
    }
  };

  const snapshots: string[] = [];
  const tickLosses: number[] = [];
  let statePath = '';

  const drawGrid = async (kimg: number) => {
    if (!gridSeeds.length) return;
    const ema = emaTree();
    const network: Network = { kind: 'teacher', path: '', denoiser, params: ema, meta: netMeta(kimg) as any, net, dataShape: net.dataShape, labelDim: net.labelDim };
    const name = gridName(kimg);
    const labelDim = net.labelDim;
    // Conditional: class c fills row c (EDM's grids show one class per row).
    const perRow = labelDim > 0 ? Math.ceil(gridSeeds.length / labelDim) : Math.ceil(Math.sqrt(gridSeeds.length));
    const classes = labelDim > 0 ? gridSeeds.map((_, i) => Math.min(labelDim - 1, Math.floor(i / perRow))) : null;
    let x: np.Array;
    try {
      x = await generateImages(network, gridSeeds, { steps: cfg.gridSteps, classes, batchSize: Math.min(gridSeeds.length, 100) });
    } finally {
      tree.dispose(ema);
    }
    if (net.dataShape.length === 3) {
      await saveImageGrid(run.file(name), x, { cols: perRow }); // reads through .ref
      x.dispose();
    } else {
      const pts = (await x.data()) as Float32Array;
      saveScatter(run.file(name), [{ points: pts, color: GENERATOR_COLOR }], { range: [-4, 4] });
    }
  };

  // `pos` and the tick's rows so far let a run resumed mid-tick close that tick as if never stopped
  const saveState = async (pos: LoopPosition) => {
    await drain(0);
    const kimg = (step * cfg.batch) / 1000;
    // per-leaf names as ever (`params.<name>`, `ema.<name>`, `adam.*`), read from the flat vectors
    const tensors: Params = {
      ...flattenNamed(paramTree(state.params.ref, layout), 'params'),
      ...flattenNamed(emaTree(), 'ema'),
      ...adamStateToTensors(tree.ref(state.opt), layout),
    };
    const path = run.file(snapshotName(STATE_PREFIX, kimg));
    try {
      await saveParams(path, tensors, {
        format: STATE_FORMAT,
        kind: 'teacher-state',
        step,
        skipped,
        imagesSeen: step * cfg.batch,
        // The RNG needs no state: step t's key is keyForSeed(t, 2^29 + seed).
        rng: { seed: cfg.seed, stream: 2 ** 29 + (cfg.seed % 2 ** 28), nextStep: step },
        batcher: data.state(),
        trainSeconds: trainSecondsBefore + (Date.now() - t0) / 1000,
        config: cfg,
        net: net.spec,
        loop: pos,
        partialTick: tickRows,
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
      await saveParams(path, ema, netMeta(kimg));
    } finally {
      tree.dispose(ema);
    }
    snapshots.push(path);
    states.snapshot(await saveState(pos));
    await drawGrid(kimg);
    run.log(`snapshot ${path}`);
  };

  const finishTick = async ({ tick, steps: tickSteps, seconds: secs }: TickInfo) => {
    await drain(0);
    const rows = tickRows.splice(0);
    const loss = mean(rows.map((r) => r[0]));
    const gradNorm = mean(rows.map((r) => r[1]));
    skipped += rows.filter((r) => !r[2]).length;
    const kimg = (step * cfg.batch) / 1000;
    const imagesPerSec = (tickSteps * cfg.batch) / Math.max(secs, 1e-9);
    let live = -1;
    try {
      live = liveBuffers();
    } catch {
      /* not tracked on this backend */
    }
    tickLosses.push(loss);
    run.stats({ kind: 'tick', tick, kimg, step, loss, gradNorm, skipped, imagesPerSec, secPerTick: secs, secPerKimg: secs / Math.max((tickSteps * cfg.batch) / 1000, 1e-9), lrScale: lrScaleAt(step - 1), liveBuffers: live, totalSec: (Date.now() - t0) / 1000 });
    run.log(
      `tick ${String(tick).padEnd(5)} kimg ${kimgText(kimg).padEnd(8)} time ${fmtTime((Date.now() - t0) / 1000).padEnd(9)} sec/tick ${secs.toFixed(1).padEnd(7)} ` +
        `img/s ${rateText(imagesPerSec).padEnd(6)} loss ${loss.toPrecision(4)} |g| ${gradNorm.toPrecision(3)} skipped ${skipped} buffers ${live}`,
    );
    stopIfAllSkipped(tick, [{ name: 'training', rows, finite: (r) => !!r[2], loss: (r) => r[0] }]);
    const img = Math.round(kimg * 1000);
    for (const [k, v] of Object.entries({ 'Loss/loss': loss, 'Loss/grad_norm': gradNorm, 'Timing/images_per_sec': imagesPerSec, 'Timing/sec_per_tick': secs, 'Health/skipped_steps': skipped, 'Health/live_buffers': live })) {
      if (Number.isFinite(v)) run.tb.scalar(k, v, img);
    }
  };

  let stoppedEarly: StopReason = '';
  const labelsArg = (l: np.Array | null) => (l ? [l] : []);
  const oneStep = async (s: number) => {
    const keys = random.split(stepKey(cfg.seed, s), 2);
    const { x, labels } = data.next(keys.ref.slice(0), cfg.batch);
    const beta = emaBeta(cfg.batch, cfg.emaHalfLife * 1000, s * cfg.batch, cfg.emaRampup);
    const [next, st] = trainStep(state, x, labelsArg(labels), keys.slice(1), np.array(lrScaleAt(s)), np.array(beta));
    state = next;
    inflight.push(st);
    await drain(IN_FLIGHT);
    step = s + 1;
  };
  let failed = false;
  try {
    ({ stoppedEarly } = await trainingLoop(
      { startStep: step, startPosition, snapshotAtStart, stateMinutes: cfg.stateMinutes, totalSteps, stepsPerTick, snap: cfg.snap, maxMinutes: cfg.maxMinutes, t0, signal: opts.signal, log: (l) => run.log(l), batch: cfg.batch },
      { step: oneStep, finishTick, snapshot, saveState: async (pos) => states.timed(await saveState(pos)), pending: () => inflight.length > 0 || tickRows.length > 0, status: () => (tickRows.length ? `loss ${tickRows.at(-1)![0].toPrecision(4)}` : '') },
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
    tree.dispose(state);
    trainStep.dispose();
  }
  return { runDir: run.path, kimg: (step * cfg.batch) / 1000, steps: step, skipped, snapshots, statePath, seconds: (Date.now() - t0) / 1000, stoppedEarly, tickLosses };
}
