/**
 * Params kept flat in a training state: a trained network's params, and its EMA, as one vector in
 * `concatLeaves` layout (src/train/tree.ts, the layout Adam's moments and the gradient already use), so
 * the Adam update and the EMA of a jitted step are one kernel each over the whole model instead of one
 * per leaf (a fmnist-small U-Net has 190). Inside the step the network reads its leaves as views of the
 * vector (`paramTree`: slices and reshapes, fused into the kernels that read them; a routine that wants a
 * contiguous operand, such as a conv's weight, copies its leaf). The gradient is still taken with respect
 * to the leaf tree and flattened. Outside the step the tree is materialized only where one is needed
 * (evaluation, sampling, snapshots, checkpoints: their formats are unchanged).
 *
 * A step's params may come in either form (`Stored<T>`): the tree itself (the web page and `bench` pass
 * trees) or its flat vector, with the tree's `TreeLayout` given to the step builder. Adam (`adamUpdateFlat`)
 * and the EMA (`emaUpdate`) take either, since a flat vector is a tree of one leaf.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { concatLeaves, splitLeaves, treeLayout, type ArrayTree, type TreeLayout } from './tree.js';

export { treeLayout, type TreeLayout };

/** A param tree, or its flat vector (`flatParams`). */
export type Stored<T extends ArrayTree> = T | np.Array;

/** True when `p` is a flat vector rather than a tree (reads structure only). */
export function isFlat(p: Stored<ArrayTree>): p is np.Array {
  return tree.structure(p).nodeType === tree.NodeType.Leaf;
}

/** The flat vector of a param tree (`concatLeaves`: float32, zero-padded to a multiple of FLAT_ROW). Consumes `t`. */
export function flatParams(t: ArrayTree): np.Array {
  return concatLeaves(t);
}

/**
 * The param tree of `p`: `p` itself when it is a tree, else its leaves as views of the flat vector
 * (`layout` required then; one-line error without it). Consumes `p`. Jittable.
 */
export function paramTree<T extends ArrayTree>(p: Stored<T>, layout: TreeLayout | undefined, what = 'params'): T {
  if (!isFlat(p)) return p;
  if (!layout) {
    p.dispose();
    throw new Error(`${what}: held flat, but the step was built without its tree layout`);
  }
  return splitLeaves<T>(p, layout);
}
