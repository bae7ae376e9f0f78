/**
 * Exponential moving average of the weights, parameterised by half-life in images as in EDM
 * (Karras et al. 2022, `training/training_loop.py`; Diff-Instruct reports EMA generators the same way):
 *
 *   halfLife ← min(halfLife, curImages · rampupRatio)      (ramp-up, when a ratio is given)
 *   β = 0.5 ^ (batchSize / max(halfLife, 1e-8))
 *   ema ← β·ema + (1 − β)·params                            (torch: `p_net.lerp(p_ema, β)`)
 *
 * so the weight of an old sample halves every `halfLife` images whatever the batch size.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { assertSameStructure, type ArrayTree } from './tree.js';

/**
 * The EMA decay β for one step of `batchSize` images (formula in the file header). `curImages` and
 * `rampupRatio` enable EDM's ramp-up, which shortens the half-life early in training; pass neither
 * (or a null ratio) for a fixed half-life.
 */
export function emaBeta(batchSize: number, halfLifeImages: number, curImages?: number, rampupRatio?: number | null): number {
  let halfLife = halfLifeImages;
  if (rampupRatio !== undefined && rampupRatio !== null) {
    if (curImages === undefined) throw new Error('emaBeta: rampupRatio needs curImages');
    halfLife = Math.min(halfLife, curImages * rampupRatio);
  }
  return 0.5 ** (batchSize / Math.max(halfLife, 1e-8));
}

/**
 * ema ← β·ema + (1−β)·params, leafwise. `beta` is a scalar array so a changing β (ramp-up) does not
 * recompile a jitted step. Jittable; consumes `ema`, `params` and `beta`.
 */
export function emaUpdate<T extends ArrayTree>(ema: T, params: T, beta: np.Array): T {
  assertSameStructure(ema, params, 'emaUpdate(ema, params)');
  const oneMinus = beta.ref.neg().add(1);
  const out = tree.map((e: np.Array, p: np.Array) => e.mul(beta.ref).add(p.mul(oneMinus.ref)), ema, params) as T;
  beta.dispose();
  oneMinus.dispose();
  return out;
}
