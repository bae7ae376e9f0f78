/**
 * EDM loss against closed forms. For data x0 ~ N(0, s²I) in d dims the exact denoiser is
 * D(y; σ) = s²/(s²+σ²)·y, whose error per element has variance s²σ²/(s²+σ²); with s = σd the weight
 * λ(σ) = (σ²+σd²)/(σσd)² makes λ·E‖D − x0‖² = d for every σ (EDM's "unit-variance target"), and the
 * per-sample loss is exactly d·χ²_d/d distributed: mean d, variance 2d.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numpy as np, random } from '@jax-js/jax';
import { assertClose } from '../testing/backends.js';
import { edmLoss, edmWeight, sampleSigmaLogNormal } from './loss.js';
import { perSample, type Denoiser } from './precond.js';

/** Exact denoiser of N(0, s²I). */
function gaussianDenoiser(s: number): Denoiser {
  return (p, x, sigma, labels) => {
    labels?.dispose();
    const c = np.reciprocal(np.square(sigma).add(s * s)).mul(s * s);
    return x.mul(perSample(c, x.ndim));
  };
}

test('edmWeight λ(σ) = (σ²+σd²)/(σσd)²: 8 at σ=0.5, 5 at σ=1, 104 at σ=0.1 (σd = 0.5)', async () => {
  assertClose(await edmWeight(np.array([0.5, 1, 0.1]), 0.5).data(), [8, 5, 104], { rtol: 1e-5 });
  // σd = 1: λ(2) = 5/4
  assertClose(await edmWeight(np.array([2]), 1).data(), [1.25], { rtol: 1e-6 });
});

test('sampleSigmaLogNormal: ln σ has mean pMean and std pStd', async () => {
  const s = (await sampleSigmaLogNormal(random.key(0), 20000, -1.2, 1.2).data()) as Float32Array;
  const l = Array.from(s, Math.log);
  const mean = l.reduce((a, b) => a + b, 0) / l.length;
  const std = Math.sqrt(l.reduce((a, b) => a + (b - mean) ** 2, 0) / l.length);
  // standard errors: 1.2/√20000 ≈ 0.0085 for the mean, ≈ 0.006 for the std
  assert.ok(Math.abs(mean + 1.2) < 0.04, `mean ln σ ${mean}`);
  assert.ok(Math.abs(std - 1.2) < 0.03, `std ln σ ${std}`);
});

test('edmLoss with the exact Gaussian denoiser has per-sample mean d (σ-independent) and variance 2d', async () => {
  const n = 20000, d = 2, s = 0.5;
  const x0 = random.normal(random.key(1), [n, d]).mul(s);
  const loss = (await edmLoss(gaussianDenoiser(s), {}, x0, null, random.key(2), { sigmaData: s }).data()) as Float32Array;
  assert.equal(loss.length, n);
  const mean = loss.reduce((a, b) => a + b, 0) / n;
  const variance = loss.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  // standard error of the mean √(2d/n) ≈ 0.014; of the variance ≈ 0.1
  assert.ok(Math.abs(mean - d) < 0.07, `mean loss ${mean}, expected ${d}`);
  assert.ok(Math.abs(variance - 2 * d) < 0.6, `loss variance ${variance}, expected ${2 * d}`);
  // A denoiser that ignores σ (D = 0) has E[loss | σ] = λ(σ)·d·s², far above d on average.
  const zero: Denoiser = (p, x, sigma) => {
    sigma.dispose();
    return x.mul(0);
  };
  const lz = (await edmLoss(zero, {}, random.normal(random.key(3), [2000, d]).mul(s), null, random.key(4), { sigmaData: s }).data()) as Float32Array;
  assert.ok(lz.reduce((a, b) => a + b, 0) / lz.length > 5 * d);
});

test('edmLoss sums over all pixels of an image and is deterministic in its key', async () => {
  const x0 = random.normal(random.key(5), [3, 1, 4, 4]).mul(0.5);
  const a = (await edmLoss(gaussianDenoiser(0.5), {}, x0.ref, null, random.key(6)).data()) as Float32Array;
  const b = (await edmLoss(gaussianDenoiser(0.5), {}, x0.ref, null, random.key(6)).data()) as Float32Array;
  const c = (await edmLoss(gaussianDenoiser(0.5), {}, x0, null, random.key(7)).data()) as Float32Array;
  assert.equal(a.length, 3);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});
