/**
 * Test helpers: run a numeric check on every backend this machine has (Wasm always; WebGPU when an
 * adapter exists, llvmpipe included), and count live device buffers for leak tests.
 */
import '../platform/node.js';
import { defaultDevice } from '@jax-js/jax';
import { test } from 'node:test';
import { initBackend, type Backend } from '../platform/devices.js';

let available: Promise<Backend[]> | null = null;

/** Backends usable here; `DI_TEST_BACKENDS=wasm` (comma list) restricts them. */
export function testBackends(): Promise<Backend[]> {
  available ??= (async () => {
    const wanted = (process.env.DI_TEST_BACKENDS ?? 'wasm,webgpu').split(',') as Backend[];
    const out: Backend[] = [];
    for (const b of wanted) if (await initBackend(b)) out.push(b);
    return out;
  })();
  return available;
}

/**
 * Declares `name` once per backend, with that backend as jax-js's default device while it runs.
 * Read results with `await x.data()` / `await x.jsAsync()`: WebGPU in Node cannot read synchronously.
 */
export function testOnBackends(name: string, fn: (backend: Backend) => Promise<void> | void, opts: { timeout?: number; only?: Backend[] } = {}): void {
  for (const b of opts.only ?? (['wasm', 'webgpu'] as Backend[])) {
    test(`${name} [${b}]`, { timeout: opts.timeout ?? 600_000 }, async (t) => {
      const have = await testBackends();
      if (!have.includes(b)) {
        t.skip(`${b} not available here`);
        return;
      }
      const prev = defaultDevice();
      defaultDevice(b);
      try {
        await fn(b);
      } finally {
        defaultDevice(prev);
      }
    });
  }
}

/** Asserts every |a-b| <= atol + rtol*|b| and names the first offending index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, { rtol = 1e-5, atol = 1e-6, what = 'value' } = {}): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`${what}[${i}] = ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}
