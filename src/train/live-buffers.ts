/**
 * Live device-buffer counter, for leak tests and the trainer's health stats.
 *
 * jax-js does not export its backends, so this reaches the pinned 0.1.25 internal chunk (the version
 * is pinned in package.json for this reason) and wraps each backend instance's malloc/incRef/decRef
 * with a shadow reference count. `liveBuffers()` is then the number of slots allocated and not yet
 * freed on that backend: a training loop that does not leak keeps it flat.
 */
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defaultDevice, type Device } from '@jax-js/jax';

type BackendLike = {
  malloc(size: number, init?: Uint8Array): number;
  /** WebGPU with our 'jit-executor' patch: a malloc that may take a given buffer from the pool. */
  mallocPreferring?(size: number, preferred: unknown[]): number;
  incRef(slot: number): void;
  decRef(slot: number): void;
};

let getBackendFn: ((d?: Device) => BackendLike) | null = null;
const shadows = new WeakMap<BackendLike, Map<number, number>>();

async function loadGetBackend(): Promise<(d?: Device) => BackendLike> {
  if (getBackendFn) return getBackendFn;
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('@jax-js/jax'));
  const chunk = readdirSync(dist).find((f) => /^backend-.*\.js$/.test(f));
  if (!chunk) throw new Error('live-buffers: jax-js backend chunk not found (jax-js version changed?)');
  const mod = await import(pathToFileURL(join(dist, chunk)).href);
  // In 0.1.25 the chunk exports getBackend as `s` (see dist/index.js's import list).
  const fn = mod.s;
  if (typeof fn !== 'function') throw new Error('live-buffers: getBackend not found in jax-js chunk (jax-js version changed?)');
  getBackendFn = fn;
  return fn;
}

function instrument(backend: BackendLike): Map<number, number> {
  let map = shadows.get(backend);
  if (map) return map;
  const m = new Map<number, number>();
  const { malloc, mallocPreferring, incRef, decRef } = backend;
  backend.malloc = function (size, init) {
    const slot = malloc.call(this, size, init);
    m.set(slot, 1);
    return slot;
  };
  if (mallocPreferring) {
    backend.mallocPreferring = function (size, preferred) {
      const slot = mallocPreferring.call(this, size, preferred);
      m.set(slot, 1);
      return slot;
    };
  }
  backend.incRef = function (slot) {
    incRef.call(this, slot);
    if (m.has(slot)) m.set(slot, m.get(slot)! + 1);
  };
  backend.decRef = function (slot) {
    decRef.call(this, slot);
    const r = m.get(slot);
    if (r === undefined) return;
    if (r <= 1) m.delete(slot);
    else m.set(slot, r - 1);
  };
  shadows.set(backend, m);
  return m;
}

/** Starts counting on `device` (default: jax-js's default device). Buffers made before this are not seen. */
export async function trackBuffers(device?: Device): Promise<void> {
  const gb = await loadGetBackend();
  instrument(gb(device ?? defaultDevice()));
}

/** Number of buffers allocated since `trackBuffers` and still alive on `device`. */
export function liveBuffers(device?: Device): number {
  if (!getBackendFn) throw new Error('liveBuffers: call trackBuffers() first');
  const m = shadows.get(getBackendFn(device ?? defaultDevice()));
  if (!m) throw new Error(`liveBuffers: buffers on ${device ?? defaultDevice()} are not tracked; call trackBuffers() first`);
  return m.size;
}
