/**
 * Our jax-js patches (patches/jax-js.mjs, applied at install by scripts/patch-jax.mjs) keep jax-js's
 * semantics. 'pending-group': reading one output of a jit call runs the whole program (every other
 * output is then correct), and disposing every output unread cancels it without leaking buffers.
 * 'wasm-inline': small Wasm kernels run on the calling thread with the same bytes as on the workers.
 * 'wasm-grow': the Wasm memory grows a quarter at a time, so 100 MiB of arrays take a few grows, not
 * hundreds, with the same results. 'prepared-cache': a jit program's second call prepares no kernel
 * and gives the same bytes.
 */
import './node.js';
import { grad, jit, numpy as np, random } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { testOnBackends } from '../testing/backends.js';
import { liveBuffers, trackBuffers } from '../train/live-buffers.js';
import { PATCHES } from '../../patches/jax-js.mjs';
import { fileURLToPath } from 'node:url';
import { initDevice } from './devices.js';
import { setExecutor } from '../engine/executor.js';
import { nodeWorkerStats } from './node-worker.js';

// wasm-inline: its threshold is read when jax-js loads, so each setting runs in a child process (this
// file again, with DI_JAX_PATCH_CHILD=inline): a small MLP's jitted gradient (every kernel small) and one
// large matmul (2^24 multiply-adds) on Wasm with two worker threads. The bytes must not depend on the
// setting, and with the default only the large kernel reaches the workers.
async function inlineChild() {
  await initDevice('wasm');
  const [k1, k2, k3] = random.split(random.key(0), 3);
  const w = random.normal(k1, [64, 64]);
  const x = random.normal(k2, [32, 64]);
  const f = jit(grad((w: np.Array) => np.tanh(np.dot(x.ref, w)).sum()));
  const g = (await f(w).data()) as Float32Array;
  const small = nodeWorkerStats().posted.reduce((a, b) => a + b, 0);
  const a = random.normal(k3, [256, 256]);
  const big = (await np.dot(a.ref, a).data()) as Float32Array;
  const all = nodeWorkerStats().posted.reduce((a, b) => a + b, 0);
  const hex = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  console.log(JSON.stringify({ g: hex(g), big: hex(big), small, all, workers: nodeWorkerStats().created }));
}

function runInlineChild(inlineWork: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, DI_JAX_PATCH_CHILD: 'inline', DI_WASM_THREADS: '2', DI_WASM_INLINE_WORK: inlineWork },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('{'));
  assert.ok(r.status === 0 && line, `child exited ${r.status}: ${r.stderr.slice(-500)}`);
  return JSON.parse(line) as { g: string; big: string; small: number; all: number; workers: number };
}

// wasm-grow: 400 live arrays of 256 KiB (100 MiB) allocated one by one on single-threaded Wasm, in a
// child per setting (DI_WASM_GROW is read at each grow, but a process's memory only grows once).
async function growChild() {
  const grow = WebAssembly.Memory.prototype.grow;
  let grows = 0;
  WebAssembly.Memory.prototype.grow = function (delta: number) {
    grows++;
    return grow.call(this, delta);
  };
  await initDevice('wasm');
  const xs: np.Array[] = [];
  for (let i = 0; i < 400; i++) {
    const x = np.array(new Float32Array(65536).fill((i % 7) + 1)); // copied into Wasm memory
    await x.blockUntilReady();
    xs.push(x);
  }
  const sums: number[] = [];
  for (const i of [0, 1, 6, 199, 399]) sums.push((await xs[i].ref.sum().data())[0]);
  console.log(JSON.stringify({ grows, sums }));
}

function runGrowChild(mode: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, DI_JAX_PATCH_CHILD: 'grow', DI_WASM_THREADS: '1', DI_WASM_GROW: mode },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const line = r.stdout?.split('\n').find((l) => l.startsWith('{'));
  assert.ok(r.status === 0 && line, `child exited ${r.status}: ${r.stderr.slice(-500)}`);
  return JSON.parse(line) as { grows: number; sums: number[] };
}

if (process.env.DI_JAX_PATCH_CHILD === 'inline') {
  await inlineChild();
} else if (process.env.DI_JAX_PATCH_CHILD === 'grow') {
  await growChild();
} else {
  test('wasm-grow: 100 MiB of arrays grow the Wasm memory a few times, not once per block; same results', () => {
    const exact = runGrowChild('exact');
    const ahead = runGrowChild('');
    const expected = [0, 1, 6, 199, 399].map((i) => 65536 * ((i % 7) + 1)); // exact in float32
    assert.deepEqual(exact.sums, expected);
    assert.deepEqual(ahead.sums, expected);
    assert.ok(exact.grows >= 300, `stock growth: one grow per new block (${exact.grows})`);
    assert.ok(ahead.grows <= 20, `geometric growth: a few grows (${ahead.grows})`);
  });

  test('the installed jax-js carries every patch of patches/jax-js.mjs', () => {
    const dist = dirname(createRequire(import.meta.url).resolve('@jax-js/jax'));
    const chunk = (prefix: string) => {
      const found = readdirSync(dist).filter((f) => new RegExp(`^${prefix}-[^.]+\\.(js|cjs)$`).test(f));
      assert.equal(found.length, 2, `${prefix} chunks: ${found.join(', ')}`);
      return found;
    };
    const files: Record<string, string[]> = { index: ['index.js', 'index.cjs'], backend: chunk('backend'), webgpu: chunk('webgpu') };
    for (const p of PATCHES) {
      for (const file of files[p.file ?? 'index']) {
        const src = readFileSync(join(dist, file), 'utf8');
        assert.ok(src.startsWith('/* diff-instruct patches applied */'), `${file}: not patched (run npm install)`);
        for (const [, after] of p.replace) assert.ok(src.includes(after), `${file}: patch '${p.name}' missing`);
      }
    }
  });

  test('wasm-inline: small kernels run on the calling thread, bit-identical to running them on workers', () => {
    const off = runInlineChild('0');
    const on = runInlineChild(String(2 ** 21));
    assert.equal(on.workers, 2, 'the child runs a pool of two workers');
    assert.equal(on.g, off.g, 'MLP gradient bytes');
    assert.equal(on.big, off.big, 'large matmul bytes');
    assert.ok(off.small > 0, `with the patch off the MLP's kernels go to workers (${off.small} messages)`);
    assert.equal(on.small, on.workers, 'with the default every MLP kernel runs inline (only the pool\'s init messages were posted)');
    assert.ok(on.all > 0, 'the large matmul still goes to the workers');
  });

  testOnBackends("prepared-cache: a jit program's second call prepares none of its kernels, with the same bytes", async () => {
    const stats = (globalThis as any)[Symbol.for('diff-instruct.preparedCache')] as { hits: number; misses: number };
    assert.ok(stats, 'the patch counts its lookups');
    // the stock dispatch path (on WebGPU the step executor prepares a program's kernels once by itself)
    const executorWas = setExecutor(false);
    const g = jit((x: np.Array) => np.tanh(np.dot(x.ref, x.ref.transpose())).sum(1).add(np.exp(x).mean(1)));
    const x = random.normal(random.key(3), [16, 8]);
    const first = Array.from((await g(x.ref).data()) as Float32Array);
    const misses = stats.misses, hits = stats.hits;
    const second = Array.from((await g(x.ref).data()) as Float32Array);
    assert.deepEqual(second, first);
    assert.equal(stats.misses, misses, 'no kernel prepared again on the second call');
    assert.ok(stats.hits > hits, 'the second call found its kernels prepared');
    x.dispose();
    g.dispose();
    setExecutor(executorWas);
  });

  // Three outputs of one program, with an intermediate shared by two of them.
  const f = jit((x: np.Array) => {
    const h = np.exp(x.ref).add(1);
    return [h.ref.mul(2), h.sum(), x.sub(3)];
  });

  testOnBackends('jit outputs: reading one runs the program for all; unread outputs cancel without leaks', async () => {
    await trackBuffers();
    const x = np.array([0, 1, 2]);
    const [a, b, c] = f(x.ref) as np.Array[];
    assert.deepEqual(Array.from(await c.data()), [-3, -2, -1]);
    const e = [0, 1, 2].map((v) => Math.exp(v) + 1);
    const av = Array.from((await a.data()) as Float32Array);
    e.forEach((v, i) => assert.ok(Math.abs(av[i] - 2 * v) < 1e-4, `a[${i}] ${av[i]}`));
    assert.ok(Math.abs((await b.data())[0] - e.reduce((s, v) => s + v)) < 1e-4);
    // a chain of calls whose outputs are all dropped unread: nothing runs, nothing stays allocated
    const before = liveBuffers();
    for (let i = 0; i < 5; i++) {
      const outs = f(x.ref) as np.Array[];
      const [p, q, r] = f(outs[0]) as np.Array[];
      for (const o of [outs[1], outs[2], p, q, r]) o.dispose();
    }
    assert.equal(liveBuffers(), before);
    x.dispose();
  });
}
