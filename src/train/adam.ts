/**
 * Adam (Kingma & Ba, 2015) with PyTorch's bias correction and no weight decay, written as a stateless
 * transform: `adamInit(params) → state`, `adamUpdate(grads, state, params, cfg) → {params, state}`.
 * Diff-Instruct trains both the generator and the online score network with Adam (paper App. B;
 * EDM's training loop uses the same `torch.optim.Adam`).
 *
 * Per element, at step t = count + 1 (torch.optim.Adam, `_single_tensor_adam`):
 *   m ← β1·m + (1−β1)·g
 *   v ← β2·v + (1−β2)·g²
 *   p ← p − (lr·s / (1−β1^t)) · m / ( sqrt(v) / sqrt(1−β2^t) + ε )
 * where s is the optional `lrScale` array (a schedule factor passed as data so jit does not recompile).
 *
 * The moments are kept flat (one vector over all leaves: src/train/tree.ts `concatLeaves`), so a step is
 * a few kernels over the whole model, plus one per param leaf unless the params are kept flat too
 * (src/train/flat-params.ts: then the params are one leaf and the whole update is three kernels). The state round-trips through safetensors
 * names `adam.m.<name>`, `adam.v.<name>`, `adam.count` (per leaf, as before).
 */
import { numpy as np, tree } from '@jax-js/jax';
import { assertSameStructure, concatLeaves, flatLayout, flattenNamed, leafNames, splitLeaves, type ArrayTree, type TreeLayout } from './tree.js';

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

/**
 * Adam's moments, flat (one vector each over all param leaves, `concatLeaves` order and padding: see
 * src/train/tree.ts), and the number of steps taken (float32 scalar, as PyTorch's `step`). `T` names the
 * param tree the state belongs to.
 */
export type AdamState<T extends ArrayTree = ArrayTree> = { m: np.Array; v: np.Array; count: np.Array; readonly __params?: T };

/** Zero moments for `params`, count 0. Consumes `params` (pass `tree.ref(params)`); only its shapes are used. */
export function adamInit<T extends ArrayTree>(params: T): AdamState<T> {
  const { length } = flatLayout(params);
  tree.dispose(params);
  return { m: np.zeros([length]), v: np.zeros([length]), count: np.array(0, { dtype: np.float32 }) };
}

/**
 * One Adam step (formulas in the file header) for gradients as a param tree: `adamUpdateFlat` on
 * `concatLeaves(grads)`. Consumes `grads`, `state`, `params`, `lrScale` and `finite`.
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
  return adamUpdateFlat(concatLeaves(grads), state, params, cfg, lrScale, finite);
}

/**
 * One Adam step for a flat gradient `g` (`concatLeaves` of the gradient tree). Pure and jittable: `cfg`
 * numbers are compile-time constants, `lrScale` (a scalar array, default 1) is data. With `finite` (a
 * boolean scalar, e.g. "loss and ‖g‖ are finite") the step is skipped on the device when it is false:
 * params and state come back unchanged, `where(finite, new, old)` fused into each output, so the trainers
 * never leave jit to decide (PyTorch's fused Adam takes `found_inf` the same way). Kernels: one for each
 * flat moment, then one per param leaf reading its slices of the new moments (3 per leaf before the
 * moments were flat); `params` may be the flat vector itself (src/train/flat-params.ts), one leaf whose
 * update is one kernel. Consumes `g`, `state`, `params`, `lrScale` and `finite`; returns the new params and state.
 */
export function adamUpdateFlat<T extends ArrayTree>(
  g: np.Array,
  state: AdamState<T>,
  params: T,
  cfg: AdamConfig,
  lrScale?: np.Array,
  finite?: np.Array,
): { params: T; state: AdamState<T> } {
  const layout = flatLayout(params);
  for (const [what, a] of [['gradient', g], ['state.m', state.m], ['state.v', state.v]] as const) {
    if (a.shape.length !== 1 || a.shape[0] !== layout.length) {
      throw new Error(`adamUpdate: flat ${what} has shape [${a.shape}], expected [${layout.length}] for these params`);
    }
  }
  const { lr, beta1, beta2, eps } = cfg;
  const [p, def] = tree.flatten(params);
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
  // its own (one-element reduction) kernel, as when many leaf kernels read it: fused into a single flat
  // update, jax-js reorders its constant factors and rounds some params differently in the last bit
  stepSize = stepSize.reshape([1]).sum();

  // the moments: one kernel each (a skipped step keeps the old ones, and then no param moves either)
  const m = select(state.m.ref.mul(beta1).add(g.ref.mul(1 - beta1)), state.m);
  const v = select(state.v.ref.mul(beta2).add(np.square(g).mul(1 - beta2)), state.v);
  const newP = p.map((pi, i) => {
    const at = (a: np.Array) => a.ref.slice([layout.offsets[i], layout.offsets[i] + layout.sizes[i]]).reshape(layout.shapes[i]);
    const denom = np.sqrt(at(v)).div(sqrtBc2.ref).add(eps);
    return select(pi.ref.sub(at(m).mul(stepSize.ref).div(denom)), pi);
  });
  stepSize.dispose();
  sqrtBc2.dispose();
  const newCount = select(count, state.count);
  finite?.dispose();
  return { params: tree.unflatten(def, newP) as T, state: { m, v, count: newCount } };
}

/**
 * Safetensors view of the state: `adam.m.<name>`, `adam.v.<name>` per param leaf (names as in the param
 * record; nested trees join keys with '.') and `adam.count` — the same files as when the moments were
 * kept per leaf. `params` (the param tree, or its `treeLayout`) gives the names and shapes (read only).
 * Consumes `state`.
 */
export function adamStateToTensors<T extends ArrayTree>(state: AdamState<T>, params: T | TreeLayout): Record<string, np.Array> {
  return { ...flattenNamed(splitLeaves(state.m, params), 'adam.m'), ...flattenNamed(splitLeaves(state.v, params), 'adam.v'), 'adam.count': state.count };
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
  const m = concatLeaves(tree.unflatten(def, names.map((n) => pick(`adam.m.${n}`))));
  const v = concatLeaves(tree.unflatten(def, names.map((n) => pick(`adam.v.${n}`))));
  return { m, v, count: pick('adam.count') };
}
