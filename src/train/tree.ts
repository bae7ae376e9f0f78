/**
 * Arithmetic over parameter trees (flat `Record<string, np.Array>` records keyed by EDM names, or any
 * nested jax-js `JsTree`): the building blocks of Adam, EMA, gradient clipping and the NaN guard.
 *
 * Ownership follows jax-js: every function here consumes the trees (and scalar arrays) passed to it,
 * except `countParams` and `treeToHost`, which only read and say so. Pass `tree.ref(t)` to keep `t`.
 * All array-returning functions are pure and jittable.
 */
import { numpy as np, tree, type JsTree, type JsTreeDef } from '@jax-js/jax';

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
 * Flat vectors of a whole tree: one array holding every leaf, raveled, in `tree.flatten` order, zero-padded
 * to a multiple of `FLAT_ROW`. The optimizer keeps its moments this way and takes the gradient this way, so
 * a step's Adam update, norm and guard are a handful of kernels plus one per param leaf instead of five per
 * leaf (a fmnist-small U-Net has 190 leaves), and a sum over the vector reduces in two short stages
 * (`FLAT_ROW` rows: no loop longer than length / FLAT_ROW terms, which keeps llvmpipe exact).
 */
export const FLAT_ROW = 1024;

/** Where each leaf of `t` sits in its flat vector. */
export interface FlatLayout {
  shapes: number[][];
  offsets: number[];
  sizes: number[];
  /** Padded length (a multiple of FLAT_ROW, at least FLAT_ROW). */
  length: number;
}

/** The flat layout of `t`. Reads shapes only: does not consume `t`. */
export function flatLayout(t: ArrayTree): FlatLayout {
  const leaves = tree.leaves(t);
  const shapes = leaves.map((x) => x.shape);
  const sizes = leaves.map((x) => x.size);
  const offsets: number[] = [];
  let n = 0;
  for (const s of sizes) {
    offsets.push(n);
    n += s;
  }
  return { shapes, offsets, sizes, length: Math.max(FLAT_ROW, Math.ceil(n / FLAT_ROW) * FLAT_ROW) };
}

/** The flat vector of `t` (float32; see FLAT_ROW). Consumes `t`. */
export function concatLeaves(t: ArrayTree): np.Array {
  const leaves = tree.leaves(t);
  if (leaves.length === 0) throw new Error('concatLeaves: the tree has no leaves');
  const pad = flatLayout(t).length - leaves.reduce((a, x) => a + x.size, 0);
  const parts = leaves.map((x) => x.astype(np.float32).reshape([-1]));
  // padding as a pad of the last leaf, not a zeros array: under jit that would become a traced constant
  if (pad > 0) parts.push(np.pad(parts.pop()!, [[0, pad]]));
  return np.concatenate(parts);
}

/**
 * A tree's structure and flat layout without its arrays: enough to read the tree back from its flat
 * vector (`splitLeaves`) after the arrays are gone, e.g. params kept flat in a training state.
 */
export interface TreeLayout extends FlatLayout {
  kind: 'tree-layout';
  def: JsTreeDef;
}

/** The layout of `t` (structure, shapes, offsets). Reads shapes only: does not consume `t`. */
export function treeLayout(t: ArrayTree): TreeLayout {
  return { kind: 'tree-layout', def: tree.structure(t), ...flatLayout(t) };
}

const isLayout = (x: unknown): x is TreeLayout => typeof x === 'object' && x !== null && (x as TreeLayout).kind === 'tree-layout';

/**
 * The leaves of `like`'s structure and shapes (`like` a tree, read for its shapes only, or its
 * `treeLayout`), read from a flat vector as views: slices and reshapes, which jax-js fuses into the
 * kernels that read them (inside jit a routine that wants a contiguous operand copies it). Consumes `flat`.
 */
export function splitLeaves<T extends ArrayTree>(flat: np.Array, like: T | TreeLayout): T {
  const { def, shapes, offsets, sizes, length } = isLayout(like) ? like : treeLayout(like);
  if (flat.shape.length !== 1 || flat.shape[0] !== length) {
    flat.dispose();
    throw new Error(`splitLeaves: flat vector has shape [${flat.shape}], expected [${length}]`);
  }
  const out = shapes.map((s, i) => flat.ref.slice([offsets[i], offsets[i] + sizes[i]]).reshape(s));
  flat.dispose();
  return tree.unflatten(def, out) as T;
}

/** Σ x² of a flat vector (see FLAT_ROW), in two short stages. Consumes `flat`. */
export function flatSumOfSquares(flat: np.Array): np.Array {
  return np.square(flat).reshape([FLAT_ROW, -1]).sum(1).sum();
}

/**
 * Sum over all leaves of Σ x², as a float32 scalar: the flat vector of the tree (`concatLeaves`) summed
 * in two short stages (`flatSumOfSquares`). Per-leaf sums took two kernels per leaf (380 for a fmnist-small
 * U-Net); this is a few concatenation kernels and two reductions, none with a loop longer than
 * length / FLAT_ROW terms (a one-stage reduction to a scalar runs few GPU threads with long serial loops,
 * slow on GPUs and silently truncated past 65,535 terms on llvmpipe). Consumes `t`.
 */
export function sumOfSquares(t: ArrayTree): np.Array {
  if (tree.leaves(t).length === 0) return np.array(0);
  return flatSumOfSquares(concatLeaves(t));
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
