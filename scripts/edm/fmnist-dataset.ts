/**
 * Writes a labelled image dataset of ours (Fashion-MNIST by default, our fixed train split:
 * src/data/fashion-mnist.ts) in the format NVlabs/edm's `training/dataset.py` `ImageFolderDataset` reads,
 * so EDM's own `train.py --data <dir> --cond=1` trains on exactly the images our teachers train on:
 *
 *   <out>/00000/img00000000.png …   one 28×28 grey PNG per image, in our order (EDM sorts the names,
 *                                   so its raw index i is our image i); the layout of EDM's dataset_tool.py
 *   <out>/dataset.json              {"labels": [["00000/img00000000.png", 9], …]} (EDM's int64 labels)
 *
 * EDM reads a grey PNG as HW and adds the channel axis, so the dataset is 1×28×28 and train.py builds
 * the network at img_resolution 28, img_channels 1, label_dim 10: the shape of our shipped teachers.
 * `--level 0` stores the pixels uncompressed inside each PNG, so that `tar | xz` of the folder compresses
 * like the raw bytes (carry file for the GPU machine, benchmarks/gpu/edm-teacher.sh).
 *
 *   npx tsx scripts/edm/fmnist-dataset.ts --out <dir> [--dataset fashion-mnist] [--split train]
 *                                         [--limit N] [--level 0..9]
 */
import { encode } from 'fast-png';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DATASETS, loadImageDataset, type ImageDataset, type Split } from '../../src/data/images.js';

export interface EdmDatasetOptions {
  /** Write only the first `limit` images (0 = all). Our order interleaves classes, so any multiple of 10 is balanced. */
  limit?: number;
  /** zlib level of the PNGs, 0 (stored) to 9. */
  level?: number;
}

/** EDM dataset_tool.py's name for image `i`: `00000/img00000000.png` (1,000 images per folder). */
export function edmImageName(i: number): string {
  const s = String(i).padStart(8, '0');
  return `${s.slice(0, 5)}/img${s}.png`;
}

/**
 * Writes `ds` (or its first `limit` images) into the empty or new folder `out` as EDM's ImageFolderDataset
 * layout; returns the number of images written.
 */
export function writeEdmDataset(ds: ImageDataset, out: string, opts: EdmDatasetOptions = {}): number {
  const limit = opts.limit ?? 0;
  const level = opts.level ?? 6;
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`--limit ${limit}: expected a non-negative integer`);
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new Error(`--level ${level}: expected an integer 0..9`);
  if (ds.channels !== 1 && ds.channels !== 3) throw new Error(`dataset ${ds.name}: ${ds.channels} channels; EDM's PNG layout takes 1 or 3`);
  if (existsSync(out) && readdirSync(out).length) throw new Error(`output folder '${out}' is not empty`);
  const n = limit ? Math.min(limit, ds.n) : ds.n;
  const { channels: c, height: h, width: w } = ds;
  const size = c * h * w;
  const hwc = new Uint8Array(size);
  const labels: [string, number][] = [];
  for (let i = 0; i < n; i++) {
    const name = edmImageName(i);
    if (i % 1000 === 0) mkdirSync(join(out, name.slice(0, 5)), { recursive: true });
    const chw = ds.images.subarray(i * size, (i + 1) * size);
    // our layout is CHW, PNG rows are interleaved HWC
    for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) hwc[p * c + k] = chw[k * h * w + p];
    writeFileSync(join(out, name), encode({ width: w, height: h, channels: c, depth: 8, data: hwc }, { zlib: { level: level as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 } }));
    labels.push([name, ds.labels[i]]);
  }
  writeFileSync(join(out, 'dataset.json'), JSON.stringify({ labels }));
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      dataset: { type: 'string', default: 'fashion-mnist' },
      split: { type: 'string', default: 'train' },
      limit: { type: 'string', default: '0' },
      level: { type: 'string', default: '6' },
    },
    strict: true,
  });
  if (!values.out) throw new Error('--out <folder> is required');
  if (!(DATASETS as readonly string[]).includes(values.dataset!)) throw new Error(`--dataset '${values.dataset}': expected one of ${DATASETS.join(', ')}`);
  const int = (s: string, flag: string): number => {
    if (!/^\d+$/.test(s)) throw new Error(`${flag} '${s}': expected a non-negative integer`);
    return Number(s);
  };
  const t0 = performance.now();
  const ds = await loadImageDataset(values.dataset!, values.split as Split);
  const n = writeEdmDataset(ds, values.out, { limit: int(values.limit!, '--limit'), level: int(values.level!, '--level') });
  console.log(`wrote ${n} ${ds.channels}x${ds.height}x${ds.width} images of ${ds.name}-${ds.split} (${ds.numClasses} classes) to ${values.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: Error) => {
    console.error(`fmnist-dataset: ${e.message}`);
    process.exit(1);
  });
}
