/**
 * Arithmetic over parameter trees (flat `Record<string, np.Array>` records keyed by EDM names, or any
 * nested jax-js `JsTree`): the building blocks of Adam, EMA, gradient clipping and the NaN guard.
 *
 * Ownership follows jax-js: every function here consumes the trees (and scalar arrays) passed to it,
 * except `countParams` and `treeToHost`, which only read and say so. Pass `tree.ref(t)` to keep `t`.
 * All array-returning functions are pure and jittable.
 */
import { numpy as np, tree, type JsTree } from '@jax-js/jax';

/** A tree whose leaves are arrays: a flat param record or any nesting of records and lists. */
export type ArrayTree = JsTree<np.Array>;

/** The same tree shape with host `Float32Array` leaves. */
export type HostTree<T extends ArrayTree> = tree.MapJsTree<T, np.Array, Float32Array>;

/** Throws a one-line error unless `a` and `b` have the same structure (keys, nesting). */
export function assertSameStructure(a: ArrayTree, b: ArrayTree, what: string): void {
  const sa = tree.structure(a);
  const sb = tree.structure(b);
  if (!sa.equals(sb)) throw new Error(`${what}: tree structures differ: ${sa.toString()} vs ${sb.toString()}`);
}

/** Zeros with each leaf's shape and dtype. Consumes `t` (only its shapes are used). */
export function zerosLike<T extends ArrayTree>(t: T): T {
  return tree.map((x: np.Array) => np.zerosLike(x), t) as T;
}

/** Leafwise `a + b`. Consumes `a` and `b`. */
export function add<T extends ArrayTree>(a: T, b: T): T {
  assertSameStructure(a, b, 'add');
  return tree.map((x: np.Array, y: np.Array) => x.add(y), a, b) as T;
}

/** Leafwise `a − b`. Consumes `a` and `b`. */
export function sub<T extends ArrayTree>(a: T, b: T): T {
  assertSameStructure(a, b, 'sub');
  return tree.map((x: np.Array, y: np.Array) => x.sub(y), a, b) as T;
}

/** Leafwise `s · a` for a number or a scalar array `s`. Consumes `a` and `s`. */
export function scale<T extends ArrayTree>(a: T, s: number | np.Array): T {
  if (typeof s === 'number') return tree.map((x: np.Array) => x.mul(s), a) as T;
  try {
    return tree.map((x: np.Array) => x.mul(s.ref), a) as T;
  } finally {
    s.dispose();
  }
}

/**
 * Sum over all leaves of Σ x², as a float32 scalar. Consumes `t`. Each leaf is reduced in two stages,
 * trailing axes first (one output per row, e.g. per output channel of a conv weight) and then the rows:
 * a one-stage reduction of a whole leaf to a scalar compiles to very few GPU threads with a long serial
 * loop each, which is slow on GPUs and silently truncated past 65,535 terms on llvmpipe.
 */
export function sumOfSquares(t: ArrayTree): np.Array {
  const parts = tree.leaves(t).map((x) => {
    const sq = np.square(x);
    return sq.ndim > 1 ? sq.sum(Array.from({ length: sq.ndim - 1 }, (_, i) => i + 1)).sum() : sq.sum();
  });
  if (parts.length === 0) return np.array(0);
  return parts.reduce((acc, p) => acc.add(p));
}

/** Global L2 norm ‖t‖ = sqrt(Σ_leaves Σ x²) (as `torch.nn.utils.clip_grad_norm_` with p=2). Consumes `t`. */
export function globalNorm(t: ArrayTree): np.Array {
  return np.sqrt(sumOfSquares(t));
}

/** Total number of scalars in the tree, Σ size(leaf). Reads shapes only: does not consume `t`. */
export function countParams(t: ArrayTree): number {
  return tree.leaves(t).reduce((n, x) => n + x.size, 0);
}

/**
 * Boolean scalar: true iff every element of every leaf is finite (no NaN, no ±Inf). Checks each leaf
 * with `isfinite` rather than testing a sum, because a sum of large finite values can overflow.
 * Consumes `t`.
 */
export function treeAllFinite(t: ArrayTree): np.Array {
  const parts = tree.leaves(t).map((x) => np.all(np.isfinite(x)));
  if (parts.length === 0) return np.array(true);
  return parts.reduce((acc, p) => np.logicalAnd(acc, p));
}

/**
 * Copies every leaf to the host as a Float32Array (non-float32 leaves are cast on the device first;
 * integers above 2^24 lose precision). Does NOT consume `t`: it reads through new references, so the
 * caller keeps and later disposes `t`. Async because WebGPU in Node cannot read synchronously.
 */
export async function treeToHost<T extends ArrayTree>(t: T): Promise<HostTree<T>> {
  const [leaves, def] = tree.flatten(t);
  const host = await Promise.all(
    leaves.map(async (x) => {
      const y = x.dtype === np.float32 ? x.ref : x.ref.astype(np.float32);
      return (await y.data()) as Float32Array;
    }),
  );
  return tree.unflatten(def, host) as HostTree<T>;
}

/**
 * Flat `name → array` view of a tree, names joined by '.' (a flat param record maps to itself), for
 * writing trees into safetensors files. Moves the leaves into the result (consumes `t`).
 */
export function flattenNamed(t: ArrayTree, prefix = ''): Record<string, np.Array> {
  const out: Record<string, np.Array> = {};
  const walk = (node: ArrayTree, path: string) => {
    if (node instanceof np.Array) {
      out[path] = node;
    } else if (Array.isArray(node)) {
      node.forEach((c, i) => walk(c, path ? `${path}.${i}` : String(i)));
    } else {
      for (const [k, c] of Object.entries(node)) walk(c, path ? `${path}.${k}` : k);
    }
  };
  walk(t, prefix);
  return out;
}

/** The names `flattenNamed` gives each leaf of `t`, in leaf order. Reads structure only. */
export function leafNames(t: ArrayTree, prefix = ''): string[] {
  const names: string[] = [];
  const walk = (node: ArrayTree, path: string) => {
    if (node instanceof np.Array) names.push(path);
    else if (Array.isArray(node)) node.forEach((c, i) => walk(c, path ? `${path}.${i}` : String(i)));
    else for (const [k, c] of Object.entries(node)) walk(c, path ? `${path}.${k}` : k);
  };
  walk(t, prefix);
  return names;
}
