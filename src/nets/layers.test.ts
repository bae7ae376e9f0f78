/**
 * Layer checks against plain-JS loop implementations of the PyTorch ops EDM uses (conv2d with
 * symmetric padding, group_norm, the [1,1] resample filters, single-head attention), on every backend,
 * plus EDM's init scales.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, numpy as np, random } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import {
  conv2d,
  conv2dRaw,
  groupCount,
  groupNorm,
  initParams,
  positionalEmbedding,
  silu,
  unetBlock,
  unetBlockSpecs,
  weightInit,
  type Params,
  type UNetBlockConfig,
} from './layers.js';

// ---- plain-JS references (NCHW, row-major) ----
type T4 = { d: Float64Array; n: number; c: number; h: number; w: number };
const t4 = (d: ArrayLike<number>, n: number, c: number, h: number, w: number): T4 => ({ d: Float64Array.from(d), n, c, h, w });
const at = (t: T4, n: number, c: number, y: number, x: number) => t.d[((n * t.c + c) * t.h + y) * t.w + x];

/** torch.nn.functional.conv2d(x, w, b, padding=pad). */
function refConv(x: T4, w: ArrayLike<number>, O: number, k: number, b: ArrayLike<number> | null, pad: number): T4 {
  const Ho = x.h + 2 * pad - k + 1, Wo = x.w + 2 * pad - k + 1;
  const out = new Float64Array(x.n * O * Ho * Wo);
  for (let n = 0; n < x.n; n++)
    for (let o = 0; o < O; o++)
      for (let y = 0; y < Ho; y++)
        for (let xx = 0; xx < Wo; xx++) {
          let s = b ? b[o] : 0;
          for (let c = 0; c < x.c; c++)
            for (let i = 0; i < k; i++)
              for (let j = 0; j < k; j++) {
                const yy = y + i - pad, xj = xx + j - pad;
                if (yy < 0 || yy >= x.h || xj < 0 || xj >= x.w) continue;
                s += at(x, n, c, yy, xj) * w[((o * x.c + c) * k + i) * k + j];
              }
          out[((n * O + o) * Ho + y) * Wo + xx] = s;
        }
  return t4(out, x.n, O, Ho, Wo);
}

/** torch.nn.functional.group_norm (biased variance). */
function refGroupNorm(x: T4, G: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): T4 {
  const out = new Float64Array(x.d.length);
  const cpg = x.c / G, hw = x.h * x.w;
  for (let n = 0; n < x.n; n++)
    for (let g = 0; g < G; g++) {
      let mean = 0, sq = 0;
      for (let c = g * cpg; c < (g + 1) * cpg; c++) for (let p = 0; p < hw; p++) mean += x.d[(n * x.c + c) * hw + p];
      mean /= cpg * hw;
      for (let c = g * cpg; c < (g + 1) * cpg; c++) for (let p = 0; p < hw; p++) sq += (x.d[(n * x.c + c) * hw + p] - mean) ** 2;
      const inv = 1 / Math.sqrt(sq / (cpg * hw) + eps);
      for (let c = g * cpg; c < (g + 1) * cpg; c++)
        for (let p = 0; p < hw; p++) {
          const i = (n * x.c + c) * hw + p;
          out[i] = (x.d[i] - mean) * inv * gamma[c] + beta[c];
        }
    }
  return t4(out, x.n, x.c, x.h, x.w);
}
const map = (x: T4, f: (v: number, i: number) => number): T4 => t4(x.d.map(f), x.n, x.c, x.h, x.w);
const refSilu = (x: T4) => map(x, (v) => v / (1 + Math.exp(-v)));
/** EDM's conv_transpose2d with ones(2,2), stride 2, groups=C. */
function refUp(x: T4): T4 {
  const out = new Float64Array(x.d.length * 4);
  for (let n = 0; n < x.n; n++) for (let c = 0; c < x.c; c++) for (let y = 0; y < 2 * x.h; y++) for (let xx = 0; xx < 2 * x.w; xx++)
    out[((n * x.c + c) * 2 * x.h + y) * 2 * x.w + xx] = at(x, n, c, y >> 1, xx >> 1);
  return t4(out, x.n, x.c, 2 * x.h, 2 * x.w);
}
/** EDM's conv2d with ones(2,2)/4, stride 2, groups=C. */
function refDown(x: T4): T4 {
  const H = x.h >> 1, W = x.w >> 1;
  const out = new Float64Array(x.n * x.c * H * W);
  for (let n = 0; n < x.n; n++) for (let c = 0; c < x.c; c++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++)
    out[((n * x.c + c) * H + y) * W + xx] = (at(x, n, c, 2 * y, 2 * xx) + at(x, n, c, 2 * y + 1, 2 * xx) + at(x, n, c, 2 * y, 2 * xx + 1) + at(x, n, c, 2 * y + 1, 2 * xx + 1)) / 4;
  return t4(out, x.n, x.c, H, W);
}
/** EDM UNetBlock attention, num_heads=1: qkv.reshape(N, C, 3, HW); softmax over keys of qᵀk/√C. */
function refAttention(qkv: T4): T4 {
  const C = qkv.c / 3, HW = qkv.h * qkv.w;
  const out = new Float64Array(qkv.n * C * HW);
  const q = (n: number, c: number, p: number, j: number) => qkv.d[(n * qkv.c + c * 3 + j) * HW + p];
  for (let n = 0; n < qkv.n; n++)
    for (let a = 0; a < HW; a++) {
      const logits = new Float64Array(HW);
      for (let b = 0; b < HW; b++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += q(n, c, a, 0) * q(n, c, b, 1);
        logits[b] = s / Math.sqrt(C);
      }
      const mx = Math.max(...logits);
      const e = logits.map((v) => Math.exp(v - mx));
      const z = e.reduce((u, v) => u + v, 0);
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let b = 0; b < HW; b++) s += (e[b] / z) * q(n, c, b, 2);
        out[(n * C + c) * HW + a] = s;
      }
    }
  return t4(out, qkv.n, C, qkv.h, qkv.w);
}
const addT = (a: T4, b: T4) => map(a, (v, i) => v + b.d[i]);

/** Random normal params (not EDM's init: its 1e-5 output scales would hide conv1/proj bugs). */
async function randomParams(specs: ReturnType<typeof unetBlockSpecs>, seed: number): Promise<{ params: Params; host: Record<string, Float32Array> }> {
  const params: Params = {};
  const host: Record<string, Float32Array> = {};
  specs.forEach((s, i) => {
    params[s.name] = random.normal(random.key(seed * 1000 + i), s.shape).mul(0.4);
  });
  for (const [k, v] of Object.entries(params)) host[k] = (await v.ref.data()) as Float32Array;
  return { params, host };
}

function refBlock(c: UNetBlockConfig, P: Record<string, Float32Array>, name: string, x: T4, emb: Float32Array, embN: number): T4 {
  const G0 = groupCount(c.inChannels), G1 = groupCount(c.outChannels);
  let h = refSilu(refGroupNorm(x, G0, P[`${name}.norm0.weight`], P[`${name}.norm0.bias`], c.eps));
  if (c.up) h = refUp(h);
  if (c.down) h = refDown(h);
  h = refConv(h, P[`${name}.conv0.weight`], c.outChannels, 3, P[`${name}.conv0.bias`], 1);
  // affine(emb): [N, out]
  const A = P[`${name}.affine.weight`], Ab = P[`${name}.affine.bias`];
  const hw = h.h * h.w;
  h = map(h, (v, i) => {
    const n = Math.floor(i / (c.outChannels * hw)), o = Math.floor(i / hw) % c.outChannels;
    let s = Ab[o];
    for (let e = 0; e < c.embChannels; e++) s += A[o * c.embChannels + e] * emb[n * c.embChannels + e];
    return v + s;
  });
  h = refSilu(refGroupNorm(h, G1, P[`${name}.norm1.weight`], P[`${name}.norm1.bias`], c.eps));
  h = refConv(h, P[`${name}.conv1.weight`], c.outChannels, 3, P[`${name}.conv1.bias`], 1);
  let s = x;
  if (c.up) s = refUp(s);
  if (c.down) s = refDown(s);
  if (c.inChannels !== c.outChannels || c.up || c.down) s = refConv(s, P[`${name}.skip.weight`], c.outChannels, 1, P[`${name}.skip.bias`], 0);
  let out = map(addT(h, s), (v) => v * c.skipScale);
  if (c.attention) {
    const qkv = refConv(refGroupNorm(out, G1, P[`${name}.norm2.weight`], P[`${name}.norm2.bias`], c.eps), P[`${name}.qkv.weight`], 3 * c.outChannels, 1, P[`${name}.qkv.bias`], 0);
    const a = refConv(refAttention(qkv), P[`${name}.proj.weight`], c.outChannels, 1, P[`${name}.proj.bias`], 0);
    out = map(addT(a, out), (v) => v * c.skipScale);
  }
  void embN;
  return out;
}

testOnBackends('conv2dRaw (3x3 pad 1, 1x1, 3x3 valid) matches a JS-loop conv2d, both kernels', async () => {
  for (const impl of ['lax', 'im2col'] as const) {
    const prev = process.env.DI_CONV;
    process.env.DI_CONV = impl;
    try {
      for (const [k, pad] of [[3, 1], [1, 0], [3, 0]]) {
        const x = random.normal(random.key(1), [2, 3, 5, 6]);
        const w = random.normal(random.key(2), [4, 3, k, k]);
        const xh = await x.ref.data(), wh = await w.ref.data();
        const y = (await conv2dRaw(x, w, pad).data()) as Float32Array;
        assertClose(y, refConv(t4(xh, 2, 3, 5, 6), wh, 4, k, null, pad).d, { rtol: 1e-4, atol: 1e-5, what: `${impl} conv k=${k} pad=${pad}` });
      }
    } finally {
      if (prev === undefined) delete process.env.DI_CONV;
      else process.env.DI_CONV = prev;
    }
  }
});

testOnBackends('conv2d up/down = EDM [1,1] resample filters + conv; groupNorm = torch group_norm', async () => {
  const x = random.normal(random.key(3), [2, 4, 4, 6]);
  const xh = t4(await x.ref.data(), 2, 4, 4, 6);
  const p: Params = { 'c.weight': random.normal(random.key(4), [3, 4, 3, 3]), 'c.bias': random.normal(random.key(5), [3]) };
  const wh = await p['c.weight'].ref.data(), bh = await p['c.bias'].ref.data();
  const up = (await conv2d(p, 'c', x.ref, { up: true }).data()) as Float32Array;
  assertClose(up, refConv(refUp(xh), wh, 3, 3, bh, 1).d, { rtol: 1e-4, atol: 1e-5, what: 'up' });
  const down = (await conv2d(p, 'c', x.ref, { down: true }).data()) as Float32Array;
  assertClose(down, refConv(refDown(xh), wh, 3, 3, bh, 1).d, { rtol: 1e-4, atol: 1e-5, what: 'down' });
  const gp: Params = { 'g.weight': random.normal(random.key(6), [4]), 'g.bias': random.normal(random.key(7), [4]) };
  const gw = await gp['g.weight'].ref.data(), gb = await gp['g.bias'].ref.data();
  const gn = (await groupNorm(gp, 'g', x, { eps: 1e-6, numGroups: 2 }).data()) as Float32Array;
  assertClose(gn, refGroupNorm(xh, 2, gw, gb, 1e-6).d, { rtol: 1e-4, atol: 1e-5, what: 'groupNorm' });
  for (const v of Object.values({ ...p, ...gp })) v.dispose();
});

testOnBackends('UNetBlock (down + attention, and up) matches a JS-loop forward with fixed weights', async () => {
  const cases: UNetBlockConfig[] = [
    { inChannels: 4, outChannels: 8, embChannels: 6, up: false, down: true, attention: true, dropout: 0, skipScale: Math.SQRT1_2, eps: 1e-6 },
    { inChannels: 8, outChannels: 8, embChannels: 6, up: true, down: false, attention: false, dropout: 0, skipScale: Math.SQRT1_2, eps: 1e-6 },
  ];
  for (const [ci, c] of cases.entries()) {
    const specs = unetBlockSpecs('blk', c);
    const { params, host } = await randomParams(specs, ci + 1);
    const H = c.down ? 4 : 2;
    const x = random.normal(random.key(10 + ci), [2, c.inChannels, H, H]);
    const emb = random.normal(random.key(20 + ci), [2, c.embChannels]);
    const xh = t4(await x.ref.data(), 2, c.inChannels, H, H);
    const eh = (await emb.ref.data()) as Float32Array;
    const y = unetBlock(params, 'blk', c, x, emb);
    const Hout = c.down ? H / 2 : c.up ? H * 2 : H;
    assert.deepEqual(y.shape, [2, c.outChannels, Hout, Hout]);
    assertClose(await y.data(), refBlock(c, host, 'blk', xh, eh, 2).d, { rtol: 2e-4, atol: 2e-4, what: `block ${ci}` });
    for (const v of Object.values(params)) v.dispose();
  }
});

testOnBackends('positionalEmbedding equals EDM formula [cos(x f_i), sin(x f_i)], f_i = 1e-4^(i/(C/2-1))', async () => {
  const xs = [0.3, -1.7];
  const e = (await positionalEmbedding(np.array(xs), 8, { endpoint: true }).data()) as Float32Array;
  const expect: number[] = [];
  for (const x of xs) {
    const f = [0, 1, 2, 3].map((i) => Math.pow(1e-4, i / 3));
    expect.push(...f.map((fi) => Math.cos(x * fi)), ...f.map((fi) => Math.sin(x * fi)));
  }
  assertClose(e, expect, { rtol: 1e-5, atol: 1e-6, what: 'posemb' });
}, { only: ['wasm'] });

test('EDM init: xavier_uniform bound √(6/(fi+fo)), kaiming_normal std √(1/fi), init_zero scale 1e-5, GroupNorm 1/0', async () => {
  const u = (await weightInit(random.key(0), [64, 32, 3, 3], 'xavier_uniform', 32 * 9, 64 * 9).data()) as Float32Array;
  const bound = Math.sqrt(6 / (32 * 9 + 64 * 9));
  let mx = 0, sq = 0;
  for (const v of u) {
    mx = Math.max(mx, Math.abs(v));
    sq += v * v;
  }
  assert.ok(mx <= bound && mx > 0.98 * bound, `max ${mx} vs bound ${bound}`);
  // uniform(−b, b) has variance b²/3
  assertClose([sq / u.length], [(bound * bound) / 3], { rtol: 0.03, what: 'xavier var' });
  const kn = (await weightInit(random.key(1), [20000], 'kaiming_normal', 50, 1).data()) as Float32Array;
  const std = Math.sqrt(kn.reduce((s, v) => s + v * v, 0) / kn.length);
  assertClose([std], [Math.sqrt(1 / 50)], { rtol: 0.03, what: 'kaiming_normal std' });

  const c: UNetBlockConfig = { inChannels: 8, outChannels: 16, embChannels: 32, up: false, down: false, attention: true, dropout: 0, skipScale: Math.SQRT1_2, eps: 1e-6 };
  const p = initParams(random.key(2), unetBlockSpecs('b', c));
  const absMax = async (k: string) => Math.max(...Array.from(await p[k].ref.data(), Math.abs));
  assert.ok((await absMax('b.conv1.weight')) <= 1e-5 * Math.sqrt(6 / (16 * 9 * 2)), 'conv1 is init_zero');
  assert.ok((await absMax('b.proj.weight')) <= 1e-5 * Math.sqrt(6 / 32), 'proj is init_zero');
  const qkvMax = await absMax('b.qkv.weight');
  assert.ok(qkvMax <= Math.sqrt(0.2) * Math.sqrt(6 / (16 + 48)) && qkvMax > 0.5 * Math.sqrt(0.2) * Math.sqrt(6 / 64), 'qkv is init_attn');
  assert.deepEqual(Array.from(await p['b.norm0.weight'].ref.data()), Array(8).fill(1));
  assert.deepEqual(Array.from(await p['b.conv0.bias'].ref.data()), Array(16).fill(0));
  assert.deepEqual(p['b.skip.weight'].shape, [16, 8, 1, 1]);
  for (const v of Object.values(p)) v.dispose();
});

test('GroupNorm group count follows EDM: min(32, C // 4)', () => {
  assert.equal(groupCount(256), 32);
  assert.equal(groupCount(64), 16);
  assert.equal(groupCount(8), 2);
  assert.throws(() => groupCount(3), /GroupNorm: 3 channels/);
});

testOnBackends('silu: x·sigmoid(x) values, and a finite gradient where nn.silu has NaN (x ≤ −89)', async () => {
  const xs = [-100, -89, -50, -1, 0, 0.5, 3, 100];
  // closed form x/(1 + e^−x) and its derivative sigmoid(x)·(1 + x·(1 − sigmoid(x))), in float64
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const value = xs.map((x) => (x < -80 ? 0 : x * sig(x)));
  const slope = xs.map((x) => sig(x) * (1 + x * (1 - sig(x))));
  assertClose(await silu(np.array(xs)).data(), value, { atol: 1e-6, rtol: 1e-5, what: 'silu' });
  const g = await grad((x: np.Array) => silu(x).sum())(np.array(xs)).data();
  assert.ok([...g].every(Number.isFinite), `gradient ${[...g]}`);
  assertClose(g, slope, { atol: 1e-6, rtol: 1e-5, what: "silu'" });
});
