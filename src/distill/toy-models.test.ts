/**
 * The toy fake score initialised from the teacher (`fakeInit: 'teacher'`): at step 0 D_φ must be the
 * analytic mixture denoiser exactly (the closed form of src/data/gmm.ts), at every σ; one fake-score
 * step must move it off the teacher (the zero last layer still gets a gradient); 'scratch' must not
 * start at the teacher (it is c_skip·x plus ~0).
 */
import assert from 'node:assert/strict';
import { grad, numpy as np, random, tree } from '@jax-js/jax';
import { edmLoss } from '../edm/loss.js';
import { testOnBackends } from '../testing/backends.js';
import { toyModels } from './toy-models.js';

const BASE = { teacher: 'toy:ring8', mlpWidth: 32, mlpDepth: 2, sigmaData: 1, seed: 3 };
const SIGMAS = [0.002, 0.02, 0.1, 0.5, 2, 20];

/** 64 points spread over the ring's plane, each paired with one σ of SIGMAS. */
function probe(): { x: np.Array; sigma: np.Array } {
  const n = 64;
  const x = random.normal(random.key(11), [n, 2]).mul(2);
  const sigma = np.array(Array.from({ length: n }, (_, i) => SIGMAS[i % SIGMAS.length]));
  return { x, sigma };
}

testOnBackends("fakeInit 'teacher': D_φ equals the teacher denoiser exactly at init", async () => {
  const m = toyModels({ ...BASE, fakeInit: 'teacher' });
  const { x, sigma } = probe();
  const dq = await m.models.fake(m.phi0, x.ref, sigma.ref, null).data();
  const dp = await m.mixture.denoise(x, sigma).data();
  assert.deepEqual(dq, dp);
  tree.dispose(m.theta0);
});

testOnBackends("fakeInit 'teacher': one denoising-loss gradient reaches the residual's zero last layer", async () => {
  const m = toyModels({ ...BASE, fakeInit: 'teacher' });
  // Data off the ring (a blob at the origin): the teacher is a poor denoiser of it, so the loss has a gradient.
  const x0 = random.normal(random.key(5), [256, 2]).mul(0.3);
  const loss = (phi: Record<string, np.Array>) => edmLoss(m.models.fake, phi, x0.ref, null, random.key(6), { pMean: -1.2, pStd: 1.2, sigmaData: 1 }).mean();
  const g = grad(loss)(m.phi0) as Record<string, np.Array>;
  x0.dispose();
  const { 'out.weight': w, ...rest } = g;
  tree.dispose(rest);
  const gw = (await w.data()) as Float32Array;
  assert.ok(gw.some((v) => Math.abs(v) > 1e-6), 'out.weight gets a non-zero gradient');
  tree.dispose(m.theta0);
});

testOnBackends("fakeInit 'scratch' does not start at the teacher", async () => {
  const m = toyModels({ ...BASE, fakeInit: 'scratch' });
  const { x, sigma } = probe();
  const dq = (await m.models.fake(m.phi0, x.ref, sigma.ref, null).data()) as Float32Array;
  const dp = (await m.mixture.denoise(x, sigma).data()) as Float32Array;
  const maxDiff = Math.max(...dq.map((v, i) => Math.abs(v - dp[i])));
  assert.ok(maxDiff > 0.1, `scratch fake differs from the teacher (max |D_φ − D_p| = ${maxDiff})`);
  tree.dispose(m.theta0);
});

testOnBackends('latentStd: the MLP generator draws z ~ N(0, latentStd²·I), for training and for seeds, and records it', async () => {
  const m = toyModels({ ...BASE, latentStd: 8 });
  const g = m.models.generator;
  const z = (await g.sampleLatent(random.key(1), 4000).data()) as Float32Array;
  const std = Math.sqrt(z.reduce((s, v) => s + v * v, 0) / z.length);
  assert.ok(Math.abs(std - 8) < 0.2, `sample std ${std} (expected 8 ± 0.2 for 8,000 draws)`);
  // Per-seed latents are the standard ones times latentStd (the same image seed, a wider latent).
  const one = toyModels({ ...BASE }).models.generator;
  const [a, b] = [(await g.latentForSeeds([3, 4]).data()) as Float32Array, (await one.latentForSeeds([3, 4]).data()) as Float32Array];
  assert.deepEqual(Array.from(a), Array.from(b, (v) => v * 8));
  assert.equal((m.generatorMeta.generatorConfig as { latentStd: number }).latentStd, 8);
  assert.throws(() => toyModels({ ...BASE, latentStd: -1 }), /MLP generator: bad config/);
  tree.dispose(m.theta0);
  tree.dispose(m.phi0);
});
