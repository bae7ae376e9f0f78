/**
 * Scores images sampled class by class (`<dir>/<class>/*.png`, as scripts/edm/sample_classes.py writes
 * them from an EDM network on the GPU machine) with our evaluator — the same `ImageEvaluator` as
 * `diff-instruct eval` (src/metrics/evaluate.ts): FD-FMNIST with our classifier, KID, precision/recall,
 * IS analogue, and class accuracy from the folder each image lies in, which `eval --images` cannot
 * know. It needs no GPU: only the classifier runs, once per image.
 *
 *   npx tsx scripts/edm/eval-class-folders.ts <dir> [--dataset fashion-mnist] [--device wasm] [--out m.json]
 */
import '../../src/platform/node.js';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readPngFolder } from '../../src/io/png.js';
import { createImageEvaluator } from '../../src/metrics/evaluate.js';
import { initDevice } from '../../src/platform/devices.js';

/** The images under `<dir>/<k>/` for k = 0, 1, …, as one batch with the class of each image. */
export function readClassFolders(dir: string): { data: Float32Array; labels: Int32Array; perClass: number[] } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`'${dir}' is not a folder`);
  const classes = readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory());
  const bad = classes.find((d) => !/^\d+$/.test(d));
  if (bad !== undefined) throw new Error(`'${join(dir, bad)}': class folders must be named 0, 1, 2, …`);
  const ks = classes.map(Number).sort((a, b) => a - b);
  if (ks.length === 0 || ks.some((k, i) => k !== i)) throw new Error(`'${dir}': expected class folders 0…K-1, found [${ks}]`);
  const parts = ks.map((k) => readPngFolder(join(dir, String(k))));
  const size = parts[0].c * parts[0].h * parts[0].w;
  const n = parts.reduce((s, p) => s + p.n, 0);
  const data = new Float32Array(n * size);
  const labels = new Int32Array(n);
  let o = 0;
  parts.forEach((p, k) => {
    if (p.c * p.h * p.w !== size) throw new Error(`'${join(dir, String(k))}': images are ${p.c}x${p.h}x${p.w}, class 0's are ${parts[0].c}x${parts[0].h}x${parts[0].w}`);
    data.set(p.data, o * size);
    labels.fill(k, o, o + p.n);
    o += p.n;
  });
  return { data, labels, perClass: parts.map((p) => p.n) };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { dataset: { type: 'string', default: 'fashion-mnist' }, device: { type: 'string', default: 'wasm' }, out: { type: 'string' } },
    strict: true,
  });
  if (positionals.length !== 1) throw new Error('usage: eval-class-folders.ts <dir> [--dataset fashion-mnist] [--device wasm] [--out metrics.json]');
  const dir = positionals[0];
  const dev = await initDevice(values.device);
  const { data, labels, perClass } = readClassFolders(dir);
  const ev = await createImageEvaluator(values.dataset!);
  try {
    const m = await ev.evaluate(data, { labels });
    const record = { ...m, images: dir, perClass, device: dev.backend, timestamp: new Date().toISOString() };
    const line = JSON.stringify(record);
    if (values.out) writeFileSync(values.out, line + '\n');
    console.log(line);
  } finally {
    ev.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (e: Error) => {
      console.error(`eval-class-folders: ${e.message}`);
      process.exit(1);
    },
  );
}
