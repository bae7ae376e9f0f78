/**
 * The implicit-GEMM conv kernels (conv-gemm.ts, through the jit hook of custom-kernels.ts) against a
 * float64 JavaScript convolution: forward values, input gradients and weight gradients (vjp with a
 * random cotangent) on the shapes SongUNet and the GAN use and on odd ones (channels 1, 3, 5, 33; H, W
 * 7, 13, 28; batch 1, 3; 1×1 and 3×3; padding k//2 and 0). Errors are measured relative to the largest
 * |value| of each result. On llvmpipe the weight gradient over B·H·W = 100,352 pixels (stock jax-js:
 * one 100,352-long loop, cut at 65,535 iterations) must come out exact.
 */
import '../../platform/node.js';
import { grad, jit, lax, numpy as np, random } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testOnBackends } from '../../testing/backends.js';
import { customKernelStats, lowerConv, setCustomKernels } from '../custom-kernels.js';
import { chooseSplits, convGemmPlan } from './conv-gemm.js';

/** out[n,o,y,x] = Σ x[n,c,y+ky−p,x+kx−p]·w[o,c,ky,kx], and the vjp of Σ out·g in float64. */
function convRef(x: Float32Array, w: Float32Array, g: Float32Array, [B, C, H, W]: number[], [O, , k]: number[], pad: number) {
  const Ho = H + 2 * pad - k + 1;
  const Wo = W + 2 * pad - k + 1;
  const y = new Float64Array(B * O * Ho * Wo);
  const dx = new Float64Array(B * C * H * W);
  const dw = new Float64Array(O * C * k * k);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          const oi = ((b * O + o) * Ho + oy) * Wo + ox;
          let acc = 0;
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < k; ky++) {
              const iy = oy + ky - pad;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = ox + kx - pad;
                if (ix < 0 || ix >= W) continue;
                const xi = ((b * C + c) * H + iy) * W + ix;
                const wi = ((o * C + c) * k + ky) * k + kx;
                acc += x[xi] * w[wi];
                dx[xi] += g[oi] * w[wi];
                dw[wi] += g[oi] * x[xi];
              }
            }
          y[oi] = acc;
        }
  return { y, dx, dw, outShape: [B, O, Ho, Wo] };
}

/** max |a − e| / max |e|. */
function relErr(a: ArrayLike<number>, e: ArrayLike<number>): number {
  assert.equal(a.length, e.length);
  let d = 0, m = 0;
  for (let i = 0; i < e.length; i++) {
    d = Math.max(d, Math.abs(a[i] - e[i]));
    m = Math.max(m, Math.abs(e[i]));
  }
  return d / (m || 1);
}

// [B, C, O, H, W, k, pad]
const CASES: [number, number, number, number, number, number, number][] = [
  [2, 32, 32, 28, 28, 3, 1], // SongUNet 28×28 level (fmnist-small channels)
  [1, 1, 32, 28, 28, 3, 1], // first conv of a 1-channel image
  [3, 32, 1, 28, 28, 3, 1], // last conv to 1 channel
  [3, 5, 33, 13, 13, 3, 1],
  [3, 33, 3, 7, 7, 3, 1],
  [1, 3, 5, 7, 13, 1, 0], // 1×1 skip / qkv conv, non-square
  [3, 64, 32, 7, 7, 1, 0],
  [2, 4, 6, 9, 9, 3, 0], // 'valid' conv: input-gradient padding 2
];

testOnBackends('implicit-GEMM conv: forward, input and weight gradients match a float64 reference (nets\' and odd shapes)', async () => {
  setCustomKernels(true);
  const before = { ...customKernelStats() };
  const worst = { y: 0, dx: 0, dw: 0 };
  for (const [B, C, O, H, W, k, pad] of CASES) {
    const [k1, k2, k3] = random.split(random.key(B * 1000 + C * 10 + O), 3);
    const xs = [B, C, H, W], ws = [O, C, k, k];
    const x = random.normal(k1, xs);
    const w = random.normal(k2, ws);
    const xv = (await x.ref.data()) as Float32Array;
    const wv = (await w.ref.data()) as Float32Array;
    const Ho = H + 2 * pad - k + 1, Wo = W + 2 * pad - k + 1;
    const g = random.normal(k3, [B, O, Ho, Wo]);
    const gv = (await g.ref.data()) as Float32Array;
    const ref = convRef(xv, wv, gv, xs, ws, pad);
    const conv = (a: np.Array, b: np.Array) => lax.conv(a, b, [1, 1], [[pad, pad], [pad, pad]]);
    const y = (await jit(conv)(x.ref, w.ref).data()) as Float32Array;
    const [dx, dw] = jit(grad((a: np.Array, b: np.Array) => conv(a, b).mul(g.ref).sum(), { argnums: [0, 1] } as any) as any)(x, w) as np.Array[];
    g.dispose();
    const errs = { y: relErr(y, ref.y), dx: relErr((await dx.data()) as Float32Array, ref.dx), dw: relErr((await dw.data()) as Float32Array, ref.dw) };
    const what = `B${B} C${C} O${O} ${H}x${W} k${k} pad${pad}`;
    for (const [key, e] of Object.entries(errs) as [keyof typeof worst, number][]) {
      worst[key] = Math.max(worst[key], e);
      assert.ok(e <= 2e-6, `${what}: ${key} relative error ${e.toExponential(2)}`);
    }
  }
  const after = customKernelStats();
  const used = (prefix: string) => Object.entries(after).filter(([n]) => n.startsWith(prefix)).reduce((s, [n, c]) => s + c - (before[n] ?? 0), 0);
  // every forward, input-gradient and weight-gradient conv went through our kernels
  assert.ok(used('conv-gemm-fwd') >= CASES.length && used('conv-gemm-dgrad') >= CASES.length && used('conv-gemm-wgrad') >= CASES.length, JSON.stringify(after));
  console.log(`# conv-gemm worst relative errors vs float64: forward ${worst.y.toExponential(2)}, input grad ${worst.dx.toExponential(2)}, weight grad ${worst.dw.toExponential(2)}`);
}, { only: ['webgpu'] });

testOnBackends('implicit-GEMM weight gradient over 100,352 pixels is exact on llvmpipe (stock: one loop cut at 65,535)', async () => {
  setCustomKernels(true);
  // ones [128,1,28,28], 3×3 SAME: tap (ky,kx) sees 128·(28−|ky−1|)·(28−|kx−1|) pixels
  const x = np.ones([128, 1, 28, 28]);
  const w = np.ones([1, 1, 3, 3]);
  const dw = (await jit(grad((ww: np.Array) => lax.conv(x.ref, ww, [1, 1], [[1, 1], [1, 1]]).sum()))(w).data()) as Float32Array;
  x.dispose();
  const expected = [0, 1, 2].flatMap((ky) => [0, 1, 2].map((kx) => 128 * (28 - Math.abs(ky - 1)) * (28 - Math.abs(kx - 1))));
  assert.deepEqual([...dw], expected);
}, { only: ['webgpu'] });

test('the hook declines what the kernels do not cover; split-K keeps every loop within llvmpipe\'s limit', () => {
  const input = (shape: number[]) => ({ shape, dtype: 'float32', isVar: true, views: [], root: { shape, dtype: 'float32' } });
  const desc = (o: Record<string, unknown> = {}) => ({
    backend: 'webgpu',
    primitive: 'conv',
    params: { vmapDims: 0, strides: [1, 1], padding: [[1, 1], [1, 1]], lhsDilation: [1, 1], rhsDilation: [1, 1] },
    inputs: [input([2, 3, 8, 8]), input([4, 3, 3, 3])],
    outputs: [{ shape: [2, 4, 8, 8], dtype: 'float32' }],
    ...o,
  });
  assert.ok(lowerConv(desc()));
  assert.equal(lowerConv(desc({ backend: 'wasm' })), null);
  assert.equal(lowerConv(desc({ params: { ...desc().params, strides: [2, 2] } })), null);
  assert.equal(lowerConv(desc({ params: { ...desc().params, lhsDilation: [2, 2] } })), null);
  assert.equal(lowerConv(desc({ outputs: [{ shape: [2, 4, 8, 8], dtype: 'float16' }] })), null);
  // the weight gradient of a fmnist-base 3×3 conv: 128×1152 outputs, K = 100,352 → split, every split ≤ 65,535 K-tiles
  const s = chooseSplits(128, 128 * 9, 100352);
  assert.ok(s > 1 && s <= 128, `splits ${s}`);
  const plan = convGemmPlan({
    lhs: { shape: [128, 128, 28, 28], strides: [784, 100352, 28, 1], offset: 0 },
    rhs: { shape: [128, 128, 28, 28], strides: [784, 100352, 28, 1], offset: 0 },
    padLo: [1, 1],
    outShape: [128, 128, 3, 3],
  });
  assert.equal(plan.shaders.length, 2);
  assert.equal(plan.scratchBytes[0], plan.splits * 128 * 1152 * 4);
  // a K of 10^8 (absurd, but a loop count check): splits grow so no invocation loops past the limit
  assert.ok(chooseSplits(1, 1, 1e8) * 60000 * 16 >= 1e8);
  assert.throws(() => convGemmPlan({ lhs: { shape: [1, 2, 4, 4], strides: [32, 16, 4, 1], offset: 0 }, rhs: { shape: [3, 5, 3, 3], strides: [45, 9, 3, 1], offset: 0 }, padLo: [1, 1], outShape: [1, 3, 4, 4] }), /^Error: conv-gemm: shapes .* do not match$/);
});
