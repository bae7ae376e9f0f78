/**
 * Labelled image datasets (Fashion-MNIST, MNIST) as byte arrays, their conversion to the model layout
 * (NCHW float32 in [-1, 1], the EDM convention x/127.5 − 1 of Karras et al. 2022, used by Diff-Instruct's
 * teachers), one-hot class labels for conditional denoisers, and a resumable seeded batch sampler.
 *
 * Datasets live on the host as `Uint8Array`s (55 MB for Fashion-MNIST); only the batches become
 * jax-js arrays.
 */
import { numpy as np } from '@jax-js/jax';
import { loadFashionMnist } from './fashion-mnist.js';
import { loadMnist } from './mnist.js';
import type { LoadOptions } from './cache.js';
import { checkSeed, permutation, seededUniform } from './prng.js';

export type Split = 'train' | 'test';

export interface ImageDataset {
  name: string;
  split: Split;
  n: number;
  channels: number;
  height: number;
  width: number;
  numClasses: number;
  classNames: string[];
  /** n·c·h·w bytes, NCHW, 0..255. */
  images: Uint8Array;
  /** n labels, each < numClasses. */
  labels: Uint8Array;
}

/** Image datasets `loadImageDataset` knows. */
export const DATASETS = ['fashion-mnist', 'mnist'] as const;
export type DatasetName = (typeof DATASETS)[number];

/** Loads one split of a named dataset (through the binary cache; see src/data/cache.ts). */
export async function loadImageDataset(name: string, split: Split, opts: LoadOptions = {}): Promise<ImageDataset> {
  if (split !== 'train' && split !== 'test') throw new Error(`unknown split '${split}': expected train or test`);
  switch (name) {
    case 'fashion-mnist':
      return loadFashionMnist(split, opts);
    case 'mnist':
      return loadMnist(split, opts);
    default:
      throw new Error(`unknown dataset '${name}': expected one of ${DATASETS.join(', ')}`);
  }
}

function checkIndex(ds: ImageDataset, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new Error(`dataset ${ds.name}-${ds.split}: index ${i} is out of range [0, ${ds.n})`);
}

/** Images `indices` as NCHW float32 in [-1, 1]: x/127.5 − 1 (0 → −1, 255 → 1). */
export function toFloat(ds: ImageDataset, indices: ArrayLike<number>): Float32Array {
  const size = ds.channels * ds.height * ds.width;
  const out = new Float32Array(indices.length * size);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    checkIndex(ds, i);
    const src = ds.images.subarray(i * size, (i + 1) * size);
    const o = b * size;
    for (let p = 0; p < size; p++) out[o + p] = src[p] / 127.5 - 1;
  }
  return out;
}

export interface ImageBatch {
  /** [B, c, h, w] float32 in [-1, 1]. */
  x: np.Array;
  /** [B, numClasses] one-hot float32 (the denoiser's label input). */
  labels: np.Array;
  /** The class indices, on the host. */
  y: Int32Array;
}

/** A batch on jax-js's default device. The caller owns (and disposes) `x` and `labels`. */
export function batch(ds: ImageDataset, indices: ArrayLike<number>): ImageBatch {
  const B = indices.length;
  const x = toFloat(ds, indices);
  const y = new Int32Array(B);
  const oneHot = new Float32Array(B * ds.numClasses);
  for (let b = 0; b < B; b++) {
    y[b] = ds.labels[indices[b]];
    oneHot[b * ds.numClasses + y[b]] = 1;
  }
  return {
    x: np.array(x, { shape: [B, ds.channels, ds.height, ds.width] }),
    labels: np.array(oneHot, { shape: [B, ds.numClasses] }),
    y,
  };
}

/** Serialisable `Batcher` position: resuming from it replays the exact index sequence. */
export interface BatcherState {
  /** Dataset size the permutations are over. */
  n: number;
  seed: number;
  /** Epochs completed so far; epoch e is shuffled by the stream `e` of `seed`. */
  epoch: number;
  /** Position inside the current epoch's permutation, 0 ≤ pos < n. */
  pos: number;
}

/**
 * Seeded epoch shuffling: epoch e visits every index once in the order `permutation(n,
 * seededUniform(seed, e))`; a batch that runs past the end of an epoch continues in the next one, so
 * every batch is full and every index is seen exactly once per epoch. The whole state is
 * `{n, seed, epoch, pos}`.
 */
export class Batcher {
  readonly n: number;
  readonly seed: number;
  #epoch = 0;
  #pos = 0;
  #perm: Int32Array | null = null;
  #permEpoch = -1;

  constructor(n: number, seed: number) {
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`Batcher: dataset size must be a positive integer, got ${n}`);
    checkSeed(seed, 'Batcher seed');
    this.n = n;
    this.seed = seed;
  }

  /** Rebuilds a batcher from `state()`; `n`, when given, must match the saved size. */
  static fromState(state: BatcherState, n?: number): Batcher {
    for (const k of ['n', 'seed', 'epoch', 'pos'] as const) {
      const v = state?.[k];
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`Batcher state: '${k}' must be a non-negative integer, got ${JSON.stringify(v)}`);
    }
    if (n !== undefined && n !== state.n) throw new Error(`Batcher state: saved for a dataset of ${state.n} items, but this one has ${n}`);
    if (state.pos >= state.n) throw new Error(`Batcher state: pos ${state.pos} is out of range for n=${state.n}`);
    const b = new Batcher(state.n, state.seed);
    b.#epoch = state.epoch;
    b.#pos = state.pos;
    return b;
  }

  state(): BatcherState {
    return { n: this.n, seed: this.seed, epoch: this.#epoch, pos: this.#pos };
  }

  get epoch(): number {
    return this.#epoch;
  }

  #permutation(): Int32Array {
    if (this.#permEpoch !== this.#epoch) {
      this.#perm = permutation(this.n, seededUniform(this.seed, this.#epoch));
      this.#permEpoch = this.#epoch;
    }
    return this.#perm!;
  }

  /** The next `batchSize` dataset indices. */
  next(batchSize: number): Int32Array {
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`Batcher.next: batch size must be a positive integer, got ${batchSize}`);
    const out = new Int32Array(batchSize);
    let filled = 0;
    while (filled < batchSize) {
      const perm = this.#permutation();
      const take = Math.min(batchSize - filled, this.n - this.#pos);
      out.set(perm.subarray(this.#pos, this.#pos + take), filled);
      filled += take;
      this.#pos += take;
      if (this.#pos === this.n) {
        this.#pos = 0;
        this.#epoch++;
      }
    }
    return out;
  }
}
