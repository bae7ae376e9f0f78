/**
 * Noise-level distributions p(σ) and weights w(σ) for the Integral KL divergence (Diff-Instruct eq. 3.2):
 *   IKL(q‖p) = ∫ w(σ) KL(q_σ ‖ p_σ) dσ,   q_σ, p_σ = the distributions diffused to noise level σ.
 * Each distribution draws one σ per sample from an explicit key; weights are named functions of σ.
 */
import { numpy as np, random } from '@jax-js/jax';
import { sampleSigmaLogNormal } from '../edm/loss.js';

export type SigmaDist =
  /** EDM's training distribution: ln σ ~ N(pMean, pStd²) (the Diff-Instruct reference uses −1.2, 1.2). */
  | { kind: 'lognormal'; pMean: number; pStd: number }
  /** ln σ uniform on [ln min, ln max]. */
  | { kind: 'loguniform'; min: number; max: number }
  /**
   * σ on EDM's Karras schedule at a uniform position t ∈ [tMin, tMax] (t = 0 → σmin, t = 1 → σmax):
   * σ = (σmax^(1/ρ) + (1−t)(σmin^(1/ρ) − σmax^(1/ρ)))^ρ. SiD uses t ∈ [0, 0.8] (its tmax = 800).
   */
  | { kind: 'karras'; min: number; max: number; rho: number; tMin: number; tMax: number }
  /** A single noise level: plain KL at σ (the paper's contrast to IKL, and the closed-form tests). */
  | { kind: 'fixed'; value: number };

/** Draws σ for `n` samples: an [n] float32 array. Consumes `key`. */
export function sampleSigma(dist: SigmaDist, key: np.Array, n: number): np.Array {
  switch (dist.kind) {
    case 'lognormal':
      return sampleSigmaLogNormal(key, n, dist.pMean, dist.pStd);
    case 'loguniform': {
      const lo = Math.log(dist.min), hi = Math.log(dist.max);
      return np.exp(random.uniform(key, [n]).mul(hi - lo).add(lo));
    }
    case 'karras': {
      const a = dist.max ** (1 / dist.rho), b = dist.min ** (1 / dist.rho);
      const t = random.uniform(key, [n]).mul(dist.tMax - dist.tMin).add(dist.tMin);
      // t = 0 → b^ρ = σmin; t = 1 → a^ρ = σmax
      return np.power(t.mul(a - b).add(b), dist.rho);
    }
    case 'fixed':
      key.dispose();
      return np.full([n], dist.value);
  }
}

/** Sums every axis but the first: [N, ...] → [N]. */
export function sumPerSample(x: np.Array): np.Array {
  const axes = Array.from({ length: x.ndim - 1 }, (_, i) => i + 1);
  return axes.length ? x.sum(axes) : x;
}

/** Mean over every axis but the first: [N, ...] → [N]. */
export function meanPerSample(x: np.Array): np.Array {
  const axes = Array.from({ length: x.ndim - 1 }, (_, i) => i + 1);
  return axes.length ? x.mean(axes) : x;
}
