/**
 * The distillation trainer: owns optimizers, EMA, schedules, keys, run folder, logs, snapshots and
 * exact resume; the math lives in steps.ts / losses.ts and the models in setup.ts. One readable loop:
 *   for each generator step: `fakeSteps` fake-score steps, then one generator step (+ EMA);
 *   every `tick` kimg: read the step scalars, log a line, stats.jsonl, TensorBoard, sample grid;
 *   every `snap` ticks (and at the end): EMA generator snapshot + metrics + training state.
 * Keys: step t of phase p uses `keyForSeed(t, stream)` with stream = 2^30 + 4·seed + p, so a resumed run
 * draws exactly the keys an uninterrupted one would, with no RNG state to carry.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { basename } from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import { loadParams, readMeta, saveParams } from '../io/params.js';
import { createRunDir, openRunDir, resolveResume as resolveRunResume, snapshotName, type RunDir } from '../run/run-dir.js';
import { adamInit, adamStateFromTensors, adamStateToTensors } from '../train/adam.js';
import { liveBuffers, trackBuffers } from '../train/live-buffers.js';
import { DistillConfig as DistillConfigSchema, type DistillConfig } from './config.js';
import { parseConfig, type Schema } from '../config/config.js';
import type { z } from 'zod';
import type { Params } from './generator.js';
import { makeSteps, type FakeState, type GenState, type StepLayouts, type StepStats } from './steps.js';
import { flatParams, paramTree, treeLayout } from '../train/flat-params.js';
import type { DistillSetup } from './setup.js';
import { stepKey, stepOptionsOf } from './options.js';
import { distillIteration, type DistillState } from './iteration.js';
import { writeRunCurves } from '../metrics/curves.js';
import { fmtMetrics, fmtTime, isFitProbe, mean, stoppedBy, trainingLoop, rowsFromJson, stateRotation, stopIfAllSkipped, type LoopPosition, type StopReason, type TickInfo, kimgText, rateText } from '../train/loop.js';
import { stepsInFlight } from '../platform/devices.js';
import { Progress } from '../run/progress.js';

export const STATE_PREFIX = 'training-state';
export const STATE_FORMAT = 'diff-instruct/distill-state@1';
export const SNAPSHOT_PREFIX = 'generator-snapshot';

/** What a finished (or stopped) run reports. */
export interface DistillResult {
  runDir: string;
  kimg: number;
  genSteps: number;
  skipped: number;
  snapshots: string[];
  metrics: Record<string, number>[];
  seconds: number;
  stoppedEarly: boolean;
  /** Why it stopped early ('' when it ran to `duration`). */
  stopReason: StopReason;
}

/** Reads an array of scalar stats (consuming them) into numbers. */
async function readScalars(xs: np.Array[]): Promise<number[]> {
  const out: number[] = [];
  for (const x of xs) out.push((await x.data())[0]);
  return out;
}

const col = (v: number[][], i: number) => v.map((r) => r[i]);

/** Resolves `--resume` to the run folder and training-state file (src/run/run-dir.ts). */
export const resolveResume = (resume: string) => resolveRunResume(resume, STATE_PREFIX);

/** Config keys a resumed run may change (length, logging, evaluation); every other key is the run's own. */
export const MUTABLE_ON_RESUME = ['duration', 'maxMinutes', 'stateMinutes', 'tick', 'snap', 'evalN', 'gridSeeds', 'outdir', 'desc', 'resume'] as const;

/**
 * The config of a resumed run: the one saved in its training state, with the values the user gave
 * explicitly laid over it; changing anything but MUTABLE_ON_RESUME is a one-line error. `schema` is the
 * command's (RefineConfig for `refine`, whose runs save their `generator`): a run continues with the
 * command that made it.
 */
export function resumeDistillConfig<S extends Schema = typeof DistillConfigSchema>(resume: string, explicit: Record<string, unknown> = {}, schema: S = DistillConfigSchema as unknown as S): z.infer<S> {
  const { statePath } = resolveResume(resume);
  const { meta } = readMeta(statePath);
  if (!meta || meta.format !== STATE_FORMAT) throw new Error(`resume: '${statePath}' is not a distillation training state`);
  const isRefine = typeof meta.config?.generator === 'string' && meta.config.generator !== '';
  if (isRefine !== 'generator' in schema.shape) {
    throw new Error(`resume: '${statePath}' is ${isRefine ? 'a refine run: continue it with refine --resume' : 'a distill run, not a refine run: continue it with distill --resume'}`);
  }
  const merged = parseConfig(schema, { ...meta.config, ...explicit, resume }, statePath, new Set(Object.keys(explicit)));
  for (const k of Object.keys(merged)) {
    if ((MUTABLE_ON_RESUME as readonly string[]).includes(k)) continue;
    if (JSON.stringify(merged[k]) !== JSON.stringify(meta.config[k])) {
      throw new Error(`resume: '${k}' cannot change when resuming (run has ${JSON.stringify(meta.config[k])}, got ${JSON.stringify(merged[k])})`);
    }
  }
  return merged;
}

/**
 * Runs Diff-Instruct (or SiD/DMD/SDS) for `cfg.duration` kimg of generator images, or until
 * `cfg.maxMinutes`, or until `signal` aborts; returns where everything went. Takes ownership of
 * `setup.theta0` and `setup.phi0` (unused when resuming: they are freed); `setup.teacherParams` stays the
 * caller's (free it with `disposeSetup`).
 */
export async function runDistill(cfg: DistillConfig, setup: DistillSetup, opts: { signal?: AbortSignal; device?: string; echo?: boolean } = {}): Promise<DistillResult> {
  const t0 = Date.now();
  const usesFake = cfg.loss !== 'sds';
  if (!usesFake && cfg.fakeSteps > 0) setup.log?.(`note: loss 'sds' uses no fake score; fakeSteps ${cfg.fakeSteps} ignored`);
  const fakeSteps = usesFake ? cfg.fakeSteps : 0;
  if (usesFake && fakeSteps === 0) throw new Error(`fakeSteps 0 is only valid with loss 'sds' (loss '${cfg.loss}' needs a fake score)`);

  // ---- state: fresh or resumed ----
  let run: RunDir;
  // params, EMA and fake score held flat (src/train/flat-params.ts); `layouts` reads them as trees
  let gen: GenState<np.Array>;
  let fake: FakeState<np.Array>;
  let layouts: StepLayouts;
  let step = 0; // generator steps done
  let fakeDone = 0; // fake steps done (incl. warm-up)
  let skipped = 0;
  let startPosition: LoopPosition | undefined; // a resumed run's place in its tick
  let partial: { f: number[][]; g: number[][] } = { f: [], g: [] }; // step scalars of that tick's steps so far
  let snapshotAtStart = false;
  const meta = { kind: 'distill', teacher: setup.teacherName, device: opts.device ?? '' };
  if (cfg.resume) {
    const { runPath, statePath } = resolveResume(cfg.resume);
    run = openRunDir(runPath, { echo: opts.echo });
    const st = await loadParams(statePath);
    const m = st.meta;
    if (!m || m.format !== STATE_FORMAT) throw new Error(`resume: '${statePath}' is not a distillation training state`);
    const pick = (prefix: string) => Object.fromEntries(Object.entries(st.params).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    const theta = pick('theta.'), ema = pick('ema.'), phi = pick('phi.');
    const gopt = pick('gopt.'), fopt = pick('fopt.');
    const g = adamStateFromTensors(gopt, theta), f = adamStateFromTensors(fopt, phi); // these take their own refs
    tree.dispose([gopt, fopt]);
    layouts = { theta: treeLayout(theta), phi: treeLayout(phi) };
    gen = { theta: flatParams(theta), ema: flatParams(ema), opt: { m: g.m, v: g.v, count: g.count } };
    fake = { phi: flatParams(phi), opt: { m: f.m, v: f.v, count: f.count } };
    tree.dispose(setup.theta0);
    tree.dispose(setup.phi0);
    step = m.step;
    fakeDone = m.fakeDone;
    skipped = m.skipped;
    if (m.loop) startPosition = m.loop;
    if (m.partialTick) partial = { f: rowsFromJson(m.partialTick.f), g: rowsFromJson(m.partialTick.g) };
    snapshotAtStart = existsSync(run.file(snapshotName(SNAPSHOT_PREFIX, (step * cfg.batch) / 1000)));
    run.log(`Resumed from ${statePath} at step ${step} (${kimgText((step * cfg.batch) / 1000)} kimg)`);
    const moved = run.rewind(step, (step * cfg.batch) / 1000);
    if (moved) run.log(moved);
  } else {
    run = createRunDir(cfg.outdir, cfg.desc || `${basename(setup.teacherName).replace(/\.safetensors$/, '').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '')}-${cfg.loss}`, cfg, meta, { echo: opts.echo });
    layouts = { theta: treeLayout(setup.theta0), phi: treeLayout(setup.phi0) };
    const theta = flatParams(setup.theta0);
    gen = { theta: theta.ref, ema: theta.ref, opt: adamInit(theta) };
    const phi = flatParams(setup.phi0);
    fake = { phi: phi.ref, opt: adamInit(phi) };
    run.log(`Distilling ${setup.teacherName} with loss '${cfg.loss}' into ${setup.models.generator.kind}; run folder ${run.path}`);
  }
  setup.log = (s: string) => run.log(s);
  const fns = makeSteps<np.Array>(setup.models, stepOptionsOf(cfg), layouts);
  const { fakeStep } = fns;
  // the generator's EMA as a param tree (views of its flat vector): for snapshots, metrics and grids
  const emaTree = () => paramTree<Params>(gen.ema.ref, layouts.theta);
  await trackBuffers().catch(() => undefined);

  const totalSteps = Math.ceil((cfg.duration * 1000) / cfg.batch);
  if (cfg.resume && step >= totalSteps) run.log(`nothing to run: the run is at ${kimgText((step * cfg.batch) / 1000)} kimg, duration ${cfg.duration} kimg (give a longer --duration to go on)`);
  const stepsPerTick = Math.max(1, Math.round((cfg.tick * 1000) / cfg.batch));
  const snapshots: string[] = [];
  const metrics: Record<string, number>[] = [];
  let stoppedEarly = false;
  // Step scalars are read back at most IN_FLIGHT steps late: a few steps in flight keep the GPU queue
  // fed. Stock jax-js 0.1.25 slowed down with every unread step (measured: 78 ms/step reading every
  // step, 226 ms reading every 50: its per-output pending bookkeeping, now patched, patches/README.md);
  // unread results also hold their buffers, so the window stays small (and is 0 on Wasm: stepsInFlight).
  const IN_FLIGHT = stepsInFlight();
  const inflight: { phase: 'f' | 'g'; st: StepStats }[] = [];
  const host = { f: partial.f, g: partial.g };
  const drain = async (keep: number) => {
    while (inflight.length > keep) {
      const { phase, st } = inflight.shift()!;
      host[phase].push(await readScalars([st.loss, st.gradNorm, st.finite]));
    }
  };
  const push = async (phase: 'f' | 'g', st: StepStats) => {
    inflight.push({ phase, st });
    await drain(IN_FLIGHT);
  };

  // `pos` and the tick's step scalars so far let a run resumed mid-tick close that tick as if never stopped
  const saveState = async (pos: LoopPosition) => {
    await drain(0);
    // per-leaf names as ever (`theta.<name>`, …), read from the flat vectors
    const tensors: Params = {};
    const put = (prefix: string, t: Params) => Object.entries(t).forEach(([k, v]) => (tensors[prefix + k] = v));
    put('theta.', paramTree<Params>(gen.theta.ref, layouts.theta));
    put('ema.', emaTree());
    put('phi.', paramTree<Params>(fake.phi.ref, layouts.phi));
    put('gopt.', adamStateToTensors(tree.ref(gen.opt), layouts.theta));
    put('fopt.', adamStateToTensors(tree.ref(fake.opt), layouts.phi));
    const path = run.file(snapshotName(STATE_PREFIX, (step * cfg.batch) / 1000));
    try {
      await saveParams(path, tensors, { format: STATE_FORMAT, step, fakeDone, skipped, config: cfg, loop: pos, partialTick: { f: host.f, g: host.g } });
    } finally {
      tree.dispose(tensors);
    }
    return path;
  };
  const states = stateRotation((p) => rmSync(p, { force: true }));
  const saveTimedState = async (pos: LoopPosition) => states.timed(await saveState(pos));

  const snapshot = async (pos: LoopPosition) => {
    const kimg = (step * cfg.batch) / 1000;
    const path = run.file(snapshotName(SNAPSHOT_PREFIX, kimg));
    const ema = emaTree();
    try {
      await saveParams(path, ema, { ...setup.generatorMeta, kimg, step, lossKind: cfg.loss, config: cfg, device: opts.device ?? '' });
    } finally {
      tree.dispose(ema);
    }
    snapshots.push(path);
    if (setup.evaluate && cfg.evalN > 0) {
      const m = await setup.evaluate(emaTree(), cfg.evalN);
      const row = { kimg, step, ...m };
      metrics.push(row);
      run.log(`metrics @ ${kimgText(kimg)} kimg: ${fmtMetrics(m)}`);
      run.stats({ kind: 'metrics', ...row });
      writeRunCurves(run.path);
      for (const [k, v] of Object.entries(m)) if (typeof v === 'number') run.tb.scalar(`Metrics/${k}`, v, kimg * 1000);
    }
    states.snapshot(await saveState(pos));
    return path;
  };

  const finishTick = async ({ tick, steps: tickSteps, seconds: secs }: TickInfo) => {
    await drain(0);
    const f = host.f.splice(0), g = host.g.splice(0);
    const fLoss = mean(col(f, 0)), fNorm = mean(col(f, 1)), gLoss = mean(col(g, 0)), gNorm = mean(col(g, 1));
    const bad = col(f, 2).filter((x) => !x).length + col(g, 2).filter((x) => !x).length;
    skipped += bad;
    const kimg = (step * cfg.batch) / 1000;
    const imgPerSec = (tickSteps * cfg.batch) / Math.max(secs, 1e-9);
    let live = -1;
    try {
      live = liveBuffers();
    } catch {
      /* not tracked */
    }
    const row = { kind: 'tick', tick, kimg, step, fakeLoss: fLoss, fakeGradNorm: fNorm, genLoss: gLoss, genGradNorm: gNorm, skipped, secPerTick: secs, imagesPerSec: imgPerSec, totalSec: (Date.now() - t0) / 1000, liveBuffers: live };
    run.stats(row);
    run.log(
      `tick ${String(tick).padEnd(5)} kimg ${kimgText(kimg).padEnd(8)} time ${fmtTime((Date.now() - t0) / 1000).padEnd(9)} sec/tick ${secs.toFixed(1).padEnd(7)} img/s ${rateText(imgPerSec).padEnd(6)} ` +
        `fake ${f.length ? fLoss.toPrecision(4) : '-'} gen ${gLoss.toPrecision(4)} |g| ${gNorm.toPrecision(3)} skipped ${skipped}`,
    );
    const applied = (r: number[]) => !!r[2];
    stopIfAllSkipped(tick, [{ name: 'generator', rows: g, finite: applied, loss: (r) => r[0] }, { name: 'fake-score', rows: f, finite: applied, loss: (r) => r[0] }]);
    const tb = run.tb;
    for (const [k, v] of Object.entries({ 'Loss/fake': fLoss, 'Loss/generator': gLoss, 'GradNorm/fake': fNorm, 'GradNorm/generator': gNorm, 'Timing/images_per_sec': imgPerSec, 'Health/skipped_steps': skipped })) {
      if (Number.isFinite(v)) tb.scalar(k, v, Math.round(kimg * 1000));
    }
    if (setup.drawGrid) await setup.drawGrid(emaTree(), run, kimg);
  };

  let stopReason: StopReason = '';
  const oneStep = async (s: number) => {
    const state: DistillState<np.Array> = { gen, fake, fakeDone };
    try {
      await distillIteration<np.Array>(fns, state, setup.teacherParams, cfg, s, fakeSteps, push);
    } finally {
      ({ gen, fake, fakeDone } = state); // what was consumed is replaced, even if a read threw
    }
    step = s + 1;
  };
  let failed = false;
  try {
    // Before the first step the grid and the metrics of the initial generator can take a minute on a
    // CPU: a line says so, and on a terminal a live line counts the images.
    const initialEval = step === 0 && setup.evaluate && cfg.evalN > 0 && !isFitProbe();
    if (step === 0 && setup.drawGrid) {
      if (setup.models.generator.kind !== 'mlp') run.log(`initial generator: sample grid of ${cfg.gridSeeds} seeds${initialEval ? `, then metrics on ${cfg.evalN} samples` : ''}…`);
      await withImageProgress('grid', (on) => setup.drawGrid!(emaTree(), run, 0, on));
    }
    // The starting point of every FD-versus-kimg curve: the generator before its first step.
    if (initialEval) {
      const m = await withImageProgress('initial metrics', (on) => setup.evaluate!(emaTree(), cfg.evalN, on));
      metrics.push({ kimg: 0, step: 0, ...m });
      run.log(`metrics @ 0 kimg (initial generator): ${fmtMetrics(m)}`);
      run.stats({ kind: 'metrics', kimg: 0, step: 0, initial: true, ...m });
      writeRunCurves(run.path);
    }
    // fake-score warm-up (analytic teachers: the fake score starts untrained)
    const warm = usesFake && fakeDone < cfg.fakeWarmup;
    while (fakeDone < cfg.fakeWarmup && usesFake) {
      const [next, st] = fakeStep(fake, gen.theta.ref, stepKey(cfg.seed, fakeDone, 0), np.array(1));
      fake = next;
      fakeDone++;
      await push('f', st);
    }
    if (warm) {
      await drain(0);
      run.log(`fake-score warm-up: ${cfg.fakeWarmup} steps, final loss ${mean(col(host.f.slice(-20), 0)).toPrecision(4)}`);
      host.f = [];
    }
    const r = await trainingLoop(
      { startStep: step, startPosition, snapshotAtStart, stateMinutes: cfg.stateMinutes, totalSteps, stepsPerTick, snap: cfg.snap, maxMinutes: cfg.maxMinutes, t0, signal: opts.signal, log: (l) => run.log(l), batch: cfg.batch },
      { step: oneStep, finishTick, snapshot: async (pos) => void (await snapshot(pos)), saveState: saveTimedState, pending: () => host.g.length > 0 || inflight.length > 0, status: () => [host.g.at(-1) && `gen ${host.g.at(-1)![0].toPrecision(4)}`, host.f.at(-1) && `fake ${host.f.at(-1)![0].toPrecision(4)}`].filter(Boolean).join(' ') },
    );
    stopReason = r.stoppedEarly;
    stoppedEarly = r.stoppedEarly !== '';
  } catch (e) {
    run.log(stoppedBy(e));
    failed = true;
    throw e;
  } finally {
    run.log(`Done: ${step} generator steps (${kimgText((step * cfg.batch) / 1000)} kimg), ${skipped} skipped, ${fmtTime((Date.now() - t0) / 1000)}${stoppedEarly ? ' (stopped early)' : ''}`);
    run.close();
    // a new run that failed before its first step leaves no folder behind (the error says what was wrong)
    if (failed && !cfg.resume && step === 0) run.discard();
    tree.dispose(gen);
    tree.dispose(fake);
  }
  const result: DistillResult = { runDir: run.path, kimg: (step * cfg.batch) / 1000, genSteps: step, skipped, snapshots, metrics, seconds: (Date.now() - t0) / 1000, stoppedEarly, stopReason };
  return result;
}

/**
 * Runs `fn` with a live line on a terminal (stderr) counting the images it generates (`on(done, total)`),
 * redrawn at least once a second (elapsed time) while the images are scored; erased when it ends.
 */
async function withImageProgress<T>(label: string, fn: (on: (done: number, total: number) => void) => Promise<T>): Promise<T> {
  let bar: Progress | null = null;
  let shown = 0;
  // until the first batch reports (its compile alone takes seconds on Wasm), a line without a count says what runs
  let first: Progress | null = new Progress(0, label, { minIntervalMs: 1000, rateUnit: ' img/s' });
  first.working('first batch (compile + run)…', true);
  first.tick(0);
  const on = (done: number, total: number) => {
    first?.clear();
    first = null;
    bar ??= new Progress(total, label, { minIntervalMs: 1000, rateUnit: ' img/s' });
    bar.tick(done - shown);
    shown = done;
  };
  const timer = setInterval(() => (first ?? bar)?.tick(0), 1000);
  timer.unref?.();
  try {
    return await fn(on);
  } finally {
    clearInterval(timer);
    (first as Progress | null)?.clear();
    (bar as Progress | null)?.clear();
  }
}

/** Frees the teacher params a setup holds (runDistill has already taken theta0 and phi0). */
export function disposeSetup(setup: DistillSetup): void {
  tree.dispose(setup.teacherParams);
}
