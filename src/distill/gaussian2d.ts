/**
 * Closed-form 2-D Gaussian models: the exact setting in which Diff-Instruct can be checked against
 * analytic answers.
 *  - A Gaussian N(m, C) diffused to σ is N(m, C + σ²I); its denoiser (posterior mean, Tweedie) is
 *      D(x, σ) = m + C (C + σ²I)⁻¹ (x − m).
 *    With C = L Lᵀ (L lower-triangular, params {mean [2], chol [3] = (l11, l21, l22)}) this is both the
 *    exact teacher and a fake-score model that can represent any Gaussian generator distribution exactly.
 *  - A linear generator x = a + B z, z ~ N(0, I₂), has distribution N(a, B Bᵀ).
 *  - KL(N(m1, S1) ‖ N(m2, S2)) = ½[tr(S2⁻¹S1) + (m2−m1)ᵀS2⁻¹(m2−m1) − 2 + ln(det S2/det S1)].
 */
import { numpy as np } from '@jax-js/jax';

export type GaussianParams = { mean: np.Array; chol: np.Array };
export type LinearGenParams = { a: np.Array; B: np.Array };

/** Covariance entries (c11, c21, c22) of C = L Lᵀ from chol = (l11, l21, l22), as [1]-shaped arrays. */
function covEntries(chol: np.Array): [np.Array, np.Array, np.Array] {
  const l11 = chol.ref.slice([0, 1]);
  const l21 = chol.ref.slice([1, 2]);
  const l22 = chol.slice([2, 3]);
  const c11 = np.square(l11.ref);
  const c21 = l21.ref.mul(l11);
  const c22 = np.square(l21).add(np.square(l22));
  return [c11, c21, c22];
}

/**
 * Exact denoiser of N(mean, L Lᵀ) diffused to σ: `(params, x [N,2], sigma [N]) → [N,2]`.
 * Matches the project's Denoiser signature (labels ignored). Consumes its arguments.
 */
export function gaussianDenoiser(params: GaussianParams, x: np.Array, sigma: np.Array, labels: np.Array | null = null): np.Array {
  labels?.dispose();
  const [c11, c21, c22] = covEntries(params.chol);
  const s2 = np.square(sigma).reshape([-1, 1]); // [N,1]
  const a = c11.ref.add(s2.ref), b = c21.ref, d = c22.ref.add(s2); // M = C + σ²I = [[a, b], [b, d]]
  const det = a.ref.mul(d.ref).sub(np.square(b.ref));
  const mean = params.mean.reshape([1, 2]);
  const r = x.sub(mean.ref); // x − m, [N,2]
  const r1 = r.ref.slice([], [0, 1]), r2 = r.slice([], [1, 2]);
  // u = M⁻¹ r = [[d, −b], [−b, a]] r / det
  const u1 = d.mul(r1.ref).sub(b.ref.mul(r2.ref)).div(det.ref);
  const u2 = a.mul(r2).sub(b.mul(r1)).div(det);
  // D = m + C u
  const y1 = c11.mul(u1.ref).add(c21.ref.mul(u2.ref));
  const y2 = c21.mul(u1).add(c22.mul(u2));
  return np.concatenate([y1, y2], 1).add(mean);
}

/** x = a + z Bᵀ for z [N,2]. Consumes its arguments. */
export function linearGenerator(params: LinearGenParams, z: np.Array): np.Array {
  return np.matmul(z, params.B.transpose()).add(params.a.reshape([1, 2]));
}

/** Float64 KL(N(m1,S1) ‖ N(m2,S2)) in 2-D; S as [s11, s12, s22]. */
export function klGaussian2d(m1: number[], S1: number[], m2: number[], S2: number[]): number {
  const det1 = S1[0] * S1[2] - S1[1] * S1[1];
  const det2 = S2[0] * S2[2] - S2[1] * S2[1];
  const inv2 = [S2[2] / det2, -S2[1] / det2, S2[0] / det2];
  const tr = inv2[0] * S1[0] + 2 * inv2[1] * S1[1] + inv2[2] * S1[2];
  const dm = [m2[0] - m1[0], m2[1] - m1[1]];
  const quad = inv2[0] * dm[0] * dm[0] + 2 * inv2[1] * dm[0] * dm[1] + inv2[2] * dm[1] * dm[1];
  return 0.5 * (tr + quad - 2 + Math.log(det2 / det1));
}

/** Covariance [s11, s12, s22] of B Bᵀ + σ²I for B = [[b11, b12], [b21, b22]] given row-major. */
export function linearGenCov(B: number[], sigma = 0): number[] {
  const [b11, b12, b21, b22] = B;
  return [b11 * b11 + b12 * b12 + sigma * sigma, b11 * b21 + b12 * b22, b21 * b21 + b22 * b22 + sigma * sigma];
}
