/**
 * Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_` (p = 2):
 *
 *   n = sqrt(Σ_leaves Σ g²),   g ← g · min(1, maxNorm / (n + 1e-6))
 *
 * Diff-Instruct's generator gradient (the IKL gradient, paper Eq. 3.5) can spike when the online
 * score network lags; clipping keeps one bad batch from wrecking the generator.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { flatSumOfSquares, globalNorm, type ArrayTree } from './tree.js';

/**
 * Scales `grads` so their global norm is at most `maxNorm` and returns the pre-clip norm (a float32
 * scalar, for logging). `maxNorm ≤ 0` or `Infinity` disables clipping (the norm is still returned).
 * Jittable (`maxNorm` is a compile-time constant); consumes `grads`.
 */
export function clipByGlobalNorm<T extends ArrayTree>(grads: T, maxNorm: number): { grads: T; norm: np.Array } {
  const norm = globalNorm(tree.ref(grads));
  if (!clips(maxNorm)) return { grads, norm };
  const coef = clipCoefficient(norm.ref, maxNorm);
  const out = tree.map((g: np.Array) => g.mul(coef.ref), grads) as T;
  coef.dispose();
  return { grads: out, norm };
}

/** `clipByGlobalNorm` for a flat gradient (src/train/tree.ts `concatLeaves`): one vector, one scaling. Consumes `g`. */
export function clipFlat(g: np.Array, maxNorm: number): { g: np.Array; norm: np.Array } {
  const norm = np.sqrt(flatSumOfSquares(g.ref));
  if (!clips(maxNorm)) return { g, norm };
  return { g: g.mul(clipCoefficient(norm.ref, maxNorm)), norm };
}

const clips = (maxNorm: number) => maxNorm > 0 && maxNorm !== Infinity;

/** min(1, maxNorm / (‖g‖ + 1e-6)): torch adds 1e-6 to the norm and clamps the coefficient at 1. Consumes `norm`. */
function clipCoefficient(norm: np.Array, maxNorm: number): np.Array {
  return np.minimum(np.reciprocal(norm.add(1e-6)).mul(maxNorm), 1);
}
