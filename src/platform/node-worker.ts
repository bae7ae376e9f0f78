/**
 * Multithreaded Wasm for jax-js in Node: a Web-Worker-compatible global `Worker` on `node:worker_threads`.
 *
 * jax-js 0.1.25 runs Wasm kernels on a pool of Web Workers sharing one `WebAssembly.Memory`, but only
 * when the globals `Worker` and `SharedArrayBuffer` exist when jax-js is first evaluated (the Wasm
 * backend and its pool are created at import time, the pool sized by `navigator.hardwareConcurrency`).
 * Node 20 has no global `Worker`, so without this module Wasm runs on one thread. `./node.ts` imports
 * this module; import `node.ts` before anything imports `@jax-js/jax`.
 *
 * What the shim supports (what jax-js's `WasmWorkerPool` needs): `new Worker(url)` for `blob:` URLs
 * (from `URL.createObjectURL(new Blob([source]))`), `data:` and `file:` URLs holding a classic script
 * (no `import` statements: the source is evaluated with indirect `eval`); `onmessage`, `onerror`,
 * `onmessageerror` and `addEventListener`; `postMessage(data, transfer)` (shared `WebAssembly.Memory`
 * and `WebAssembly.Module` pass through structured clone); `terminate()`. Inside the worker: `self`,
 * `postMessage`, `self.onmessage`, `addEventListener('message')`, `close()`.
 *
 * A blob's text can only be read asynchronously in Node, so the constructor starts a bootstrap worker
 * at once, sends the source as its first message when it is read, and queues earlier `postMessage`
 * calls behind it in order.
 *
 * Process lifetime: an idle worker is unref'd (a finished CLI or test exits), and it is ref'd while a
 * message sent to it has no reply yet (posts minus replies > 0), so `await x.data()` on pending Wasm work
 * keeps Node alive. This assumes one reply per message, which is jax-js's protocol.
 *
 * `DI_WASM_THREADS`: pool size (default `os.availableParallelism()`); 1 installs nothing (jax-js then uses
 * unshared memory on the main thread). The pool costs a worker round trip per kernel (~20 µs idle, more
 * on a busy machine), so tiny models (2-D toy MLPs) run faster with 1; see benchmarks/README.md. Needs Node >= 20.16 (`process.getBuiltinModule`, used so that this
 * file has no static `node:` imports and stays harmless in a browser bundle); older Nodes stay single-threaded.
 */

const g = globalThis as any;

/** Counters for tests: one entry per worker the shim created (in creation order). */
export interface NodeWorkerStats {
  created: number;
  /** Messages posted to each worker (the source message excluded). */
  posted: number[];
  /** Replies received from each worker. */
  replies: number[];
}

const stats: NodeWorkerStats = { created: 0, posted: [], replies: [] };

/** Snapshot of the shim's counters (all zero when the shim is not installed). */
export function nodeWorkerStats(): NodeWorkerStats {
  return { created: stats.created, posted: [...stats.posted], replies: [...stats.replies] };
}

// Runs inside each worker thread (CommonJS script, `eval: true`). The first message is the worker source.
// Worker → main messages are envelopes: [0, data] for postMessage, [1, message, stack] for an exception
// thrown by a message handler (the worker keeps running, as a browser worker does).
const BOOTSTRAP = `
'use strict';
const { parentPort } = require('node:worker_threads');
const self = globalThis;
self.self = self;
const listeners = new Set();
self.onmessage = null;
self.postMessage = (data, transfer) => {
  const list = Array.isArray(transfer) ? transfer : transfer && transfer.transfer;
  parentPort.postMessage([0, data], list || undefined);
};
self.addEventListener = (type, fn) => { if (type === 'message') listeners.add(fn); };
self.removeEventListener = (type, fn) => { if (type === 'message') listeners.delete(fn); };
self.close = () => parentPort.close();
let loaded = false;
parentPort.on('message', (msg) => {
  if (!loaded) {
    loaded = true;
    (0, eval)(msg);
    return;
  }
  const ev = { type: 'message', data: msg, target: self, currentTarget: self };
  try {
    if (typeof self.onmessage === 'function') self.onmessage(ev);
    for (const fn of listeners) fn.call(self, ev);
  } catch (err) {
    parentPort.postMessage([1, String(err && err.message || err), String(err && err.stack || '')]);
  }
});
`;

/** An `ErrorEvent`-like event (Node 20 has no global ErrorEvent): `message` and `error` as in browsers. */
type WorkerErrorEvent = Event & { readonly message: string; readonly error: unknown; readonly filename: string; readonly lineno: number; readonly colno: number };

function errorEvent(err: unknown): WorkerErrorEvent {
  const ev = new Event('error', { cancelable: true });
  const message = err instanceof Error ? err.message : String(err);
  return Object.defineProperties(ev, {
    message: { value: message, enumerable: true },
    error: { value: err, enumerable: true },
    filename: { value: '', enumerable: true },
    lineno: { value: 0, enumerable: true },
    colno: { value: 0, enumerable: true },
  }) as WorkerErrorEvent;
}

function createWorkerClass(req: (id: string) => any): any {
  const { Worker: NodeWorker } = req('node:worker_threads');
  const { resolveObjectURL } = req('node:buffer');
  const { readFile } = req('node:fs/promises');
  const { fileURLToPath } = req('node:url');

  async function loadSource(href: string): Promise<string> {
    if (href.startsWith('blob:')) {
      const blob = resolveObjectURL(href);
      if (!blob) throw new Error(`Worker: unknown or revoked blob URL ${href}`);
      return blob.text();
    }
    if (href.startsWith('data:')) return (await fetch(href)).text();
    if (href.startsWith('file:')) return readFile(fileURLToPath(href), 'utf8');
    throw new Error(`Worker: unsupported URL ${href} (expected blob:, data: or file:)`);
  }

  return class Worker extends EventTarget {
    onmessage: ((this: Worker, ev: MessageEvent) => unknown) | null = null;
    onerror: ((this: Worker, ev: WorkerErrorEvent) => unknown) | null = null;
    onmessageerror: ((this: Worker, ev: MessageEvent) => unknown) | null = null;
    #worker: any;
    #index: number;
    /** Messages waiting for the source to be sent; null once it has been. */
    #queue: [unknown, unknown[] | undefined][] | null = [];
    #outstanding = 0;
    #terminated = false;

    constructor(url: string | URL, options: { type?: 'classic' | 'module'; name?: string } = {}) {
      super();
      const href = String(url);
      // loadSource resolves a blob: URL synchronously (before its first await), so the caller may revoke it.
      const source = loadSource(href);
      this.#index = stats.created++;
      stats.posted.push(0);
      stats.replies.push(0);
      this.#worker = new NodeWorker(BOOTSTRAP, { eval: true, name: options.name });
      this.#worker.unref();
      this.#worker.on('message', (m: unknown) => this.#receive(m));
      this.#worker.on('messageerror', (e: unknown) => {
        this.#reply();
        this.#emit('messageerror', new MessageEvent('messageerror', { data: e }));
      });
      this.#worker.on('error', (e: unknown) => this.#fail(e));
      this.#worker.on('exit', (code: number) => {
        if (!this.#terminated && this.#outstanding > 0) {
          // the sender waits for replies that will never come: say so instead of exiting silently
          process.emitWarning(`Worker thread exited (code ${code}) with ${this.#outstanding} message(s) unanswered`);
        }
        this.#settle();
      });
      source.then(
        (text) => {
          if (this.#terminated) return;
          this.#worker.postMessage(text);
          const queued = this.#queue!;
          this.#queue = null;
          for (const [data, transfer] of queued) this.#worker.postMessage(data, transfer);
        },
        (e) => this.#fail(e),
      );
    }

    postMessage(data: unknown, transfer?: unknown[] | { transfer?: unknown[] }): void {
      if (this.#terminated) return;
      const list = Array.isArray(transfer) ? transfer : transfer?.transfer;
      stats.posted[this.#index]++;
      if (this.#outstanding++ === 0) this.#worker.ref();
      if (this.#queue) this.#queue.push([data, list]);
      else this.#worker.postMessage(data, list);
    }

    terminate(): void {
      if (this.#terminated) return;
      this.#terminated = true;
      this.#queue = null;
      this.#settle();
      void this.#worker.terminate();
    }

    #reply(): void {
      stats.replies[this.#index]++;
      if (this.#outstanding > 0 && --this.#outstanding === 0) this.#worker.unref();
    }

    /** No replies can come any more: let the process exit. */
    #settle(): void {
      this.#outstanding = 0;
      this.#worker.unref();
    }

    #receive(m: unknown): void {
      if (this.#terminated) return;
      const [kind, a, b] = m as [number, unknown, unknown];
      this.#reply();
      if (kind === 0) this.#emit('message', new MessageEvent('message', { data: a }));
      else {
        const err = new Error(String(a));
        if (b) err.stack = String(b);
        this.#emit('error', errorEvent(err));
      }
    }

    /** The thread died (uncaught exception, bad source, out of memory): no replies will come. */
    #fail(e: unknown): void {
      if (this.#terminated) return;
      if (this.#outstanding > 0) {
        process.emitWarning(`Worker thread failed with ${this.#outstanding} message(s) unanswered: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.#settle();
      this.#emit('error', errorEvent(e));
    }

    #emit(type: 'message' | 'messageerror' | 'error', ev: Event): void {
      const handler = type === 'message' ? this.onmessage : type === 'error' ? this.onerror : this.onmessageerror;
      if (typeof handler === 'function') handler.call(this, ev as any);
      else if (type === 'error' && !this.#errorListeners) {
        // an unhandled worker error must not vanish silently
        process.emitWarning(`Worker error: ${(ev as WorkerErrorEvent).message}`);
      }
      this.dispatchEvent(ev);
    }

    #errorListeners = 0;
    override addEventListener(...args: Parameters<EventTarget['addEventListener']>): void {
      if (args[0] === 'error') this.#errorListeners++;
      super.addEventListener(...args);
    }
  };
}

function parseThreads(defaultThreads: number): number {
  const raw = g.process?.env?.DI_WASM_THREADS;
  if (raw === undefined || raw === '') return defaultThreads;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    process.emitWarning(`DI_WASM_THREADS must be a positive integer, got '${raw}': using ${defaultThreads}`);
    return defaultThreads;
  }
  return n;
}

function builtinRequire(): ((id: string) => any) | null {
  const req: ((id: string) => any) | undefined = g.process?.getBuiltinModule;
  if (!g.process?.versions?.node || typeof req !== 'function') return null;
  return (id) => req.call(g.process, id);
}

/**
 * A fresh copy of the shim's Worker class (also when it is not installed as the global), or null outside
 * Node >= 20.16. For tests.
 */
export function createNodeWorkerClass(): (new (url: string | URL, options?: { type?: 'classic' | 'module'; name?: string }) => Worker) | null {
  const req = builtinRequire();
  return req ? createWorkerClass(req) : null;
}

/**
 * Where jax-js looks the global up: `hasSharedArrayBuffer()` in its backend chunk. The Wasm backend's
 * memory is shared (and kernels import shared memory) only if the Worker global existed when the
 * backend was constructed, so jax-js must see the same answer at construction and at every later
 * kernel compile. If jax-js was imported before this module (its backend already built on unshared
 * memory), a Worker appearing afterwards would make its kernels import shared memory and fail to link
 * ("memory import 0 has no maximum limit"). So the global is an accessor that decides at the first
 * lookup coming from jax-js: from `new WasmBackend` (jax-js loaded after the shim) it stays; from anywhere
 * else in jax-js (loaded before the shim) it is removed and Wasm stays single-threaded.
 */
const JAX_DIST_FRAME = /[\\/]@jax-js[\\/]jax[\\/]dist[\\/]/;
let decided = false;

function decideFromStack(WorkerClass: unknown): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frames = stack.split('\n').slice(2); // "Error", this function; then the getter and its callers
  if (!frames.some((f) => JAX_DIST_FRAME.test(f))) return; // not jax-js asking: keep waiting
  decideWasmThreads(frames.some((f) => /\bnew WasmBackend\b/.test(f)), WorkerClass);
}

function decideWasmThreads(keep: boolean, WorkerClass: unknown): void {
  if (decided) return;
  decided = true;
  if (keep) {
    Object.defineProperty(g, 'Worker', { value: WorkerClass, writable: true, configurable: true, enumerable: false });
  } else {
    delete g.Worker;
    wasmThreads = 1;
  }
}

/**
 * Call once `@jax-js/jax` has been evaluated (devices.ts does, at import): if jax-js never looked up
 * the Worker global, it was imported before this module, so the pool is off (Wasm on the main thread).
 */
export function settleWasmThreads(): number {
  if (!decided && installedClass) decideWasmThreads(false, installedClass);
  return wasmThreads;
}

let installedClass: unknown = null;

function install(): number {
  const req = builtinRequire();
  if (!req) return 1;
  if (typeof g.Worker !== 'undefined') {
    // a real Worker global (a future Node, Deno, Bun): leave it alone
    decided = true;
    return Math.max(1, Number(g.navigator?.hardwareConcurrency) || 4);
  }
  const os = req('node:os');
  const threads = parseThreads(typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  if (threads <= 1 || typeof g.SharedArrayBuffer === 'undefined') return 1;
  const WorkerClass = createWorkerClass(req);
  installedClass = WorkerClass;
  Object.defineProperty(g, 'Worker', {
    configurable: true,
    enumerable: false,
    get() {
      if (!decided) decideFromStack(WorkerClass);
      return wasmThreads > 1 ? WorkerClass : undefined;
    },
    set(v: unknown) {
      decided = true; // someone installed their own Worker: leave the choice to them
      Object.defineProperty(g, 'Worker', { value: v, writable: true, configurable: true, enumerable: false });
    },
  });
  // jax-js sizes its pool from navigator.hardwareConcurrency when its module is evaluated
  if (typeof g.navigator === 'undefined') {
    g.navigator = { hardwareConcurrency: threads, userAgent: 'node' };
  } else {
    try {
      Object.defineProperty(g.navigator, 'hardwareConcurrency', { value: threads, configurable: true });
    } catch {
      /* read-only navigator: jax-js uses its own value */
    }
  }
  return threads;
}

/**
 * Worker threads jax-js's Wasm backend uses in this process (1: no pool, Wasm runs on the main thread).
 * Becomes 1 if jax-js turns out to have been imported before this module (see `settleWasmThreads`).
 */
export let wasmThreads: number = install();
