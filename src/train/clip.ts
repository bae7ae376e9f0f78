/**
 * Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_` (p = 2):
 *
 *   n = sqrt(Σ_leaves Σ g²),   g ← g · min(1, maxNorm / (n + 1e-6))
 *
 * Diff-Instruct's generator gradient (the IKL gradient, paper Eq. 3.5) can spike when the online
 * score network lags; clipping keeps one bad batch from wrecking the generator.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { globalNorm, type ArrayTree } from './tree.js';

/**
 * Scales `grads` so their global norm is at most `maxNorm` and returns the pre-clip norm (a float32
 * scalar, for logging). `maxNorm ≤ 0` or `Infinity` disables clipping (the norm is still returned).
 * Jittable (`maxNorm` is a compile-time constant); consumes `grads`.
 */
export function clipByGlobalNorm<T extends ArrayTree>(grads: T, maxNorm: number): { grads: T; norm: np.Array } {
  const norm = globalNorm(tree.ref(grads));
  if (!(maxNorm > 0) || maxNorm === Infinity) return { grads, norm };
  // torch adds 1e-6 to the norm and clamps the coefficient at 1
  const coef = np.minimum(np.reciprocal(norm.ref.add(1e-6)).mul(maxNorm), 1);
  const out = tree.map((g: np.Array) => g.mul(coef.ref), grads) as T;
  coef.dispose();
  return { grads: out, norm };
}
