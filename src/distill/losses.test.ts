/**
 * The Diff-Instruct surrogate's gradient against closed forms. Teacher N(μ, Σ) with its exact denoiser,
 * a linear generator x0 = a + Bz, and the exact fake denoiser of the generator's N(a, BBᵀ): at one fixed
 * σ, E[∇θ surrogate] with w = 1/σ² must equal ∇θ KL(N(a, BBᵀ+σ²I) ‖ N(μ, Σ+σ²I)), which we get by
 * central finite differences of the float64 closed-form KL.
 */
import assert from 'node:assert/strict';
import { grad, numpy as np, random } from '@jax-js/jax';
import { testOnBackends } from '../testing/backends.js';
import { gaussianDenoiser, klGaussian2d, linearGenCov, linearGenerator, type LinearGenParams } from './gaussian2d.js';
import { generatorLoss, type GeneratorLossOpts } from './losses.js';

const mu = [1.0, -0.5];
const tChol = [1.2, 0.4, 0.7]; // teacher Σ = L Lᵀ
const S = [tChol[0] ** 2, tChol[0] * tChol[1], tChol[1] ** 2 + tChol[2] ** 2];
const a0 = [0.2, 0.3];
const B0 = [0.8, 0.1, -0.3, 0.6]; // row-major

function chol2(c: number[]): number[] {
  const l11 = Math.sqrt(c[0]);
  const l21 = c[1] / l11;
  return [l11, l21, Math.sqrt(c[2] - l21 * l21)];
}

function klAt(a: number[], B: number[], sigma: number): number {
  return klGaussian2d(a, linearGenCov(B, sigma), mu, [S[0] + sigma ** 2, S[1], S[2] + sigma ** 2]);
}

function fdGrad(sigma: number): number[] {
  const h = 1e-5;
  const theta = [...a0, ...B0];
  return theta.map((_, i) => {
    const p = theta.slice(), m = theta.slice();
    p[i] += h;
    m[i] -= h;
    return (klAt(p.slice(0, 2), p.slice(2), sigma) - klAt(m.slice(0, 2), m.slice(2), sigma)) / (2 * h);
  });
}

async function surrogateGrad(kind: GeneratorLossOpts['kind'], sigma: number, weighting: GeneratorLossOpts['weighting'], n: number, seed: number) {
  const fakeChol = chol2(linearGenCov(B0));
  const opts: GeneratorLossOpts = { kind, weighting, sigma: { kind: 'fixed', value: sigma }, sidAlpha: 1.2 };
  const z = random.normal(random.key(seed), [n, 2]);
  const f = (theta: LinearGenParams, z: np.Array, key: np.Array) => {
    const x0 = linearGenerator(theta, z);
    const teacherP = { mean: np.array(mu), chol: np.array(tChol) };
    const fakeP = { mean: np.array(a0), chol: np.array(fakeChol) };
    return generatorLoss(opts, gaussianDenoiser as any, teacherP, gaussianDenoiser as any, fakeP, x0, null, key).mean();
  };
  const g = grad(f)({ a: np.array(a0), B: np.array(B0).reshape([2, 2]) }, z, random.key(seed + 1)) as LinearGenParams;
  const out = [...(await g.a.data()), ...(await g.B.data())];

  return out;
}

for (const sigma of [0.3, 1.5]) {
  testOnBackends(`IKL surrogate gradient = ∇ closed-form KL at σ=${sigma}`, async (backend) => {
    // WebGPU on llvmpipe truncates shader loops at 65,535 iterations (see docs/ARCHITECTURE.md), so it gets fewer samples.
    const n = backend === "wasm" ? 400_000 : 30_000;
    const got = await surrogateGrad('ikl', sigma, 'score-uniform', n, 7);
    const want = fdGrad(sigma);
    const scale = Math.max(...want.map(Math.abs));
    // Monte Carlo error ~ 1/√n: relative to the largest component, 2% (wasm) / 8% (webgpu, fewer samples).
    const tol = (backend === "wasm" ? 0.02 : 0.08) * scale;
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < tol, `component ${i}: surrogate ${v}, closed form ${want[i]} (σ=${sigma})`));
  });
}

testOnBackends('reference weighting scales the score-space gradient by σ²', async () => {
  const sigma = 0.7;
  const ref = await surrogateGrad('ikl', sigma, 'reference', 50_000, 3);
  const uni = await surrogateGrad('ikl', sigma, 'score-uniform', 50_000, 3);
  // Same z and ε (same seeds), so the ratio is exact up to float rounding.
  ref.forEach((v, i) => assert.ok(Math.abs(v - sigma ** 2 * uni[i]) < 1e-4 * (1 + Math.abs(v)), `component ${i}: ${v} vs σ²·${uni[i]}`));
});

testOnBackends('SDS direction pulls every particle toward the teacher denoiser', async () => {
  // With a Dirac fake, E_ε[x0 − D_p(x0 + σε)] for a Gaussian teacher equals (I − A)(x0 − μ) where
  // A = Σ(Σ+σ²I)⁻¹; at x0 = μ the expected gradient on a is ~0, far from μ it points away from μ
  // (descending it moves x0 toward μ).
  const g = await surrogateGrad('sds', 0.5, 'reference', 100_000, 11);
  // generator mean a0 = (0.2, 0.3) vs μ = (1, −0.5): gradient on a must have sign of (a0 − μ)
  assert.ok(g[0] < 0 && g[1] > 0, `SDS gradient on the mean ${g.slice(0, 2)} should point from μ to a0`);
});
