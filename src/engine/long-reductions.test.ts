/**
 * Reductions longer than llvmpipe's 65,535-iteration loop limit (benchmarks/README.md, "Correctness:
 * llvmpipe truncates long reductions"), with exact values: sums of ones stay below 2^24, so every
 * partial sum is an exact f32 integer whatever the order. Stock jax-js 0.1.25 on llvmpipe gives the
 * numbers in the comments; the 'reduce-split' patch (long loops spread over a workgroup) and our conv
 * kernels (split-K) make them exact. On hardware GPUs and Wasm they were exact before and must stay so.
 */
import '../platform/node.js';
import { grad, jit, lax, numpy as np } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { testOnBackends } from '../testing/backends.js';
import { installReduceSplit, reduceSplitMinIterations, setReduceSplitMinIterations } from './reduce-split.js';

const first = async (x: np.Array) => ((await x.data()) as Float32Array)[0];

testOnBackends('long reductions are exact: jitted and eager sums, matmuls, GroupNorm-like statistics', async () => {
  // stock on llvmpipe: 4,194,240 (= 64 × 65,535)
  assert.equal(await first(jit((x: np.Array) => x.sum())(np.ones([10_000_000]))), 10_000_000);
  // stock on llvmpipe: 65,535
  assert.equal(await first(np.ones([100_000]).sum()), 100_000);
  // stock on llvmpipe: 262,140 (= 4 × 65,535)
  assert.equal(await first(jit((a: np.Array, b: np.Array) => np.matmul(a, b))(np.ones([4, 300_000]), np.ones([300_000, 3]))), 300_000);
  // stock on llvmpipe: 65,535
  assert.equal(await first(np.matmul(np.ones([2, 70_000]), np.ones([70_000, 2]))), 70_000);
  // per-channel sums over (B, H, W) = 100,352 terms, the shape of a bias gradient / GroupNorm statistic
  const perChannel = (await jit((x: np.Array) => x.sum([0, 2, 3]))(np.ones([128, 4, 28, 28])).data()) as Float32Array;
  assert.deepEqual([...perChannel], [100_352, 100_352, 100_352, 100_352]);
  // a max over 200,000 terms whose largest sits at the end
  const ramp = np.arange(200_000).astype(np.float32);
  assert.equal(await first(jit((x: np.Array) => x.max())(ramp)), 199_999);
});

testOnBackends('eager conv weight gradient over 100,352 pixels is exact (stock on llvmpipe: 65,535)', async () => {
  const x = np.ones([128, 1, 28, 28]);
  const dw = (await grad((w: np.Array) => lax.conv(x.ref, w, [1, 1], [[1, 1], [1, 1]]).sum())(np.ones([1, 1, 3, 3])).data()) as Float32Array;
  x.dispose();
  assert.equal(dw[4], 100_352);
  assert.equal(dw[0], 128 * 27 * 27);
}, { only: ['webgpu'] });

testOnBackends('few-output reductions split wide (as on hardware GPUs): GroupNorm statistics and bias gradients exact', async () => {
  // the hardware setting (src/engine/reduce-split.ts) on whatever adapter runs the tests; shapes no other
  // test compiles, since a compiled kernel keeps the split it was compiled with
  const prev = reduceSplitMinIterations();
  installReduceSplit({ software: false });
  try {
    // 6 × 4 GroupNorm groups of 4 channels × 28 × 28 = 3,136 terms (784 iterations after unrolling)
    const x = np.arange(6 * 16 * 28 * 28).astype(np.float32).mul(1 / 4096).reshape([6, 16, 28, 28]);
    const stats = (await jit((x: np.Array) => x.reshape([6, 4, -1]).sum(2))(x.ref).data()) as Float32Array;
    const host = await x.ref.data() as Float32Array;
    const want = Array.from({ length: 24 }, (_, g) => host.slice(g * 3136, (g + 1) * 3136).reduce((a, b) => a + b, 0));
    stats.forEach((v, g) => assert.ok(Math.abs(v - want[g]) <= 1e-6 * Math.abs(want[g]), `group ${g}: ${v} vs ${want[g]}`));
    // per-channel sums over (B, H, W) with few channels (a bias gradient): 6 × 14 × 14 = 1,176 terms each
    const bias = (await jit((x: np.Array) => x.sum([0, 2, 3]))(np.ones([6, 5, 14, 14])).data()) as Float32Array;
    assert.deepEqual([...bias], [1176, 1176, 1176, 1176, 1176]);
    x.dispose();
  } finally {
    setReduceSplitMinIterations(prev);
  }
}, { only: ['webgpu'] });
