/**
 * Fréchet distance between two Gaussians fitted to feature sets (Heusel et al. 2017, "GANs trained by a
 * two time-scale update rule converge to a local Nash equilibrium", Eq. 6; Dowson & Landau 1982):
 *
 *   FD = ‖μ1 − μ2‖² + tr(Σ1) + tr(Σ2) − 2 tr((Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}).
 *
 * The usual implementation writes the last term as tr sqrtm(Σ1 Σ2) and calls a general (Schur-based)
 * matrix square root on the non-symmetric product, which can return complex values from round-off.
 * The two are equal: with A = Σ1^{1/2} (symmetric PSD), Σ1Σ2 = A·(AΣ2) and M = (AΣ2)·A = AΣ2A share
 * their non-zero eigenvalues (XY and YX always do), and M is symmetric PSD, so the eigenvalues λ_i of
 * Σ1Σ2 are real and ≥ 0 and tr sqrtm(Σ1Σ2) = Σ_i √λ_i = tr M^{1/2}. Both square roots here are of
 * symmetric PSD matrices, computed by symmetric eigendecompositions in float64 (src/metrics/linalg.ts).
 *
 * With our own classifier's features this is "FD-FMNIST" / "FD-MNIST", not Inception FID.
 */
import { eigh, matmulSquare, meanCov, sqrtmPsd, trace, type Moments } from './linalg.js';

/** Gaussian statistics of a feature set (μ [d], Σ [d·d] row-major). */
export type GaussianStats = Pick<Moments, 'd' | 'mu' | 'sigma'>;

/** The three parts of the Fréchet distance, for diagnostics: FD = meanTerm + covTerm. */
export interface FdParts {
  fd: number;
  /** ‖μ1 − μ2‖² */
  meanTerm: number;
  /** tr Σ1 + tr Σ2 − 2 tr (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2} */
  covTerm: number;
}

/** Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2) (formula in the file header). */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  return frechetDistanceParts(a, b).fd;
}

export function frechetDistanceParts(a: GaussianStats, b: GaussianStats): FdParts {
  const d = a.d;
  if (b.d !== d) throw new Error(`frechetDistance: feature dimensions differ (${a.d} vs ${b.d})`);
  if (a.mu.length !== d || b.mu.length !== d || a.sigma.length !== d * d || b.sigma.length !== d * d) {
    throw new Error(`frechetDistance: statistics do not have shapes μ [${d}], Σ [${d}×${d}]`);
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mu[i] - b.mu[i]) ** 2;
  const s1Half = sqrtmPsd(a.sigma, d);
  const m = matmulSquare(matmulSquare(s1Half, b.sigma, d), s1Half, d);
  // symmetrise: round-off makes A Σ2 A very slightly asymmetric
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const v = 0.5 * (m[i * d + j] + m[j * d + i]);
      m[i * d + j] = v;
      m[j * d + i] = v;
    }
  }
  let trSqrt = 0;
  for (const l of eigh(m, d).values) trSqrt += Math.sqrt(Math.max(l, 0));
  const covTerm = trace(a.sigma, d) + trace(b.sigma, d) - 2 * trSqrt;
  return { fd: meanTerm + covTerm, meanTerm, covTerm };
}

/** FD between two feature sets ([n, d] row-major each). */
export function fdFromFeatures(x: ArrayLike<number>, nx: number, y: ArrayLike<number>, ny: number, d: number): number {
  return frechetDistance(meanCov(x, nx, d), meanCov(y, ny, d));
}
