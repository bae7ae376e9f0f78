/**
 * PNG images in and out: sample grids (for run folders and TensorBoard), one PNG per seed (for FID
 * folders, named like EDM's generate.py: `000012.png`), and reading PNG folders back as NCHW batches.
 *
 * Pixel mapping follows EDM: u8 = clip(floor(x · 127.5 + 128), 0, 255) for x in [-1, 1]
 * (`(image * 127.5 + 128).clip(0, 255).to(torch.uint8)` in generate.py), and back x = u8 / 127.5 - 1,
 * so a saved image read back round-trips exactly to the u8 grid.
 */
import { numpy as np } from '@jax-js/jax';
import { decode, encode } from 'fast-png';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirs, writeFileAtomic } from './atomic.js';
import { readFloat32 } from './params.js';

/** A batch of images: NCHW float32 in [-1, 1]. */
export interface ImageBatch {
  data: Float32Array;
  n: number;
  c: number;
  h: number;
  w: number;
}

export interface GridOptions {
  /** Images per row; default ceil(sqrt(n)), the squarest grid. */
  cols?: number;
  /** Pixels of border between images (default 0, as EDM's grids). */
  pad?: number;
  /** Value in [-1, 1] of the border and of unused cells (default 1: white separates dark images best). */
  padValue?: number;
}

export interface Grid {
  /** Row-major interleaved u8 pixels (HWC). */
  data: Uint8Array;
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: number;
}

/** [-1, 1] → u8 exactly as EDM's generate.py. NaN maps to 0. */
const toU8 = (x: number) => Math.min(255, Math.max(0, Math.floor(x * 127.5 + 128))) || 0;

function checkBatch(data: ArrayLike<number>, n: number, c: number, h: number, w: number, what: string): void {
  for (const [k, v] of Object.entries({ n, c, h, w })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${what}: ${k} = ${v} is not a non-negative integer`);
  }
  if (c !== 1 && c !== 3) throw new Error(`${what}: images have ${c} channels; PNG output needs 1 (grey) or 3 (RGB)`);
  if (data.length !== n * c * h * w) throw new Error(`${what}: data has ${data.length} values, expected n·c·h·w = ${n}·${c}·${h}·${w} = ${n * c * h * w}`);
}

/**
 * Lays out `n` NCHW images in [-1, 1] as a grid of `cols` columns (rows = ceil(n / cols)), with `pad`
 * pixels between neighbours: width = cols·w + (cols-1)·pad, height = rows·h + (rows-1)·pad.
 */
export function imagesToGrid(images: Float32Array, n: number, c: number, h: number, w: number, opts: GridOptions = {}): Grid {
  checkBatch(images, n, c, h, w, 'imagesToGrid');
  if (n === 0) throw new Error('imagesToGrid: no images');
  const cols = opts.cols ?? Math.ceil(Math.sqrt(n));
  const pad = opts.pad ?? 0;
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`imagesToGrid: cols = ${cols} is not a positive integer`);
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`imagesToGrid: pad = ${pad} is not a non-negative integer`);
  const rows = Math.ceil(n / cols);
  const width = cols * w + (cols - 1) * pad;
  const height = rows * h + (rows - 1) * pad;
  const data = new Uint8Array(width * height * c).fill(toU8(opts.padValue ?? 1));
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const x0 = (i % cols) * (w + pad);
    const y0 = Math.floor(i / cols) * (h + pad);
    const base = i * c * plane;
    for (let y = 0; y < h; y++) {
      let o = ((y0 + y) * width + x0) * c;
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) data[o + ch] = toU8(images[base + ch * plane + y * w + x]);
        o += c;
      }
    }
  }
  return { data, width, height, channels: c };
}

/** PNG bytes of a grid of the batch (e.g. for `TensorBoardWriter.image`). */
export function encodeGridPng(batch: ImageBatch, opts: GridOptions = {}): { png: Uint8Array; width: number; height: number; channels: number } {
  const g = imagesToGrid(batch.data, batch.n, batch.c, batch.h, batch.w, opts);
  return { png: encode({ width: g.width, height: g.height, data: g.data, channels: g.channels, depth: 8 }), width: g.width, height: g.height, channels: g.channels };
}

/**
 * An `ImageBatch` from a 4-D jax-js array (read through `.ref`: the caller's array is NOT consumed) or
 * from an existing batch (returned as is).
 */
export async function toImageBatch(x: np.Array | ImageBatch): Promise<ImageBatch> {
  if (!(x instanceof np.Array)) return x;
  if (x.shape.length !== 4) throw new Error(`expected images of shape [N,C,H,W], got [${x.shape.join(',')}]`);
  const [n, c, h, w] = x.shape;
  return { data: await readFloat32(x), n, c, h, w };
}

/** Writes a grid PNG of `x` (NCHW in [-1, 1]) atomically. An np.Array is not consumed. */
export async function saveImageGrid(path: string, x: np.Array | ImageBatch, opts: GridOptions = {}): Promise<void> {
  writeFileAtomic(path, encodeGridPng(await toImageBatch(x), opts).png);
}

/** EDM's file name for the image of `seed`: six digits, zero-padded (`000012.png`). */
export function seedFileName(seed: number): string {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`image seed ${seed} is not a non-negative integer`);
  return `${String(seed).padStart(6, '0')}.png`;
}

/** Writes image k of `x` to `<dir>/<seeds[k] as 6 digits>.png`. An np.Array is not consumed. */
export async function saveImages(dir: string, x: np.Array | ImageBatch, seeds: number[]): Promise<string[]> {
  const b = await toImageBatch(x);
  checkBatch(b.data, b.n, b.c, b.h, b.w, 'saveImages');
  if (seeds.length !== b.n) throw new Error(`saveImages: ${seeds.length} seeds for ${b.n} images`);
  makeDirs(dir);
  const size = b.c * b.h * b.w;
  const paths: string[] = [];
  for (let i = 0; i < b.n; i++) {
    const one = b.data.subarray(i * size, (i + 1) * size);
    const g = imagesToGrid(one, 1, b.c, b.h, b.w);
    const p = join(dir, seedFileName(seeds[i]));
    writeFileAtomic(p, encode({ width: g.width, height: g.height, data: g.data, channels: g.channels, depth: 8 }));
    paths.push(p);
  }
  return paths;
}

/**
 * Reads a PNG as CHW float32 in [-1, 1]. Grey (1 channel) and RGB (3) are kept; an alpha channel is
 * dropped (grey+alpha → 1, RGBA → 3); palette images become RGB; 16-bit samples scale by 65535.
 */
export function readPng(path: string): { data: Float32Array; c: number; h: number; w: number } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read '${path}': ${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message}`);
  }
  let img: ReturnType<typeof decode>;
  try {
    img = decode(bytes);
  } catch (e) {
    throw new Error(`'${path}': not a readable PNG (${(e as Error).message.split('\n')[0]})`);
  }
  let src: ArrayLike<number> = img.data;
  let chans = img.channels;
  let max = img.depth === 16 ? 65535 : 255;
  if (img.palette) {
    // indexed colour: expand through the palette (entries are [r,g,b] or [r,g,b,a], 8-bit)
    const idx = img.data;
    const out = new Uint8Array(idx.length * 3);
    for (let i = 0; i < idx.length; i++) {
      const p = img.palette[idx[i]];
      if (!p) throw new Error(`'${path}': palette index ${idx[i]} out of range`);
      out.set(p.slice(0, 3), i * 3);
    }
    src = out;
    chans = 3;
    max = 255;
  } else if (img.depth !== 8 && img.depth !== 16) {
    throw new Error(`'${path}': ${img.depth}-bit grey PNGs are not supported (use 8 or 16 bits)`);
  }
  const c = chans === 1 || chans === 2 ? 1 : 3;
  const { width: w, height: h } = img;
  const data = new Float32Array(c * h * w);
  const halfMax = max / 2; // 127.5 for 8 bits: x = u8 / 127.5 - 1, the inverse of EDM's mapping
  for (let i = 0; i < h * w; i++) {
    for (let ch = 0; ch < c; ch++) data[ch * h * w + i] = src[i * chans + ch] / halfMax - 1;
  }
  return { data, c, h, w };
}

/**
 * Reads every `*.png` in `dir` (sorted by name) into one NCHW batch. All images must share one size and
 * channel count; a folder with none is an error.
 */
export function readPngFolder(dir: string): ImageBatch & { files: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read '${dir}': ${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : code ?? (e as Error).message}`);
  }
  const files = names.filter((f) => f.toLowerCase().endsWith('.png')).sort();
  if (files.length === 0) throw new Error(`'${dir}': no .png files`);
  const first = readPng(join(dir, files[0]));
  const size = first.c * first.h * first.w;
  const data = new Float32Array(files.length * size);
  data.set(first.data, 0);
  for (let i = 1; i < files.length; i++) {
    const im = readPng(join(dir, files[i]));
    if (im.c !== first.c || im.h !== first.h || im.w !== first.w) {
      throw new Error(`'${dir}': '${files[i]}' is ${im.w}x${im.h} with ${im.c} channel(s) but '${files[0]}' is ${first.w}x${first.h} with ${first.c}`);
    }
    data.set(im.data, i * size);
  }
  return { data, n: files.length, c: first.c, h: first.h, w: first.w, files };
}
