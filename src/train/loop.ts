/**
 * The step / tick / snapshot cadence the three trainers share (teacher, distill, GAN), as EDM's
 * training_loop runs it: steps until `totalSteps`, the wall-clock budget (`maxMinutes` from `t0`) or an
 * abort; a tick closes every `stepsPerTick` steps and at the end; a snapshot follows every `snap`-th tick
 * (not the last step's: the final snapshot comes after the loop, whatever ended it, unless one was
 * just written at that step). Between snapshots a training state alone is written every `stateMinutes`
 * of wall clock (`LoopHooks.saveState`), mid-tick if need be, so a run killed outright (kill -9, power
 * loss) loses at most that much. Each trainer says what one step, a tick, a snapshot and a state do; a
 * resumed run starts at its saved step, tick and position in the tick.
 */
import { Progress, type ProgressStream } from '../run/progress.js';

export type StopReason = '' | 'max-minutes' | 'interrupted';

/**
 * Set (to '1') in the fresh process that the CLI starts to learn whether one training step of a given
 * batch fits in WebAssembly's 4 GiB (`withTrainingBatchThatFits`, src/cli/common.ts): the loop stops
 * with `FitProbeDone` right after the first step, and trainers skip their initial evaluation.
 */
export const FIT_PROBE_ENV = 'DI_FIT_PROBE';
export const isFitProbe = (): boolean => typeof process !== 'undefined' && process.env?.[FIT_PROBE_ENV] === '1';

/** The run log's line for a loop that ended by an exception (an error's first line, or the fit probe's end). */
export function stoppedBy(e: unknown): string {
  if (e instanceof FitProbeDone) return e.message;
  return `Stopped by an error: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
}

/** Thrown by `trainingLoop` after the first step of a fit probe (not an error: the step fitted). */
export class FitProbeDone extends Error {
  constructor() {
    super('fit probe: the first training step ran');
  }
}

/** The tick being closed: its index, how many steps it ran and for how long. */
export interface TickInfo {
  tick: number;
  steps: number;
  seconds: number;
}

/** Where the loop stands, saved in a training state so that a resumed run closes its ticks as an uninterrupted one. */
export interface LoopPosition {
  /** Index of the tick in progress (the next one to close). */
  tick: number;
  /** Steps of that tick already run. */
  tickSteps: number;
}

export interface LoopOptions {
  /** First step to run (0, or a resumed run's saved step). */
  startStep: number;
  /** A resumed run's saved position (default: a fresh tick after `startStep`, as a stop closes its tick). */
  startPosition?: LoopPosition;
  /** True when a snapshot of `startStep` exists already (a resumed run that had written one): the end writes none again. */
  snapshotAtStart?: boolean;
  /** Minutes of wall clock between training states written between snapshots (0: none). */
  stateMinutes?: number;
  totalSteps: number;
  stepsPerTick: number;
  /** Ticks between snapshots. */
  snap: number;
  /** Wall-clock budget in minutes from `t0` (0: none). */
  maxMinutes: number;
  t0: number;
  signal?: AbortSignal;
  /** Gets the "first step (compile + run)" line. */
  log?: (line: string) => void;
  /**
   * Images per step: with it, a live line on stderr when it is a terminal (kimg done of total, img/s,
   * ETA and `LoopHooks.status`), redrawn at most once a second, erased while ticks and snapshots log.
   */
  batch?: number;
  /** Where the live line goes (tests; default process.stderr). */
  progressStream?: ProgressStream;
}

export interface LoopHooks {
  /** Runs (enqueues) step `step`; the loop counts it as done when this resolves. */
  step(step: number): Promise<void>;
  /** Closes a tick (read results, log, stats). */
  finishTick(info: TickInfo): Promise<void>;
  /** Writes a snapshot (and, with it, a training state at `pos`: after a tick closed, so `tickSteps` is 0). */
  snapshot(pos: LoopPosition): Promise<void>;
  /** Writes a training state alone (no snapshot, no metrics) at `pos`; needed for `stateMinutes`. */
  saveState?(pos: LoopPosition): Promise<void>;
  /** True while results of run steps are still unread (so the final partial tick must be closed). */
  pending(): boolean;
  /** The latest losses for the live line, e.g. `gen 0.0123 fake 2.30`. */
  status?(): string;
}

/** Runs the loop; returns the step reached and why it stopped early ('' when it ran to `totalSteps`). */
export async function trainingLoop(o: LoopOptions, h: LoopHooks): Promise<{ step: number; stoppedEarly: StopReason }> {
  let step = o.startStep;
  // a run stopped mid-tick closed that tick as a partial one: a resumed run goes on with the next index;
  // one resumed from a timed state goes on inside the tick it was in
  let tick = o.startPosition?.tick ?? Math.ceil(step / o.stepsPerTick);
  let tickSteps = o.startPosition?.tickSteps ?? 0;
  let tickStart = Date.now();
  const tFirst = Date.now();
  let stoppedEarly: StopReason = '';
  let snapStep = o.snapshotAtStart ? step : -1; // the step of the latest snapshot (a state comes with each)
  let lastState = Date.now();
  let lastYield = Date.now();
  const stateMs = (o.stateMinutes ?? 0) * 60_000;
  const bar = o.batch
    ? new Progress(o.totalSteps * o.batch, 'train', { stream: o.progressStream, minIntervalMs: 1000, initial: o.startStep * o.batch, fmtCount: fmtKimg, rateUnit: ' img/s' })
    : null;
  // phases without steps keep the live line moving; lines they log erase it first (run-dir.ts log)
  const phase = (what: string, fn: () => Promise<void>) => (bar ? bar.during(what, fn) : fn());
  const closeTick = async () => {
    const info: TickInfo = { tick, steps: tickSteps, seconds: (Date.now() - tickStart) / 1000 };
    await phase('tick', () => h.finishTick(info));
    tick++;
    tickSteps = 0;
    tickStart = Date.now();
  };
  try {
    while (step < o.totalSteps) {
      if (o.signal?.aborted) stoppedEarly = 'interrupted';
      else if (o.maxMinutes > 0 && (Date.now() - o.t0) / 60000 >= o.maxMinutes) stoppedEarly = 'max-minutes';
      if (stoppedEarly) break;
      // the first step compiles the jitted phases (seconds to minutes on a CPU): say so while it runs
      if (step === o.startStep) {
        await phase('compiling and running the first step', () => h.step(step));
        if (isFitProbe()) throw new FitProbeDone();
      } else {
        // a Wasm step keeps the main thread busy for seconds: the live line's heartbeat says which one runs
        bar?.working(`running step ${step + 1}`);
        await h.step(step);
        bar?.working(null);
      }
      step++;
      tickSteps++;
      if (step === o.startStep + 1) {
        bar?.clear();
        o.log?.(`first step (compile + run): ${((Date.now() - tFirst) / 1000).toFixed(1)} s`);
      }
      bar?.tick(o.batch, h.status?.());
      // Wasm on the main thread runs a step without leaving the microtask queue, so signals (a stop
      // request), timers and the live line's redraws wait for the event loop: give it a turn now and then
      if (Date.now() - lastYield >= 50) {
        await new Promise((r) => setImmediate(r));
        lastYield = Date.now();
      }
      if (step % o.stepsPerTick === 0 || step === o.totalSteps) {
        await closeTick();
        if (tick % o.snap === 0 && step !== o.totalSteps) {
          await phase('snapshot', () => h.snapshot({ tick, tickSteps }));
          snapStep = step;
          lastState = Date.now();
        }
      }
      if (stateMs > 0 && h.saveState && snapStep !== step && Date.now() - lastState >= stateMs && step < o.totalSteps) {
        await phase('training state', () => h.saveState!({ tick, tickSteps }));
        lastState = Date.now();
      }
    }
    // interrupted before its first step (e.g. during the initial evaluation): nothing changed since the
    // start (or the state it resumed from), so nothing is written; a budget stop still writes its snapshot
    if (stoppedEarly === 'interrupted' && step === o.startStep) {
      bar?.done(stoppedEarly);
      o.log?.(`${stopCause(stoppedEarly)} before the first step: nothing to write`);
      return { step, stoppedEarly };
    }
    if (stoppedEarly) {
      bar?.done(stoppedEarly); // no live line (nor an ETA that climbs) while the stop finishes
      o.log?.(stopLine(stoppedEarly, step === snapStep, tickSteps > 0 || h.pending()));
    }
    if (tickSteps > 0 || h.pending()) await closeTick();
    // a stop that lands right after a snapshot (or a resumed run with nothing left to do) writes none again:
    // the metrics rows of stats.jsonl stay one per evaluated kimg
    if (step !== snapStep) await phase('snapshot', () => h.snapshot({ tick, tickSteps }));
    bar?.done();
    return { step, stoppedEarly };
  } catch (e) {
    bar?.clear(); // the error's line follows: no live line (nor its heartbeat) behind it
    throw e;
  }
}

/**
 * Keeps one timed training state between snapshots: each timed state replaces the one before, and the
 * state written with a snapshot replaces the last timed one (a file of the same kimg is the same state).
 */
export function stateRotation(remove: (path: string) => void): { timed(path: string): void; snapshot(path: string): void } {
  let last = '';
  const replace = (path: string) => {
    if (last && last !== path) remove(last);
  };
  return {
    timed(path) {
      replace(path);
      last = path;
    },
    snapshot(path) {
      replace(path);
      last = '';
    },
  };
}

/** A tick's step scalars as a training state saved them: JSON has no NaN, so a skipped step's loss came back as null. */
export const rowsFromJson = (rows: (number | null)[][] | undefined): number[][] => (rows ?? []).map((r) => r.map((x) => (x === null ? NaN : x)));

/** What a stopped loop still does before it returns (a stop can take a while: a tick's grid, metrics). */
function stopLine(why: StopReason, snapshotted: boolean, partialTick: boolean): string {
  const what = [partialTick && 'closing the partial tick', !snapshotted && 'writing a snapshot (and its metrics, if any) and the training state'].filter(Boolean);
  return `${stopCause(why)}: ${what.length ? what.join(', then ') + '…' : 'the snapshot and training state of this step are written already'}`;
}

const stopCause = (why: StopReason) => (why === 'interrupted' ? 'interrupted' : 'wall-clock budget (maxMinutes) reached');

/**
 * Stops a run (throws a one-line error) when the non-finite guard skipped every step of a phase in the
 * tick just closed: the weights can no longer move, so going on would only burn time. `rows` are the
 * tick's step scalars; `finite` says whether a row's step was applied; `loss` gives its loss.
 */
export function stopIfAllSkipped(tick: number, phases: { name: string; rows: number[][]; finite: (r: number[]) => boolean; loss: (r: number[]) => number }[]): void {
  for (const { name, rows, finite, loss } of phases) {
    if (!rows.length || rows.some(finite)) continue;
    const cause = rows.every((r) => !Number.isFinite(loss(r))) ? 'its loss was NaN or ±Inf every time' : 'its gradients were NaN or ±Inf';
    throw new Error(`tick ${tick}: every ${name} step (${rows.length} of ${rows.length}) was skipped, ${cause}: training cannot go on (a learning rate too large, or a network with NaN weights, is the usual cause)`);
  }
}

/** Images as kimg for the live line: 0.256k, 12.8k, 1024k. */
function fmtKimg(images: number): string {
  return `${kimgText(images / 1000)}k`;
}

/** kimg for log lines: 0.128, 2.5, 12.3, 640 (thousandths while under 10, so short CPU runs read right). */
export function kimgText(k: number): string {
  return k < 10 ? k.toFixed(3).replace(/\.?0+$/, '') || '0' : k < 100 ? k.toFixed(1) : String(Math.round(k));
}

/** Images per second for log lines: 3 significant digits below 100 (a CPU's 0.97 is not "1"), whole above. */
export function rateText(r: number): string {
  return r < 100 ? r.toPrecision(3) : r.toFixed(0);
}

/** A metrics row for a log line: `n 200, fd 84.43, classAcc 0.9000` (counts as integers, others to 4 digits). */
export function fmtMetrics(m: Record<string, unknown>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v}`)
    .join(', ');
}

/** Mean of a list (NaN when empty). */
export const mean = (v: number[]): number => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);

/** "1h 2m", "3m 4s" or "5s", for progress lines. */
export function fmtTime(s: number): string {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
}
