/**
 * The Web Worker shim (node-worker.ts) and jax-js's multithreaded Wasm backend on it.
 *
 * Run by the test runner, this file declares tests; run with DI_NODE_WORKER_CHILD=<job> it is the child
 * process those tests spawn (a short jax-js Wasm job printing one JSON line), so the thread count is set
 * by DI_WASM_THREADS before jax-js loads and the child's exit can be observed.
 */
import './node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { grad, jit, lax, numpy as np, valueAndGrad } from '@jax-js/jax';
import { initDevice } from './devices.js';
import { createNodeWorkerClass, nodeWorkerStats, wasmThreads } from './node-worker.js';

const SELF = fileURLToPath(import.meta.url);
const N = 96, H = 28, W = 28; // N·H·W = 75,264 > 65,535 (llvmpipe's loop limit; exact on Wasm)

const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const unb64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

/** Deterministic, non-trivial inputs without jax-js randomness (so both children get the same bytes). */
function pattern(shape: number[], seed: number): np.Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(0.37 * i + seed) * 0.5 + ((i * 7 + seed) % 13) / 26;
  return np.array(v).reshape(shape);
}

/** Expected d/dw sum(conv(ones[N,1,H,W], w, SAME 3×3)): tap (i, j) sees N·(H−[i≠1])·(W−[j≠1]) pixels. */
function onesConvGrad(): number[] {
  const out: number[] = [];
  for (let o = 0; o < 4; o++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out.push(N * (H - (i !== 1 ? 1 : 0)) * (W - (j !== 1 ? 1 : 0)));
  return out;
}

const step = jit((a: np.Array, b: np.Array, x: np.Array, w: np.Array, w2: np.Array) => {
  const mm = np.matmul(a, b);
  const y = lax.conv(x.ref, w.ref, [1, 1], 'SAME');
  const [l, g] = valueAndGrad((w: np.Array, w2: np.Array, x: np.Array) => {
    const h = np.tanh(lax.conv(x, w, [1, 1], 'SAME'));
    return np.square(lax.conv(h, w2, [2, 2], 'SAME')).sum();
  }, { argnums: [0, 1] })(w, w2, x);
  const [gw, gw2] = g as unknown as np.Array[];
  return { mm, y, l, gw, gw2 };
});

/** Child process: one jitted matmul + conv + grad on Wasm; prints the results and worker counters. */
async function childJob(job: string): Promise<void> {
  const info = await initDevice('wasm');
  if (job === 'throw') {
    await np.ones([4096]).mul(2).sum().data(); // start the pool, then fail
    throw new Error('child failed on purpose');
  }
  const out = step(pattern([128, 256], 1), pattern([256, 96], 2), pattern([8, 3, 32, 32], 3), pattern([16, 3, 3, 3], 4), pattern([8, 16, 3, 3], 5));
  const res: Record<string, string> = {};
  for (const k of ['mm', 'y', 'l', 'gw', 'gw2'] as const) res[k] = b64((await out[k].data()) as Float32Array);
  const onesGrad = jit(grad((w: np.Array, x: np.Array) => lax.conv(x, w, [1, 1], 'SAME').sum()));
  res.onesGrad = b64((await onesGrad(np.zeros([4, 1, 3, 3]), np.ones([N, 1, H, W])).data()) as Float32Array);
  // no process.exit: the test checks that the process ends by itself
  console.log(JSON.stringify({ threads: wasmThreads, device: info.name, res, stats: nodeWorkerStats() }));
}

interface ChildOut {
  status: number | null;
  signal: string | null;
  ms: number;
  stderr: string;
  json: { threads: number; device: string; res: Record<string, string>; stats: ReturnType<typeof nodeWorkerStats> } | null;
}

/** Runs this file as a child; `jaxFirst` imports @jax-js/jax before it (and so before node.ts). */
function runChild(job: string, threads: number, { timeoutMs = 180_000, jaxFirst = false } = {}): ChildOut {
  const t0 = Date.now();
  const entry = jaxFirst ? ['--input-type=module', '-e', `await import('@jax-js/jax'); await import(${JSON.stringify(pathToFileURL(SELF).href)});`] : [SELF];
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...entry], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, DI_NODE_WORKER_CHILD: job, DI_WASM_THREADS: String(threads) },
  });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('{'));
  return { status: r.status, signal: r.signal, ms: Date.now() - t0, stderr: r.stderr ?? '', json: line ? JSON.parse(line) : null };
}

if (process.env.DI_NODE_WORKER_CHILD) {
  await childJob(process.env.DI_NODE_WORKER_CHILD);
} else {
  const WorkerClass = createNodeWorkerClass();
  const shimTest = (name: string, fn: (Worker: NonNullable<typeof WorkerClass>) => Promise<void>) =>
    test(name, { skip: WorkerClass ? false : 'needs Node >= 20.16 (process.getBuiltinModule)', timeout: 60_000 }, () => fn(WorkerClass!));
  const blobUrl = (src: string) => URL.createObjectURL(new Blob([src], { type: 'application/javascript' }));

  /** Collects `count` replies from a worker. */
  const replies = (w: Worker, count: number) =>
    new Promise<unknown[]>((resolve, reject) => {
      const got: unknown[] = [];
      w.onmessage = (e) => {
        got.push(e.data);
        if (got.length === count) resolve(got);
      };
      w.onerror = (e) => reject(new Error(e.message));
    });

  shimTest('worker shim: messages posted before the source loads arrive in order', async (Worker) => {
    const url = blobUrl('self.onmessage = (e) => postMessage(e.data * 10);');
    const w = new Worker(url, { type: 'module' });
    URL.revokeObjectURL(url); // jax-js revokes once ready; the shim resolved the blob in the constructor
    const got = replies(w, 50);
    for (let i = 0; i < 50; i++) w.postMessage(i); // all queued behind the source
    assert.deepEqual(await got, Array.from({ length: 50 }, (_, i) => i * 10));
    const more = replies(w, 3);
    for (const v of [7, 8, 9]) w.postMessage(v);
    assert.deepEqual(await more, [70, 80, 90]);
    w.terminate();
  });

  shimTest('worker shim: shared WebAssembly.Memory and WebAssembly.Module pass through', async (Worker) => {
    // wasm: (module (import "env" "memory" (memory 1 1 shared)) (func (export "kernel") (param i32 i32) (i32.store (local.get 0) (local.get 1))))
    const bytes = new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 2, 127, 127, 0, 2, 16, 1, 3, 101, 110, 118, 6, 109, 101, 109, 111, 114, 121, 2, 3, 1, 1, 3, 2, 1, 0, 7,
      10, 1, 6, 107, 101, 114, 110, 101, 108, 0, 0, 10, 11, 1, 9, 0, 32, 0, 32, 1, 54, 2, 0, 11,
    ]);
    const module = new WebAssembly.Module(bytes);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const url = blobUrl(`
      let memory = null;
      self.onmessage = (e) => {
        if (e.data.type === 'init') { memory = e.data.memory; postMessage('ready'); return; }
        new WebAssembly.Instance(e.data.module, { env: { memory } }).exports.kernel(e.data.ptr, e.data.value);
        postMessage('done');
      };`);
    const w = new Worker(url, { type: 'module' });
    const got = replies(w, 2);
    w.postMessage({ type: 'init', memory });
    w.postMessage({ type: 'kernel', module, ptr: 64, value: 123456 });
    assert.deepEqual(await got, ['ready', 'done']);
    assert.equal(new Int32Array(memory.buffer)[16], 123456);
    w.terminate();
  });

  shimTest('worker shim: two workers run at the same time (Atomics rendezvous)', async (Worker) => {
    // Each worker raises its flag and blocks until the other's is up: this can only finish on two threads.
    const flags = new Int32Array(new SharedArrayBuffer(8));
    const url = blobUrl(`
      self.onmessage = (e) => {
        const { flags, me } = e.data, other = 1 - me;
        Atomics.store(flags, me, 1);
        Atomics.notify(flags, me);
        const r = Atomics.wait(flags, other, 0, 20000);
        postMessage(r === 'timed-out' ? 'alone' : 'met');
      };`);
    const ws = [new Worker(url), new Worker(url)];
    const got = ws.map((w) => replies(w, 1));
    ws.forEach((w, me) => w.postMessage({ flags, me }));
    assert.deepEqual(await Promise.all(got), [['met'], ['met']]);
    ws.forEach((w) => w.terminate());
  });

  shimTest('worker shim: an exception in a handler reaches onerror and the worker keeps serving', async (Worker) => {
    const w = new Worker(blobUrl(`self.onmessage = (e) => { if (e.data === 'bad') throw new Error('bad input'); postMessage(e.data); };`));
    const err = new Promise<string>((resolve) => (w.onerror = (e) => resolve(e.message)));
    w.postMessage('bad');
    assert.equal(await err, 'bad input');
    const ok = replies(w, 1);
    w.postMessage('fine');
    assert.deepEqual(await ok, ['fine']);
    w.terminate();
    w.postMessage('ignored after terminate');
  });

  shimTest('worker shim: a syntax error in the worker source reaches onerror', async (Worker) => {
    const w = new Worker(blobUrl('this is not javascript'));
    const err = new Promise<string>((resolve) => (w.onerror = (e) => resolve(e.message)));
    w.postMessage('anything');
    assert.match(await err, /Unexpected identifier|SyntaxError|Unexpected token/);
    w.terminate();
  });

  test('threaded Wasm (3 workers) gives the same matmul, conv and grads as single-threaded Wasm, and both processes exit by themselves', { timeout: 600_000 }, () => {
    const one = runChild('compute', 1);
    const many = runChild('compute', 3);
    for (const [name, c] of [['1 thread', one], ['3 threads', many]] as const) {
      assert.equal(c.signal, null, `${name}: child killed by ${c.signal} after ${c.ms} ms (did not exit by itself)`);
      assert.equal(c.status, 0, `${name}: exit status ${c.status}: ${c.stderr.split('\n').filter((l) => /Error/.test(l))[0] ?? c.stderr.slice(-500)}`);
      assert.ok(c.json, `${name}: no result line`);
    }
    const a = one.json!, b = many.json!;
    assert.equal(a.threads, 1);
    assert.equal(b.threads, 3);
    assert.equal(a.stats.created, 0, 'single-threaded run created workers');
    assert.equal(b.stats.created, 3, 'threaded run did not create the pool');
    // every worker got its init message plus kernels, and answered each message
    const busy = b.stats.posted.filter((p) => p > 1).length;
    assert.ok(busy >= 2, `only ${busy} worker(s) ran kernels: posted ${JSON.stringify(b.stats.posted)}`);
    assert.deepEqual(b.stats.replies, b.stats.posted, 'a worker left a message unanswered');
    for (const k of Object.keys(a.res)) {
      const x = unb64(a.res[k]), y = unb64(b.res[k]);
      assert.equal(y.length, x.length, `${k}: length`);
      assert.ok(x.every(Number.isFinite), `${k}: non-finite values`);
      // each output element is computed by the same kernel code on one thread: bitwise equal
      const diff = x.findIndex((v, i) => !Object.is(v, y[i]));
      assert.equal(diff, -1, `${k}[${diff}]: ${y[diff]} with 3 threads, ${x[diff]} with 1`);
    }
    assert.deepEqual(Array.from(unb64(b.res.onesGrad)), onesConvGrad(), 'conv weight gradient over 75,264 pixels');
    assert.ok(unb64(b.res.l)[0] > 0);
  });

  test('jax-js imported before node.ts: the shim stands down (one thread, no LinkError) and results are unchanged', { timeout: 600_000 }, () => {
    const one = runChild('compute', 1);
    const late = runChild('compute', 2, { jaxFirst: true });
    for (const [name, c] of [['1 thread', one], ['jax-js first', late]] as const) {
      assert.equal(c.signal, null, `${name}: child killed by ${c.signal} after ${c.ms} ms`);
      assert.equal(c.status, 0, `${name}: exit status ${c.status}: ${c.stderr.split('\n').filter((l) => /Error/.test(l))[0] ?? c.stderr.slice(-500)}`);
    }
    assert.equal(late.json!.threads, 1);
    assert.equal(late.json!.stats.created, 0);
    assert.match(late.json!.device, /1 thread\)/);
    for (const k of Object.keys(one.json!.res)) assert.equal(late.json!.res[k], one.json!.res[k], `${k} differs`);
  });

  test('a child whose Wasm job fails after starting the pool exits with an error instead of hanging', { timeout: 300_000 }, () => {
    const c = runChild('throw', 2, { timeoutMs: 120_000 });
    assert.equal(c.signal, null, `child killed by ${c.signal} after ${c.ms} ms (hung)`);
    assert.notEqual(c.status, 0);
    assert.match(c.stderr, /child failed on purpose/);
  });

  test('this process uses the shim as configured', () => {
    const want = process.env.DI_WASM_THREADS ? Number(process.env.DI_WASM_THREADS) : undefined;
    if (wasmThreads > 1) {
      assert.equal(typeof (globalThis as any).Worker, 'function');
      assert.equal((globalThis as any).navigator.hardwareConcurrency, wasmThreads);
    }
    if (want === 1) assert.equal(wasmThreads, 1);
  });
}
