/**
 * One sample per seed from a `GeneratorModel` (EDM generate.py's habit: image k depends only on seed k,
 * its latent from the seed and, for conditional models, its class from the seed's label stream unless
 * given). `diff-instruct sample`, the trainers' snapshots and the page's in-tab distillation all draw
 * through here, so the same seeds give the same images everywhere. No Node APIs.
 */
import { jit, numpy as np, tree, type OwnedFunction } from '@jax-js/jax';
import { uniformIntForSeeds } from '../random/seeds.js';
import type { GeneratorModel, Params } from './generator.js';

/** Class index of each seed: given (one for all or per seed) or drawn from the seed's label stream. */
export async function classesForSeeds(seeds: readonly number[], labelDim: number, classes?: number | readonly number[] | null): Promise<Int32Array> {
  if (labelDim <= 0) {
    if (classes !== undefined && classes !== null) throw new Error('class labels given, but the network is unconditional');
    return new Int32Array(seeds.length);
  }
  const check = (c: number) => {
    if (!Number.isInteger(c) || c < 0 || c >= labelDim) throw new Error(`class ${c} is out of range: the network has ${labelDim} classes (0-${labelDim - 1})`);
    return c;
  };
  if (typeof classes === 'number') return new Int32Array(seeds.length).fill(check(classes));
  if (classes) {
    if (classes.length !== seeds.length) throw new Error(`${classes.length} classes given for ${seeds.length} seeds`);
    return Int32Array.from(classes, check);
  }
  return (await uniformIntForSeeds(seeds, labelDim).data()) as Int32Array;
}

/** One-hot [N, C] float32 of class indices. */
export function oneHotLabels(classes: ArrayLike<number>, labelDim: number): np.Array {
  const buf = new Float32Array(classes.length * labelDim);
  for (let i = 0; i < classes.length; i++) buf[i * labelDim + classes[i]] = 1;
  return np.array(buf, { shape: [classes.length, labelDim] });
}

/**
 * The one-hot labels of a batch of seeds, looked up by seed: `classes` as `classesForSeeds` takes them;
 * null for unconditional models. A seed listed twice with different classes is an error.
 */
export async function labelsForSeeds(seeds: readonly number[], labelDim: number, classes?: number | readonly number[] | null): Promise<((batch: number[]) => np.Array) | null> {
  const cls = await classesForSeeds(seeds, labelDim, classes);
  const classOf = new Map<number, number>();
  seeds.forEach((s, i) => classOf.set(s, cls[i]));
  const labelsFor = labelDim > 0 ? (batch: number[]) => oneHotLabels(batch.map((s) => classOf.get(s)!), labelDim) : null;
  if (classOf.size !== seeds.length && classes && typeof classes !== 'number') {
    // Per-seed classes are looked up by seed, so a repeated seed must ask for one class.
    seeds.forEach((s, i) => {
      if (classOf.get(s) !== cls[i]) throw new Error(`seed ${s} is listed twice with different classes`);
    });
  }
  return labelsFor;
}

// jit rejects null arguments: labels travel as a list of zero or one arrays.
const applyCache = new WeakMap<GeneratorModel, OwnedFunction<(p: Params, z: np.Array, l: np.Array[]) => np.Array>>();

function jittedApply(model: GeneratorModel) {
  let f = applyCache.get(model);
  if (!f) {
    f = jit((p: Params, z: np.Array, l: np.Array[]) => model.apply(p, z, l[0] ?? null, { train: false }));
    applyCache.set(model, f);
  }
  return f;
}

/**
 * One sample per seed from a generator model, x_k = g(params, z(seeds[k]), labels_k), in fixed-size
 * batches (the last one padded, so no new shape compiles). `labelsFor` gives the one-hot labels of a
 * batch of seeds (null: unconditional). Does not consume `params`.
 */
export async function generateFromModel(
  model: GeneratorModel,
  params: Params,
  seeds: readonly number[],
  labelsFor: ((batch: number[]) => np.Array) | null,
  opts: { batchSize?: number; onBatch?: (done: number, total: number) => void } = {},
): Promise<np.Array> {
  const f = jittedApply(model);
  const bs = Math.max(1, Math.min(opts.batchSize ?? 64, seeds.length));
  const outs: np.Array[] = [];
  for (let start = 0; start < seeds.length; start += bs) {
    const real = seeds.slice(start, start + bs);
    const batch = [...real];
    while (batch.length < bs) batch.push(real[real.length - 1]); // pad: no new shape to compile
    const labels = labelsFor ? [labelsFor(batch)] : [];
    let x = await f(tree.ref(params), model.latentForSeeds(batch), labels).blockUntilReady();
    if (real.length < bs) x = x.slice([0, real.length]);
    outs.push(x);
    opts.onBatch?.(start + real.length, seeds.length);
  }
  return outs.length === 1 ? outs[0] : np.concatenate(outs, 0);
}

