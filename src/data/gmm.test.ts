/**
 * Tests for the Gaussian-mixture oracle (gmm.ts): the diffused score against finite differences and
 * jax-js `grad` of the diffused log-density and against the float64 host reference; the float64
 * reference against numeric integration and the Gaussian closed form; the denoiser against the
 * one-component closed form (s²x + σ²μ)/(s² + σ²) and its σ → ∞ limit (the mixture mean).
 */
import '../platform/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, jit, numpy as np, random } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { liveBuffers, trackBuffers } from '../train/live-buffers.js';
import { GaussianMixture } from './gmm.js';

// three components with distinct stds and weights, so a wrong s_k, v_k or w_k anywhere shows
const MIX = new GaussianMixture(
  [
    [-1, 0.5],
    [2, 1],
    [0.3, -2],
  ],
  [0.1, 0.5, 0.3],
  [2, 5, 3],
);
// near a tight mode, between modes, near a broad mode, near the third, and far out in the tails
const POINTS = [
  [-1.02, 0.47],
  [0.5, 0.0],
  [2.3, 1.4],
  [0.3, -1.9],
  [5, -4],
];
const SIGMAS = [0.01, 0.1, 1, 10];

/** Central-difference gradient of a float64 function of one point. */
function fdGrad(f: (p: number[]) => number, p: number[], h: number): number[] {
  return p.map((_, j) => {
    const a = [...p], b = [...p];
    a[j] += h;
    b[j] -= h;
    return (f(a) - f(b)) / (2 * h);
  });
}

/** Asserts |a − e| ≤ tol·(1 + |e|)·scale elementwise, with scale = the score's natural size 1/√v_min. */
function closeScaled(a: ArrayLike<number>, e: ArrayLike<number>, tol: number, scale: number, what: string): void {
  assertClose(a, e, { rtol: tol, atol: tol * scale, what });
}

test('float64 reference: one component equals the Gaussian log-density; mixture integrates to 1', () => {
  // log N(0; 0, I_2) = −log(2π)
  const std = new GaussianMixture([[0, 0]], 1);
  assert.ok(Math.abs(std.logDensityJS([0, 0]) - -Math.log(2 * Math.PI)) < 1e-12);
  // log N((1,2); (0.5,−1), 0.3² I) = −log(2π·0.09) − (0.25 + 9)/(2·0.09), diffused by σ = 0.4: v = 0.25
  const g = new GaussianMixture([[0.5, -1]], 0.3);
  assert.ok(Math.abs(g.logDensityJS([1, 2]) - (-Math.log(2 * Math.PI * 0.09) - 9.25 / 0.18)) < 1e-10);
  assert.ok(Math.abs(g.logDensityJS([1, 2], 0.4) - (-Math.log(2 * Math.PI * 0.25) - 9.25 / 0.5)) < 1e-10);
  // midpoint rule on [−4, 6] × [−5, 4] (≥ 6 stds around every mode), step 0.01
  let mass = 0;
  const h = 0.01;
  for (let x = -4 + h / 2; x < 6; x += h) for (let y = -5 + h / 2; y < 4; y += h) mass += Math.exp(MIX.logDensityJS([x, y]));
  assert.ok(Math.abs(mass * h * h - 1) < 1e-4, `mixture mass ${mass * h * h}`);
  // scoreJS is the gradient of logDensityJS (float64 central differences)
  for (const s of SIGMAS) {
    for (const p of POINTS) {
      const h64 = 1e-5 * Math.sqrt(0.01 + s * s);
      closeScaled(MIX.scoreJS(p, s), fdGrad((q) => MIX.logDensityJS(q, s), p, h64), 1e-6, 1 / Math.sqrt(0.01 + s * s), `scoreJS σ=${s}`);
    }
  }
});

testOnBackends('diffused score = grad and finite differences of diffusedLogDensity = float64 reference', async () => {
  const n = POINTS.length;
  const score = jit((x: np.Array, s: np.Array) => MIX.score(x, s));
  const logp = jit((x: np.Array, s: np.Array) => MIX.diffusedLogDensity(x, s));
  const gradLogp = jit(grad((x: np.Array, s: np.Array) => MIX.diffusedLogDensity(x, s).sum()));
  const flat = POINTS.flat();
  try {
    for (const s of SIGMAS) {
      const vmin = 0.01 + s * s; // smallest component variance: sets the score's scale
      const scale = 1 / Math.sqrt(vmin);
      const sig = () => np.full([n], s);
      const x = () => np.array(flat, { shape: [n, 2] });
      const got = await score(x(), sig()).data();
      const viaGrad = await gradLogp(x(), sig()).data();
      const lp = await logp(x(), sig()).data();
      const ref = POINTS.flatMap((p) => MIX.scoreJS(p, s));
      const refLp = POINTS.map((p) => MIX.logDensityJS(p, s));
      closeScaled(got, ref, 2e-5, scale, `score vs float64 σ=${s}`);
      closeScaled(viaGrad, ref, 2e-5, scale, `grad(logp) vs float64 σ=${s}`);
      assertClose(lp, refLp, { rtol: 1e-5, atol: 1e-5, what: `logp vs float64 σ=${s}` });
      // float32 central differences of the jax-js log-density itself, step ∝ the smallest std
      const h = 1e-2 * Math.sqrt(vmin);
      const fd = new Float64Array(2 * n);
      for (let j = 0; j < 2; j++) {
        const shift = flat.map((_, i) => (i % 2 === j ? h : 0));
        const up = await logp(np.array(flat.map((v, i) => v + shift[i]), { shape: [n, 2] }), sig()).data();
        const dn = await logp(np.array(flat.map((v, i) => v - shift[i]), { shape: [n, 2] }), sig()).data();
        for (let i = 0; i < n; i++) fd[2 * i + j] = (up[i] - dn[i]) / (2 * h);
      }
      closeScaled(got, fd, 1e-3, scale, `score vs float32 finite differences σ=${s}`);
    }
  } finally {
    score.dispose();
    logp.dispose();
    gradLogp.dispose();
  }
});

testOnBackends('one-component denoiser equals (s²x + σ²μ)/(s² + σ²); score equals (D − x)/σ²', async () => {
  const mu = [1, -2, 0.5];
  const s = 0.3;
  const g = new GaussianMixture([mu], s);
  const xs = [
    [0, 0, 0],
    [1.1, -1.9, 0.4],
    [-3, 2, 5],
    [10, -20, 7],
  ];
  const sigmas = [0.01, 0.5, 2, 30];
  const den = jit((x: np.Array, sig: np.Array) => g.asDenoiser()({}, x, sig, null));
  const sc = jit((x: np.Array, sig: np.Array) => g.score(x, sig));
  try {
    const D = await den(np.array(xs.flat(), { shape: [4, 3] }), np.array(sigmas)).data();
    const expected = xs.flatMap((x, i) => x.map((v, j) => (s * s * v + sigmas[i] ** 2 * mu[j]) / (s * s + sigmas[i] ** 2)));
    assertClose(D, expected, { rtol: 1e-5, atol: 1e-5, what: 'D' });
    const S = await sc(np.array(xs.flat(), { shape: [4, 3] }), np.array(sigmas)).data();
    const expectedS = xs.flatMap((x, i) => x.map((v, j) => (mu[j] - v) / (s * s + sigmas[i] ** 2)));
    assertClose(S, expectedS, { rtol: 1e-5, atol: 1e-5, what: 'score' });
  } finally {
    den.dispose();
    sc.dispose();
  }
});

testOnBackends('denoiser tends to the mixture mean as σ grows, and is far from it at small σ', async () => {
  const mean = MIX.mean(); // Σ w_k μ_k = 0.2·(−1, 0.5) + 0.5·(2, 1) + 0.3·(0.3, −2) = (0.89, −0.00)
  assertClose(mean, [0.89, 0], { atol: 1e-12, what: 'mixture mean' });
  const den = jit((x: np.Array, sig: np.Array) => MIX.denoise(x, sig));
  try {
    const n = POINTS.length;
    const far = await den(np.array(POINTS.flat(), { shape: [n, 2] }), np.full([n], 1e3)).data();
    assertClose(far, POINTS.flatMap(() => mean), { atol: 1e-3, what: 'D(x; σ=1e3)' });
    // at σ = 0.01 the first point (0.02 from the tight mode at (−1, 0.5)) denoises onto that mode
    const near = await den(np.array(POINTS[0], { shape: [1, 2] }), np.full([1], 0.01)).data();
    assertClose(near, MIX.denoiseJS(POINTS[0], 0.01), { atol: 1e-5, what: 'D(x; σ=0.01)' });
    assert.ok(Math.hypot(near[0] - mean[0], near[1] - mean[1]) > 1.5, 'small-σ denoiser should not be the mean');
  } finally {
    den.dispose();
  }
});

testOnBackends('sample matches the mixture mean and covariance; methods free what they take', async (backend) => {
  await trackBuffers();
  const before = liveBuffers();
  // 2D mixture: mean Σ w μ, covariance Σ w (s² I + μμᵀ) − mean meanᵀ
  const n = backend === 'wasm' ? 40000 : 8000;
  const x = MIX.sample(random.key(7), n);
  assert.deepEqual(x.shape, [n, 2]);
  const data = await x.ref.data(); // data() consumes its array
  const m = [0, 0];
  for (let i = 0; i < n; i++) for (let j = 0; j < 2; j++) m[j] += data[2 * i + j] / n;
  const c = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const a = data[2 * i] - m[0], b = data[2 * i + 1] - m[1];
    c[0] += (a * a) / n;
    c[1] += (a * b) / n;
    c[2] += (b * b) / n;
  }
  const mean = MIX.mean();
  const cov = [0, 0, 0];
  MIX.means.forEach((mu, k) => {
    const w = MIX.weights[k], s2 = MIX.stds[k] ** 2;
    cov[0] += w * (s2 + mu[0] * mu[0]);
    cov[1] += w * mu[0] * mu[1];
    cov[2] += w * (s2 + mu[1] * mu[1]);
  });
  cov[0] -= mean[0] ** 2;
  cov[1] -= mean[0] * mean[1];
  cov[2] -= mean[1] ** 2;
  const se = 4 / Math.sqrt(n); // 4 standard errors for unit-scale moments (variances here are ≤ 2.3)
  assertClose(m, mean, { atol: 2 * se, what: 'sample mean' });
  assertClose(c, cov, { atol: 6 * se, what: 'sample covariance' });
  // eager calls consume their inputs and leave only their outputs
  const outs = [MIX.score(x.ref, np.full([n], 0.5)), MIX.denoise(x.ref, 0.1), MIX.diffusedLogDensity(x.ref, np.full([n], 2)), MIX.logDensity(x)];
  for (const o of outs) await o.blockUntilReady();
  assert.equal(liveBuffers() - before, outs.length);
  for (const o of outs) o.dispose();
  assert.equal(liveBuffers(), before);
});

test('bad shapes and parameters give one-line errors', () => {
  assert.throws(() => new GaussianMixture([[0, 0], [1]], 1), /mean 1 has 1 coordinates, expected 2/);
  assert.throws(() => new GaussianMixture([[0, 0]], [0]), /std 0 is 0/);
  assert.throws(() => new GaussianMixture([[0, 0]], 1, [1, 2]), /2 weights for 1 components/);
  assert.throws(() => MIX.score(np.zeros([3, 3]), 1), /score: x has shape \[3, 3\], expected \[n, 2\]/);
  assert.throws(() => MIX.denoise(np.zeros([3, 2]), np.ones([4])), /sigma has shape \[4\], expected \[3\]/);
});
