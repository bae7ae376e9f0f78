/**
 * The step executor (./executor.ts) against jax-js's stock dispatch, on WebGPU (llvmpipe here, a GPU
 * where there is one): the same kernels run in the same order, so results must be bit-identical.
 * Covers a whole teacher training step (loss, gradients, Adam, guard, EMA) over several calls with
 * steps left in flight, programs whose outputs alias their inputs or each other, a routine (sort),
 * unread calls that are cancelled, buffer leaks, and that steady-state calls make no new bind groups.
 */
import '../platform/node.js';
import { jit, numpy as np, random, tree } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { testOnBackends } from '../testing/backends.js';
import { executorStats, resetExecutorStats, setEagerSubmit, setExecutor } from './executor.js';
import { precondition } from '../edm/precond.js';
import { initSongUNet, songUNet, songUNetConfig } from '../nets/song-unet.js';
import { adamInit } from '../train/adam.js';
import { makeTeacherStep } from '../teacher/trainer.js';
import { keyForSeed } from '../random/seeds.js';
import { liveBuffers, trackBuffers } from '../train/live-buffers.js';

/** Runs `fn` with the executor on or off, restoring the previous setting. */
async function withExecutor<T>(on: boolean, fn: () => Promise<T>): Promise<T> {
  const prev = setExecutor(on);
  try {
    return await fn();
  } finally {
    setExecutor(prev);
  }
}

const bytes = async (x: np.Array) => Buffer.from(((await x.data()) as Float32Array).buffer).toString('hex');

/** A tiny conditional SongUNet teacher trained for `steps` steps, two left in flight; losses and final params. */
async function teacherRun(steps: number) {
  const cfg = songUNetConfig('tiny', { imgResolution: 8, channels: 1, labelDim: 3 });
  const D = precondition('edm', (p, x, c, l, o) => songUNet(cfg, p, x, c, l, o), { sigmaData: 0.5 });
  const step = makeTeacherStep(D, { adam: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, pMean: -1.2, pStd: 1.2, sigmaData: 0.5 });
  const params = initSongUNet(random.key(0), cfg);
  const x = random.uniform(random.key(1), [3, 1, 8, 8]).mul(2).sub(1);
  const labels = np.eye(3);
  let s = { params: tree.ref(params), ema: params, opt: adamInit(tree.ref(params)) };
  const pending: Promise<number>[] = [];
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    if (i === steps - 3) resetExecutorStats();
    const [ns, st] = step(s, x.ref, [labels.ref], keyForSeed(i, 99), np.array(1), np.array(0.9));
    s = ns;
    tree.dispose([st.gradNorm, st.finite]);
    pending.push(st.loss.data().then((d) => (d as Float32Array)[0]));
    if (pending.length > 2) losses.push(await pending.shift()!);
  }
  for (const p of pending) losses.push(await p);
  const steadyBindGroups = executorStats().bindGroups / Math.max(1, executorStats().dispatches);
  const names = Object.keys(s.params).sort();
  const hex = await Promise.all(names.map((k) => bytes(s.params[k].ref)));
  const emaHex = await Promise.all(names.map((k) => bytes(s.ema[k].ref)));
  tree.dispose([s, x, labels]);
  return { losses, hex, emaHex, steadyBindGroups };
}

testOnBackends(
  'a teacher step through the executor is bit-identical to the stock path, leaks nothing and replays its bind groups once warm',
  async () => {
    await trackBuffers();
    // each run leaves its jit's traced constants alive (a new jit per run): the same few buffers on both paths
    const live0 = liveBuffers();
    const stock = await withExecutor(false, () => teacherRun(10));
    const live1 = liveBuffers();
    const calls0 = executorStats().calls;
    const ours = await withExecutor(true, () => teacherRun(10));
    assert.ok(executorStats().calls > calls0, 'the executor ran the steps');
    assert.deepEqual(ours.losses, stock.losses);
    assert.ok(ours.losses.every(Number.isFinite));
    assert.deepEqual(ours.hex, stock.hex, 'parameters after 10 steps');
    assert.deepEqual(ours.emaHex, stock.emaHex, 'EMA after 10 steps');
    // once warm, a kernel's bind group is made once and replayed (a few outputs may still land on
    // buffers new to the pool: measured 0–12 bind groups for ~5,000 dispatches in the last 3 steps)
    assert.ok(ours.steadyBindGroups < 0.01, `the last 3 steps made ${ours.steadyBindGroups} bind groups per dispatch`);
    assert.equal(liveBuffers() - live1, live1 - live0, 'no buffer left behind beyond what the stock path keeps');
  },
  { only: ['webgpu'] },
);

testOnBackends(
  'aliased outputs, a routine, zero-size arrays and cancelled calls run as on the stock path',
  async () => {
    await trackBuffers();
    const before = liveBuffers();
    const f = jit((a: np.Array, b: np.Array) => {
      const c = a.ref.mul(2).add(b.ref);
      return [a, c.ref, c, np.sort(b.ref.mul(-1)), b.slice([0, 0])];
    });
    const run = async () => {
      const a = random.normal(random.key(3), [5, 7]);
      const b = random.normal(random.key(4), [5, 7]);
      const outs = f(a, b) as np.Array[];
      const got = await Promise.all(outs.map((o) => o.data()));
      // a call left unread and disposed: its kernels are cancelled
      const dropped = f(random.normal(random.key(5), [5, 7]), random.normal(random.key(6), [5, 7])) as np.Array[];
      tree.dispose(dropped);
      return got.map((g: unknown) => Array.from(g as Float32Array));
    };
    const stock = await withExecutor(false, run);
    const ours = await withExecutor(true, run);
    assert.deepEqual(ours, stock);
    assert.equal(ours[4].length, 0);
    assert.deepEqual(ours[1], ours[2], 'a repeated output');
    assert.equal(liveBuffers(), before, 'no buffer left behind');
  },
  { only: ['webgpu'] },
);

testOnBackends(
  'a planned program is submitted when it is called (eager), a first call and the lazy setting when read',
  async () => {
    const f = jit((a: np.Array) => a.ref.mul(a).add(1));
    const callsOf = async (eager: boolean) => {
      const prev = setEagerSubmit(eager);
      try {
        const counts: number[] = [];
        for (let i = 0; i < 3; i++) {
          const c0 = executorStats().calls;
          const y = f(np.array([1, 2, 3]));
          counts.push(executorStats().calls - c0); // before anything is read
          assert.deepEqual(Array.from((await y.data()) as Float32Array), [2, 5, 10]);
        }
        return counts;
      } finally {
        setEagerSubmit(prev);
      }
    };
    const ours = await withExecutor(true, async () => [await callsOf(true), await callsOf(false)]);
    assert.deepEqual(ours[0], [0, 1, 1], 'eager: the first call compiles lazily, later calls are submitted at once');
    assert.deepEqual(ours[1], [0, 0, 0], 'lazy: submitted only when read');
  },
  { only: ['webgpu'] },
);
