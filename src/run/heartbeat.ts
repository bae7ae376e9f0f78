/**
 * A live line that keeps moving while the main thread is busy: a `worker_threads` heartbeat for
 * `Progress` (./progress.ts).
 *
 * jax-js's Wasm backend runs a training step (and the first call's tracing and compiling) as long
 * synchronous stretches of the main thread: small kernels run inline there, and the promises of a step
 * resolve as microtasks, so no timer of the main thread fires for seconds (4 s per fmnist quick-start
 * step on the idle 2-core machine, 15-24 s under load, 23 s for the first compile:
 * benchmarks/cpu-runs/quickstart-fmnist-cpu/). A worker thread has its own event loop: when the main
 * thread has not drawn the line for `afterMs`, it redraws it every `intervalMs` itself, straight to the
 * file descriptor (a worker's `process.stderr` is relayed through the main thread, which is the one that
 * is busy), with the elapsed time and the activity's time filled in.
 *
 * The two threads share one SharedArrayBuffer: a lock, an armed flag, the times, and the line as a
 * template (a run of U+0001 stands for the elapsed time, of U+0002 for the time since the activity began,
 * each as wide as the columns it reserves). The main
 * thread arms it when it draws and disarms it, under the lock, before it erases or ends the line, so the
 * worker can never write after the main thread's final output. Only for terminals (Progress is silent on
 * anything else); the worker is unref'd and never keeps the process alive. Node only: it reaches
 * `worker_threads` through `process.getBuiltinModule`, so a browser bundle (which imports progress.ts
 * through the training loop) gets no heartbeat and no `node:` import.
 */

const g = globalThis as any;

/** Placeholders in a template: the elapsed time since the bar started, and since the activity began. */
export const ELAPSED = '\u0001';
export const SINCE = '\u0002';

export interface HeartbeatOptions {
  /** File descriptor to write to (2: stderr). */
  fd: number;
  /** Redraw only when the main thread has not drawn for this long (default 2000 ms). */
  afterMs?: number;
  /** Time between the heartbeat's redraws (default 1000 ms). */
  intervalMs?: number;
}

// Int32 slots, then Float64 slots (after 8 Int32s), then the template's UTF-16 code units.
const LOCK = 0, ARMED = 1, LEN = 2, ROOM = 3, BEATS = 4;
const LAST_DRAW = 0, START = 1, SINCE_T = 2, LAST_BEAT = 3;
const F64_AT = 32, CHARS_AT = 64, MAX_CHARS = 1024;

// Runs in the worker (CommonJS, eval: true). fmtTime as progress.ts's: 0:12, 12:34, 1:02:03.
const WORKER = `
'use strict';
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { fd, sab, afterMs, intervalMs } = workerData;
const i32 = new Int32Array(sab, 0, 8);
const f64 = new Float64Array(sab, ${F64_AT}, 4);
const chars = new Uint16Array(sab, ${CHARS_AT}, ${MAX_CHARS});
const fmt = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? h + ':' + String(m).padStart(2, '0') + ':' + String(sec).padStart(2, '0') : m + ':' + String(sec).padStart(2, '0');
};
setInterval(() => {
  if (Atomics.load(i32, ${ARMED}) !== 1) return;
  if (Atomics.compareExchange(i32, ${LOCK}, 0, 1) !== 0) return; // the main thread is drawing: next time
  try {
    const now = Date.now();
    if (Atomics.load(i32, ${ARMED}) !== 1 || now - f64[${LAST_DRAW}] < afterMs || now - f64[${LAST_BEAT}] < intervalMs) return;
    let tpl = '';
    for (let i = 0; i < i32[${LEN}]; i++) tpl += String.fromCharCode(chars[i]);
    const fill = (t) => t.replace(/\\u0001+/, fmt(now - f64[${START}])).replace(/\\u0002+/, fmt(now - f64[${SINCE_T}]));
    let line = fill(tpl);
    if (line.length > i32[${ROOM}]) line = fill(tpl.replace(/ \\u0001+/, '')); // a long time: leave out the elapsed time, as the main thread would
    f64[${LAST_BEAT}] = now;
    writeSync(fd, '\\r' + line.slice(0, i32[${ROOM}]) + '\\x1b[K');
    Atomics.add(i32, ${BEATS}, 1);
  } catch {
    // a closed or full terminal: the main thread will meet it too
  } finally {
    Atomics.store(i32, ${LOCK}, 0);
  }
}, Math.max(20, Math.min(250, intervalMs / 2)));
`;

/** The main thread's side of one heartbeat worker (one per file descriptor and settings). */
export class Heartbeat {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly chars: Uint16Array;

  constructor(sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab, 0, 8);
    this.f64 = new Float64Array(sab, F64_AT, 4);
    this.chars = new Uint16Array(sab, CHARS_AT, MAX_CHARS);
  }

  /**
   * The line now standing on the terminal, as a template (ELAPSED, SINCE placeholders) cut to `room`
   * columns after filling in; `startMs` and `sinceMs` are the clock values the placeholders count from.
   * `drawn`: the main thread has just drawn it (false: only the template changed, e.g. a new activity).
   */
  arm(template: string, room: number, startMs: number, sinceMs: number, drawn: boolean): void {
    this.locked(() => {
      const n = Math.min(template.length, MAX_CHARS);
      for (let i = 0; i < n; i++) this.chars[i] = template.charCodeAt(i);
      this.i32[LEN] = n;
      this.i32[ROOM] = room;
      this.f64[START] = startMs;
      this.f64[SINCE_T] = sinceMs;
      if (drawn || Atomics.load(this.i32, ARMED) !== 1) this.f64[LAST_DRAW] = Date.now();
      Atomics.store(this.i32, ARMED, 1);
    });
  }

  /** The line is gone (erased or ended): the worker writes nothing until the next `arm`. Returns once it cannot. */
  disarm(): void {
    if (Atomics.load(this.i32, ARMED) === 0) return;
    this.locked(() => Atomics.store(this.i32, ARMED, 0));
  }

  /** Redraws the worker has made so far (tests). */
  get beats(): number {
    return Atomics.load(this.i32, BEATS);
  }

  private locked(fn: () => void): void {
    // the worker holds the lock only for one short write; Atomics.wait is allowed on Node's main thread
    while (Atomics.compareExchange(this.i32, LOCK, 0, 1) !== 0) Atomics.wait(this.i32, LOCK, 1, 1);
    try {
      fn();
    } finally {
      Atomics.store(this.i32, LOCK, 0);
    }
  }
}

const started = new Map<string, Heartbeat>();

/**
 * The heartbeat for `opts.fd` (its worker started on first use, shared by every bar of the process), or
 * null where there are no worker threads (a browser, an old Node) or `DI_HEARTBEAT=0`.
 */
export function heartbeat(opts: HeartbeatOptions): Heartbeat | null {
  const req: ((id: string) => any) | undefined = g.process?.getBuiltinModule;
  if (!g.process?.versions?.node || typeof req !== 'function' || typeof g.SharedArrayBuffer === 'undefined') return null;
  if (g.process.env?.DI_HEARTBEAT === '0') return null;
  const afterMs = opts.afterMs ?? 2000, intervalMs = opts.intervalMs ?? 1000;
  const key = `${opts.fd}:${afterMs}:${intervalMs}`;
  let hb = started.get(key);
  if (hb) return hb;
  const { Worker } = req.call(g.process, 'node:worker_threads');
  const sab = new SharedArrayBuffer(CHARS_AT + 2 * MAX_CHARS);
  const worker = new Worker(WORKER, { eval: true, name: 'progress heartbeat', workerData: { fd: opts.fd, sab, afterMs, intervalMs } });
  worker.unref();
  worker.on('error', () => undefined); // a heartbeat that fails only stops beating
  hb = new Heartbeat(sab);
  started.set(key, hb);
  if (started.size === 1) g.process.on('exit', silenceHeartbeats);
  return hb;
}

/** Disarms every heartbeat (before an error message or an exit: nothing may follow them). */
export function silenceHeartbeats(): void {
  for (const hb of started.values()) hb.disarm();
}
