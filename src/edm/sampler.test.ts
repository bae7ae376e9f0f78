/**
 * EDM sampler (Algorithm 2) against the closed-form probability-flow ODE of Gaussian data: for
 * x0 ~ N(0, s²I) the exact denoiser is D = s²/(s²+σ²)·x, dx/dσ = σx/(s²+σ²), so x(σ) ∝ √(s²+σ²) and
 * sampling from σ_0 maps latents z to z·σ_0·s/√(s²+σ_0²). Heun (2nd order) must be far closer than
 * Euler; per-seed randomness makes image k independent of the batch it is drawn in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numpy as np, random, tree } from '@jax-js/jax';
import { assertClose } from '../testing/backends.js';
import { liveBuffers, trackBuffers } from '../train/live-buffers.js';
import { initMlp, mlpNet, type MlpConfig } from '../nets/mlp.js';
import { perSample, precondition, type Denoiser } from './precond.js';
import { edmSample, edmSampleSeeds, evaluationsPerSample } from './sampler.js';
import { karrasSigmas } from './schedule.js';

/** Exact denoiser of N(0, s²I). */
function gaussianDenoiser(s: number): Denoiser {
  return (p, x, sigma, labels) => {
    labels?.dispose();
    return x.mul(perSample(np.reciprocal(np.square(sigma).add(s * s)).mul(s * s), x.ndim));
  };
}

test('Gaussian PF-ODE: Heun converges at 2nd order and Euler at 1st order to the closed form', async () => {
  const s = 0.5;
  const D = gaussianDenoiser(s);
  const z = random.normal(random.key(0), [4, 1, 3, 3]);
  const zh = (await z.ref.data()) as Float32Array;
  const exact = Array.from(zh, (v) => (v * 80 * s) / Math.sqrt(s * s + 80 * 80));
  const err = (a: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - exact[i]))) / Math.max(...exact.map(Math.abs));
  const run = async (steps: number, solver: 'heun' | 'euler') => err(await (await edmSample(D, {}, z.ref, karrasSigmas(steps), null, { solver })).data());
  const [h18, h36, h72] = [await run(18, 'heun'), await run(36, 'heun'), await run(72, 'heun')];
  const [e36, e72] = [await run(36, 'euler'), await run(72, 'euler')];
  z.dispose();
  // Halving the step size divides the error by ~4 (Heun) and by ~2 (Euler).
  assert.ok(h36 / h72 > 3.2 && h36 / h72 < 5, `heun error ratio ${h36 / h72}`);
  assert.ok(e36 / e72 > 1.6 && e36 / e72 < 2.6, `euler error ratio ${e36 / e72}`);
  assert.ok(h72 < 4e-3 && e72 > 5 * h72, `heun ${h72}, euler ${e72}`);
  // 18 Heun steps from latent 1: an independent float64 JS loop of Algorithm 2 (no churn) gives
  // 0.527624637 (the exact ODE endpoint is 0.499990; the gap is the discretisation error).
  const one = (await (await edmSample(D, {}, np.array([[1]]), karrasSigmas(18), null, { solver: 'heun' })).data()) as Float32Array;
  assertClose(one, [0.527624637001047], { rtol: 1e-5 });
  assert.ok(h18 > 0.05 && h18 < 0.06);
  assert.equal(evaluationsPerSample(18, 'heun'), 35);
});

test('Heun with one step equals Euler with one step (a random MLP denoiser)', async () => {
  const cfg: MlpConfig = { dim: 2, hidden: 16, layers: 2, embChannels: 8, labelDim: 0 };
  const params = initMlp(random.key(1), cfg);
  params['out.weight'] = params['out.weight'].mul(1e5); // undo the near-zero init so F matters
  const D = precondition('edm', (p, x, n, l, o) => mlpNet(cfg, p, x, n, l, o));
  const z = random.normal(random.key(2), [5, 2]);
  const sig = karrasSigmas(1);
  const a = (await (await edmSample(D, tree.ref(params), z.ref, sig, null, { solver: 'heun' })).data()) as Float32Array;
  const b = (await (await edmSample(D, params, z, sig, null, { solver: 'euler' })).data()) as Float32Array;
  assert.deepEqual(a, b);
});

test('per-seed sampling: image k is the same at any batch size, with churn noise; churn needs seeds', async () => {
  const D = gaussianDenoiser(0.5);
  const sig = karrasSigmas(6);
  const churn = { SChurn: 10, SMin: 0.05, SMax: 50, SNoise: 1.003 };
  const seeds = [11, 12, 13, 14, 15];
  const all = (await (await edmSampleSeeds(D, {}, seeds, [1, 2, 2], sig, null, { churn, batchSize: 5 })).data()) as Float32Array;
  const in2 = (await (await edmSampleSeeds(D, {}, seeds, [1, 2, 2], sig, null, { churn, batchSize: 2 })).data()) as Float32Array;
  const alone = (await (await edmSampleSeeds(D, {}, [14], [1, 2, 2], sig, null, { churn })).data()) as Float32Array;
  const noChurn = (await (await edmSampleSeeds(D, {}, seeds, [1, 2, 2], sig, null, {})).data()) as Float32Array;
  assertClose(in2, all, { rtol: 1e-6, atol: 1e-7, what: 'batch 2 vs 5' });
  assertClose(alone, all.slice(3 * 4, 4 * 4), { rtol: 1e-6, atol: 1e-7, what: 'seed 14 alone' });
  assert.ok(noChurn.some((v, i) => Math.abs(v - all[i]) > 1e-3), 'churn changes the samples');
  await assert.rejects(edmSample(D, {}, np.zeros([2, 2]), sig, null, { churn }), /churn needs one seed per latent/);
});

test('labels reach the denoiser per seed', async () => {
  // A "denoiser" that returns the label index: D = labels·[0,1,2]ᵀ broadcast over the sample.
  const D = (p: object, x: np.Array, sigma: np.Array, labels: np.Array | null) => {
    sigma.dispose();
    const idx = np.matmul(labels!, np.array([[0], [1], [2]])).reshape([-1, 1]);
    return x.mul(0).add(idx);
  };
  const sig = karrasSigmas(2);
  const out = await (
    await edmSampleSeeds(D as any, {}, [0, 1, 2], [2], sig, (s) => np.eye(3).slice([0, s.length]).mul(1), { solver: 'euler', batchSize: 3 })
  ).data();
  // Euler's last step returns D exactly: rows are 0, 1, 2.
  assertClose(out, [0, 0, 1, 1, 2, 2], { atol: 1e-6 });
});

test('onStep reports each solver step; an aborted signal stops sampling with one error and no leak', async () => {
  await trackBuffers();
  const D = gaussianDenoiser(0.5);
  const steps: number[] = [];
  const x = await edmSampleSeeds(D, {}, [0, 1, 2], [1, 2, 2], karrasSigmas(5), null, { batchSize: 2, onStep: (done, total) => steps.push(done * 10 + total) });
  x.dispose();
  // two batches (2 + 1 seeds), 5 steps each
  assert.deepEqual(steps, [15, 25, 35, 45, 55, 15, 25, 35, 45, 55]);
  const before = liveBuffers();
  const ac = new AbortController();
  let seen = 0;
  const cancelled = edmSampleSeeds(D, {}, [0, 1, 2], [1, 2, 2], karrasSigmas(5), null, {
    batchSize: 2,
    onStep: (done) => {
      seen++;
      if (done === 2) ac.abort();
    },
    signal: ac.signal,
  });
  await assert.rejects(cancelled, /^Error: sampling cancelled$/);
  assert.equal(seen, 2, 'stopped before the third step');
  assert.equal(liveBuffers(), before, 'nothing left allocated');
});
