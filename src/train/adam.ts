/**
 * Adam (Kingma & Ba, 2015) with PyTorch's bias correction and no weight decay, written as a stateless
 * transform: `adamInit(params) → state`, `adamUpdate(grads, state, params, cfg) → {params, state}`.
 * Diff-Instruct trains both the generator and the online score network with Adam (paper App. B;
 * EDM's training loop uses the same `torch.optim.Adam`).
 *
 * Per leaf, at step t = count + 1 (torch.optim.Adam, `_single_tensor_adam`):
 *   m ← β1·m + (1−β1)·g
 *   v ← β2·v + (1−β2)·g²
 *   p ← p − (lr·s / (1−β1^t)) · m / ( sqrt(v) / sqrt(1−β2^t) + ε )
 * where s is the optional `lrScale` array (a schedule factor passed as data so jit does not recompile).
 *
 * The state round-trips through flat safetensors names `adam.m.<name>`, `adam.v.<name>`, `adam.count`.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { assertSameStructure, flattenNamed, leafNames, zerosLike, type ArrayTree } from './tree.js';

export interface AdamConfig {
  /** learning rate (PyTorch `lr`) */
  lr: number;
  /** decay of the first-moment average (PyTorch `betas[0]`) */
  beta1: number;
  /** decay of the second-moment average (PyTorch `betas[1]`) */
  beta2: number;
  /** added to sqrt(v̂) in the denominator (PyTorch `eps`) */
  eps: number;
}

/** Adam's moments for each param leaf and the number of steps taken (float32 scalar, as PyTorch's `step`). */
export type AdamState<T extends ArrayTree = ArrayTree> = { m: T; v: T; count: np.Array };

/** Zero moments shaped like `params`, count 0. Consumes `params` (pass `tree.ref(params)`). */
export function adamInit<T extends ArrayTree>(params: T): AdamState<T> {
  const m = zerosLike(tree.ref(params));
  const v = zerosLike(params);
  return { m, v, count: np.array(0, { dtype: np.float32 }) };
}

/**
 * One Adam step (formulas in the file header). Pure and jittable: `cfg` numbers are compile-time
 * constants, `lrScale` (a scalar array, default 1) is data. With `finite` (a boolean scalar, e.g. "loss
 * and ‖g‖ are finite") the step is skipped on the device when it is false: params and state come back
 * unchanged, `where(finite, new, old)` fused into each output, so the trainers never leave jit to decide
 * (PyTorch's fused Adam takes `found_inf` the same way). Each output is written as its own expression from (g, m, v, p), so it compiles to one kernel per
 * leaf and output: 3 per leaf, where Adam then a separate guard took 6 (measured: `bench --parts phases`).
 * Consumes `grads`, `state`, `params`, `lrScale` and `finite`; returns the new params and state.
 */
export function adamUpdate<T extends ArrayTree>(
  grads: T,
  state: AdamState<T>,
  params: T,
  cfg: AdamConfig,
  lrScale?: np.Array,
  finite?: np.Array,
): { params: T; state: AdamState<T> } {
  assertSameStructure(grads, params, 'adamUpdate(grads, params)');
  assertSameStructure(state.m, params, 'adamUpdate(state.m, params)');
  assertSameStructure(state.v, params, 'adamUpdate(state.v, params)');
  const { lr, beta1, beta2, eps } = cfg;
  const [g, def] = tree.flatten(grads);
  const m = tree.leaves(state.m);
  const v = tree.leaves(state.v);
  const p = tree.leaves(params);
  // keep `fresh` where the step is finite, else `old`; consumes both
  const select = (fresh: np.Array, old: np.Array) => (finite ? np.where(finite.ref, fresh, old) : (old.dispose(), fresh));

  const count = state.count.ref.add(1);
  // 1 − β^t as −expm1(t·ln β): in float32, 1 − 0.999 loses 4 digits to cancellation (and WebGPU's exp
  // is coarser still); PyTorch computes these scalars in float64, which this matches to ~1e-7.
  const bc1 = np.expm1(count.ref.mul(Math.log(beta1))).neg();
  const bc2 = np.expm1(count.ref.mul(Math.log(beta2))).neg();
  let stepSize = np.reciprocal(bc1).mul(lr);
  if (lrScale) stepSize = stepSize.mul(lrScale);
  const sqrtBc2 = np.sqrt(bc2);

  const newM: np.Array[] = [];
  const newV: np.Array[] = [];
  const newP: np.Array[] = [];
  for (let i = 0; i < g.length; i++) {
    // built twice on purpose: shared, m and v would be materialised once and re-read (extra kernels)
    const mOf = () => m[i].ref.mul(beta1).add(g[i].ref.mul(1 - beta1));
    const vOf = () => v[i].ref.mul(beta2).add(np.square(g[i].ref).mul(1 - beta2));
    const denom = np.sqrt(vOf()).div(sqrtBc2.ref).add(eps);
    newP.push(select(p[i].ref.sub(mOf().mul(stepSize.ref).div(denom)), p[i]));
    newM.push(select(mOf(), m[i]));
    newV.push(select(vOf(), v[i]));
    g[i].dispose();
  }
  stepSize.dispose();
  sqrtBc2.dispose();
  const newCount = select(count, state.count);
  finite?.dispose();
  return {
    params: tree.unflatten(def, newP) as T,
    state: { m: tree.unflatten(def, newM) as T, v: tree.unflatten(def, newV) as T, count: newCount },
  };
}

/**
 * Flat safetensors view of the state: `adam.m.<name>`, `adam.v.<name>` per param leaf (names as in
 * the param record; nested trees join keys with '.') and `adam.count`. Consumes `state`.
 */
export function adamStateToTensors(state: AdamState): Record<string, np.Array> {
  return { ...flattenNamed(state.m, 'adam.m'), ...flattenNamed(state.v, 'adam.v'), 'adam.count': state.count };
}

/**
 * Rebuilds the state for params shaped like `like` from tensors written by `adamStateToTensors`.
 * Reads `like`'s structure and shapes only; takes new references to the `adam.*` arrays it uses, so
 * neither `tensors` nor `like` is consumed (dispose `tensors` as usual). One-line error for a missing
 * key or a shape mismatch.
 */
export function adamStateFromTensors<T extends ArrayTree>(tensors: Record<string, np.Array>, like: T): AdamState<T> {
  const [likeLeaves, def] = tree.flatten(like);
  const names = leafNames(like);
  const wanted: [string, number[]][] = [
    ...names.map((n, i): [string, number[]] => [`adam.m.${n}`, likeLeaves[i].shape]),
    ...names.map((n, i): [string, number[]] => [`adam.v.${n}`, likeLeaves[i].shape]),
    ['adam.count', []],
  ];
  // validate everything before taking any reference, so an error leaks nothing
  for (const [key, shape] of wanted) {
    const t = tensors[key];
    if (!t) throw new Error(`optimizer state: missing tensor '${key}'`);
    if (t.shape.join(',') !== shape.join(',')) {
      throw new Error(`optimizer state: tensor '${key}' has shape [${t.shape}], expected [${shape}]`);
    }
  }
  const pick = (key: string): np.Array => {
    const t = tensors[key];
    return t.dtype === np.float32 ? t.ref : t.ref.astype(np.float32);
  };
  const m = names.map((n) => pick(`adam.m.${n}`));
  const v = names.map((n) => pick(`adam.v.${n}`));
  const count = pick('adam.count');
  return { m: tree.unflatten(def, m) as T, v: tree.unflatten(def, v) as T, count };
}
