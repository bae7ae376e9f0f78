/**
 * Node 20 platform shims and device bring-up for jax-js.
 *
 * jax-js 0.1.25 expects a browser-like global scope: `Float16Array` (Node 22+), iterator helpers
 * (`Iterator.prototype.map/filter`, Node 22+) and `navigator.gpu` for WebGPU. This module installs the
 * two shims at import time (import it before anything touches jax-js) and exposes `initDevice`, which
 * creates a Dawn-backed `navigator.gpu` (from the `webgpu` npm package) when WebGPU is requested.
 * It also installs a Web-Worker-compatible global `Worker` (`./node-worker.ts`) so that jax-js's Wasm
 * backend runs on a pool of worker threads (`DI_WASM_THREADS`, default: all cores).
 */
import './node-worker.js';

const g = globalThis as any;

// jax-js only references Float16Array for f16 buffers; a placeholder keeps module loading working on Node 20.
if (typeof g.Float16Array === 'undefined') {
  g.Float16Array = class Float16ArrayPlaceholder {
    constructor() {
      throw new Error('Float16Array is not available on this Node version; store f16 as Uint16 and convert');
    }
  };
}

// Iterator helpers (ES2025) used by jax-js: map and filter on iterator objects.
{
  const iterProto = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
  if (typeof iterProto.map !== 'function') {
    Object.defineProperty(iterProto, 'map', {
      configurable: true,
      writable: true,
      value: function* map(this: Iterator<unknown>, fn: (v: unknown, i: number) => unknown) {
        let i = 0;
        for (let r = this.next(); !r.done; r = this.next()) yield fn(r.value, i++);
      },
    });
  }
  if (typeof iterProto.filter !== 'function') {
    Object.defineProperty(iterProto, 'filter', {
      configurable: true,
      writable: true,
      value: function* filter(this: Iterator<unknown>, fn: (v: unknown, i: number) => boolean) {
        let i = 0;
        for (let r = this.next(); !r.done; r = this.next()) if (fn(r.value, i++)) yield r.value;
      },
    });
  }
  if (typeof iterProto.toArray !== 'function') {
    Object.defineProperty(iterProto, 'toArray', {
      configurable: true,
      writable: true,
      value: function toArray(this: Iterator<unknown>) {
        const out: unknown[] = [];
        for (let r = this.next(); !r.done; r = this.next()) out.push(r.value);
        return out;
      },
    });
  }
}

// Wasm kernels compiled by V8's optimizing tier from the start. V8 first compiles every Wasm function
// with its baseline compiler (Liftoff) and re-compiles it optimized only after enough calls; Wasm has
// no on-stack replacement, and jax-js runs each kernel as one long call, so the first call of every kernel
// (a whole first training step) ran in baseline code: a gan-small GAN's first step took 89.5 s instead of
// 12.7 s, the later steps 5.8 s either way, the same losses (2-core CPU machine, 2026-12-08,
// benchmarks/README.md). V8's flags are process-wide, so the worker threads' kernels follow.
// `DI_WASM_LIFTOFF=1` keeps V8's default.
if (typeof process !== 'undefined' && process.env?.DI_WASM_LIFTOFF !== '1') {
  const v8 = (process as any).getBuiltinModule?.('node:v8') as typeof import('node:v8') | undefined;
  v8?.setFlagsFromString('--no-liftoff');
}

export { settleWasmThreads, wasmThreads } from './node-worker.js';

export const isNode = typeof process !== 'undefined' && !!process.versions?.node;
