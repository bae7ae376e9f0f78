/**
 * Our kernels in whole jitted programs, hook on against hook off (stock jax-js) on WebGPU: the gradient
 * of a small conv net's loss, and two SongUNet teacher steps (loss, gradient, Adam, EMA) from the same
 * start — same losses and parameters within f32 summation-order tolerance, and with params held flat
 * (weights read in place out of the flat vector) the same bits as held as a tree. The counts of
 * dispatched kernels are printed. And `viewOf`, the strided view a kernel reads an operand through.
 */
import '../platform/node.js';
import { grad, jit, lax, nn, numpy as np, random, tree } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testOnBackends } from '../testing/backends.js';
import { precondition, type Denoiser } from '../edm/precond.js';
import { initSongUNet, songUNet, songUNetConfig } from '../nets/song-unet.js';
import { makeTeacherStep } from '../teacher/trainer.js';
import { adamInit } from '../train/adam.js';
import type { Params } from '../nets/layers.js';
import { keyForSeed } from '../random/seeds.js';
import { flatParams, paramTree, treeLayout, type Stored } from '../train/flat-params.js';
import { convTile, customKernelStats, readConvTiles, setConvTile, setConvTiles, setCustomKernels, viewOf, type EqnDesc } from './custom-kernels.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Counts compute dispatches (one per kernel pass) while `fn` runs. */
async function countDispatches<T>(fn: () => Promise<T>): Promise<{ value: T; dispatches: number }> {
  const proto = (globalThis as any).GPUComputePassEncoder?.prototype;
  const orig = proto.dispatchWorkgroups;
  let dispatches = 0;
  proto.dispatchWorkgroups = function (...a: unknown[]) {
    dispatches++;
    return orig.apply(this, a);
  };
  try {
    return { value: await fn(), dispatches };
  } finally {
    proto.dispatchWorkgroups = orig;
  }
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / (m || 1);
}

testOnBackends('a small conv net\'s jitted gradient: our kernels against stock jax-js', async () => {
  const [k1, k2, k3, k4] = random.split(random.key(7), 4);
  const params = { w1: random.normal(k1, [5, 3, 3, 3]).mul(0.3), w2: random.normal(k2, [4, 5, 1, 1]).mul(0.3), w3: random.normal(k3, [2, 4, 3, 3]).mul(0.3) };
  const x = random.normal(k4, [3, 3, 13, 13]);
  const same = (h: np.Array, w: np.Array) => lax.conv(h, w, [1, 1], [[(w.shape[2] - 1) / 2, (w.shape[2] - 1) / 2], [(w.shape[3] - 1) / 2, (w.shape[3] - 1) / 2]]);
  const loss = (p: typeof params) => np.square(same(nn.silu(same(nn.silu(same(x.ref, p.w1)), p.w2)), p.w3)).mean();
  const run = async (on: boolean) => {
    setCustomKernels(on);
    const g = jit(grad(loss))(tree.ref(params)) as typeof params;
    return Object.fromEntries(await Promise.all(Object.entries(g).map(async ([k, v]) => [k, (await v.data()) as Float32Array]))) as Record<string, Float32Array>;
  };
  const wgrads = () => Object.entries(customKernelStats()).filter(([n]) => n.startsWith('conv-gemm-wgrad')).reduce((a, [, c]) => a + c, 0);
  const before = wgrads();
  const stock = await run(false);
  const ours = await run(true);
  assert.equal(wgrads() - before, 3, 'the three weight gradients went through our kernels');
  for (const k of Object.keys(stock)) {
    const e = maxRelDiff(ours[k], stock[k]);
    assert.ok(e <= 1e-5, `${k}: relative difference ${e.toExponential(2)}`);
  }
  tree.dispose([params, x]);
}, { only: ['webgpu'] });

testOnBackends('a tile variant (DI_CONV_TILE) compiles into jit programs beside the default, with the same gradients', async () => {
  // > 16 channels, so forward, input- and weight-gradient GEMMs all take the variant's large tile
  const [k1, k2, k3] = random.split(random.key(9), 3);
  const params = { w1: random.normal(k1, [20, 3, 3, 3]).mul(0.3), w2: random.normal(k2, [18, 20, 3, 3]).mul(0.1) };
  const x = random.normal(k3, [2, 3, 9, 9]);
  const same = (h: np.Array, w: np.Array) => lax.conv(h, w, [1, 1], [[1, 1], [1, 1]]);
  const loss = (p: typeof params) => np.square(same(nn.silu(same(x.ref, p.w1)), p.w2)).mean();
  const g = jit(grad(loss));
  const run = async (variant: string | undefined) => {
    setConvTile(variant);
    const out = g(tree.ref(params)) as typeof params;
    return Object.fromEntries(await Promise.all(Object.entries(out).map(async ([k, v]) => [k, (await v.data()) as Float32Array]))) as Record<string, Float32Array>;
  };
  const tagged = () => Object.entries(customKernelStats()).filter(([n]) => n.endsWith('@m64n64-pf')).reduce((a, [, c]) => a + c, 0);
  setCustomKernels(true);
  try {
    const base = await run(undefined);
    const before = tagged();
    const variant = await run('m64n64-pf');
    assert.equal(convTile(), 'm64n64-pf');
    // the same jitted function compiled again under the variant: its convs (3 of them at least) went through it
    assert.ok(tagged() - before >= 3, JSON.stringify(customKernelStats()));
    for (const k of Object.keys(base)) {
      const e = maxRelDiff(variant[k], base[k]);
      assert.ok(e <= 1e-5, `${k}: relative difference ${e.toExponential(2)}`);
    }
    // a per-conv table (DI_CONV_TILES): only the second conv's forward takes the variant
    setConvTile(undefined);
    setConvTiles({ 'fwd L2,20,9,9 R18,20,3,3 O2,18,9,9': 'm64n64-pf' }, 'one-conv');
    const before2 = tagged();
    const tabled = await run(undefined);
    assert.equal(tagged() - before2, 1, JSON.stringify(customKernelStats()));
    for (const k of Object.keys(base)) assert.ok(maxRelDiff(tabled[k], base[k]) <= 1e-5, k);
  } finally {
    setConvTile(undefined);
    setConvTiles(null);
    tree.dispose([params, x]);
  }
}, { only: ['webgpu'] });

test('DI_CONV_TILES files: conv-sweep.mjs output or a key → variant object; one-line errors otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'conv-tiles-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const sweep = { device: 'x', convs: [{ key: 'fwd L1 R2 O3', best: 'm64n64-v4', results: {} }, { key: 'dgrad L1 R2 O3', best: 'm64n64' }] };
  assert.deepEqual(readConvTiles(file('sweep.json', `${JSON.stringify(sweep)}\n`)), { 'fwd L1 R2 O3': 'm64n64-v4', 'dgrad L1 R2 O3': 'm64n64' });
  assert.deepEqual(readConvTiles(file('table.json', '{"wgrad L1 R2 O3": "m128n64-v4"}')), { 'wgrad L1 R2 O3': 'm128n64-v4' });
  assert.throws(() => readConvTiles(join(dir, 'missing.json')), /^Error: DI_CONV_TILES: cannot read .*missing\.json \(ENOENT/);
  assert.throws(() => readConvTiles(file('bad.json', '{"fwd": 3}')), /^Error: DI_CONV_TILES: .*bad\.json is neither conv-sweep\.mjs's output nor an object of conv keys to variant names$/);
  assert.throws(() => setConvTiles({ 'fwd L1 R2 O3': 'm9' }), /^Error: conv-gemm: unknown tile variant 'm9'/);
});

testOnBackends('SongUNet teacher steps: our kernels against stock jax-js (same losses and parameters)', async () => {
  // one level keeps llvmpipe's shader compilation (most of this test's time) short
  const cfg = songUNetConfig('fmnist-small', { imgResolution: 12, channels: 1, labelDim: 0 }, { modelChannels: 8, channelMult: [1], channelMultEmb: 2, numBlocks: 1, attnResolutions: [], dropout: 0 });
  const net = (p: Params, x: np.Array, c: np.Array, l: np.Array | null, o?: any) => songUNet(cfg, p, x, c, l, o);
  const D: Denoiser = precondition('edm', net, { sigmaData: 0.5 });
  const init = initSongUNet(random.key(0), cfg);
  const x = random.uniform(random.key(1), [2, 1, 12, 12]).mul(2).sub(1);
  const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  const layout = treeLayout(init);
  const run = async (on: boolean, flat = false) => {
    setCustomKernels(on);
    const step = makeTeacherStep<Stored<Params>>(D, { adam, pMean: -1.2, pStd: 1.2, sigmaData: 0.5, layout: flat ? layout : undefined });
    const p0 = (): Stored<Params> => (flat ? flatParams(tree.ref(init)) : tree.ref(init));
    let s: any = { params: p0(), ema: p0(), opt: adamInit(p0()) };
    const losses: number[] = [];
    const norms: number[] = [];
    let dispatches = 0;
    for (let i = 0; i < 2; i++) {
      const r = await countDispatches(async () => {
        const [ns, st] = step(s, x.ref, [], keyForSeed(i, 99), np.array(1), np.array(0.9));
        s = ns;
        st.finite.dispose();
        return [(await st.loss.data())[0], (await st.gradNorm.data())[0]];
      });
      losses.push(r.value[0]);
      norms.push(r.value[1]);
      dispatches = r.dispatches;
    }
    const params: Record<string, Float32Array> = {};
    const final = (flat ? paramTree(s.params.ref, layout) : tree.ref(s.params)) as Params;
    for (const [k, v] of Object.entries(final)) params[k] = (await v.data()) as Float32Array;
    tree.dispose(s);
    return { losses, norms, params, dispatches };
  };
  const stock = await run(false);
  const ours = await run(true);
  const oursFlat = await run(true, true);
  console.log(`# teacher step (SongUNet 8ch, one level, batch 2, 12×12): ${stock.dispatches} dispatches stock, ${ours.dispatches} with our kernels, ${oursFlat.dispatches} with params flat; losses ${stock.losses} vs ${ours.losses}; ‖g‖ ${stock.norms} vs ${ours.norms}`);
  // held flat, the convs read their weights in place out of the flat vector (no copy kernels): the same
  // kernels on the same values, so the same bits
  assert.deepEqual(oursFlat.losses, ours.losses);
  assert.deepEqual(oursFlat.norms, ours.norms);
  for (const k of Object.keys(ours.params)) assert.deepEqual(oursFlat.params[k], ours.params[k], `${k}: flat and tree params differ`);
  const weights = Object.values(init).filter((w) => w.ndim === 4).length;
  assert.ok(oursFlat.dispatches <= ours.dispatches - weights, `params flat: ${oursFlat.dispatches} dispatches, tree ${ours.dispatches}: the ${weights} conv weights were copied out of the flat vector`);
  for (let i = 0; i < 2; i++) {
    assert.ok(Math.abs(ours.losses[i] - stock.losses[i]) <= 1e-5 * Math.abs(stock.losses[i]), `loss ${i}: ${ours.losses[i]} vs ${stock.losses[i]}`);
    assert.ok(Math.abs(ours.norms[i] - stock.norms[i]) <= 1e-5 * Math.abs(stock.norms[i]), `‖g‖ ${i}: ${ours.norms[i]} vs ${stock.norms[i]}`);
  }
  let worst = 0;
  for (const k of Object.keys(stock.params)) {
    // Adam divides by √v, so where a gradient is near zero (zero-initialised last convs) f32 rounding
    // differences move a parameter by a fraction of lr: the bound is in units of lr
    let d = 0;
    for (let i = 0; i < stock.params[k].length; i++) d = Math.max(d, Math.abs(ours.params[k][i] - stock.params[k][i]));
    worst = Math.max(worst, d);
    assert.ok(d <= 0.05 * adam.lr, `${k}: max |Δparam| ${d.toExponential(2)}`);
  }
  console.log(`# teacher step parameters after 2 steps: max |Δ| ${worst.toExponential(2)} (lr ${adam.lr})`);
  tree.dispose([init, x]);
}, { only: ['webgpu'] });

test('viewOf: slices, reshapes, transposes and flips as one strided view; a reshape of a non-contiguous view declined', () => {
  const input = (shape: number[], root: number[], views: EqnDesc['inputs'][number]['views']) => ({ shape, dtype: 'float32', isVar: true, views, root: { shape: root, dtype: 'float32', isInput: true } });
  // a [4, 3, 3, 3] weight at offset 10 of a flat vector, then transposed and flipped as the input gradient reads it
  const w = input([3, 4, 3, 3], [200], [
    { primitive: 'shrink', params: { slice: [[10, 118]] } },
    { primitive: 'reshape', params: { shape: [4, 3, 3, 3] } },
    { primitive: 'transpose', params: { perm: [1, 0, 2, 3] } },
    { primitive: 'flip', params: { axis: [2, 3] } },
  ]);
  assert.deepEqual(viewOf(w), { shape: [3, 4, 3, 3], strides: [9, 27, -3, -1], offset: 10 + 8 });
  // from the reshaped weight (two views up): no offset
  assert.deepEqual(viewOf(w, 2), { shape: [3, 4, 3, 3], strides: [9, 27, -3, -1], offset: 8 });
  assert.deepEqual(viewOf(w, 0), { shape: [3, 4, 3, 3], strides: [36, 9, 3, 1], offset: 0 });
  // a 4-D slice of a 4-D array: offset from every axis
  const s = input([2, 3, 4, 4], [5, 6, 7, 8], [{ primitive: 'shrink', params: { slice: [[1, 3], [2, 5], [3, 7], [4, 8]] } }]);
  assert.deepEqual(viewOf(s), { shape: [2, 3, 4, 4], strides: [336, 56, 8, 1], offset: 336 + 2 * 56 + 3 * 8 + 4 });
  // a transposed array reshaped is not a strided view of the root
  const t = input([6, 2, 1, 1], [2, 6], [
    { primitive: 'transpose', params: { perm: [1, 0] } },
    { primitive: 'reshape', params: { shape: [6, 2, 1, 1] } },
  ]);
  assert.equal(viewOf(t), null);
  assert.deepEqual(viewOf(t, 0), { shape: [6, 2, 1, 1], strides: [2, 1, 1, 1], offset: 0 });
});
