/**
 * NaN/Inf guard for a jitted training step: a step whose loss or gradients are non-finite is dropped
 * by selecting the old state on the device (`where(finite, new, old)`), so the trainer never has to
 * leave jit to decide, and counts skips on the host from the returned flag.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { assertSameStructure, type ArrayTree } from './tree.js';

/**
 * Leafwise `finite ? new : old` for a boolean scalar `finiteFlag` (e.g. from `treeAllFinite`).
 * Jittable; consumes `finiteFlag`, `newTree` and `oldTree` (the unselected one is freed).
 */
export function guardedUpdate<T extends ArrayTree>(finiteFlag: np.Array, newTree: T, oldTree: T): T {
  assertSameStructure(newTree, oldTree, 'guardedUpdate(new, old)');
  if (finiteFlag.ndim !== 0) {
    const shape = finiteFlag.shape;
    finiteFlag.dispose();
    tree.dispose(newTree);
    tree.dispose(oldTree);
    throw new Error(`guardedUpdate: finiteFlag must be a scalar, got shape [${shape}]`);
  }
  const out = tree.map((n: np.Array, o: np.Array) => np.where(finiteFlag.ref, n, o), newTree, oldTree) as T;
  finiteFlag.dispose();
  return out;
}
