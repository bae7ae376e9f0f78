/**
 * Trains the metric classifier (src/metrics/classifier.ts) on the TRAIN split of Fashion-MNIST or
 * MNIST and writes it as a self-describing safetensors file (`models/classifier-<short>.safetensors`):
 * weights (F16 by default) plus metadata with the config, the test accuracy measured with the stored
 * (rounded) weights, images seen, device and wall time.
 *
 * Recipe: softmax cross-entropy, Adam (src/train/adam.ts) with a linear warm-up then cosine decay to 0,
 * optional dropout on the feature layer, and light host-side augmentation — random shifts of up to
 * `shift` pixels (background-filled) and, for Fashion-MNIST only, horizontal flips (clothes are
 * mirror-symmetric; digits are not). The test split is only read for reporting, never for choices.
 */
import { jit, nn, numpy as np, random, tree, valueAndGrad } from '@jax-js/jax';
import { z } from 'zod';
import { basename } from 'node:path';
import { DATASETS, Batcher, loadImageDataset, type ImageDataset } from '../data/images.js';
import { seededUniform } from '../data/prng.js';
import { saveParams } from '../io/params.js';
import { f16ToF32, f32ToF16 } from '../io/safetensors.js';
import { activeDevice } from '../platform/devices.js';
import { adamInit, adamUpdate, type AdamState } from '../train/adam.js';
import { keyForSeed } from '../random/seeds.js';
import { shippedFile } from '../io/models-dir.js';
import {
  classifierLogits,
  initClassifier,
  type ClassifierConfig,
  type ClassifierParams,
} from './classifier.js';
import { loadClassifier } from './classifier-file.js';
import { DATASET_SHORT } from './evaluator.js';

/** Random stream of the per-step dropout keys (streams 0 and 1 are latents and labels). */
const DROPOUT_STREAM = 1000;


/** Default classifier file for a dataset. */
export function defaultClassifierPath(dataset: string): string {
  const short = DATASET_SHORT[dataset];
  if (!short) throw new Error(`unknown dataset '${dataset}': expected one of ${DATASETS.join(', ')}`);
  return shippedFile(`classifier-${short}.safetensors`);
}

export const TrainClassifierSchema = z.object({
  dataset: z.enum(DATASETS).default('fashion-mnist').describe('dataset whose train split the classifier learns'),
  epochs: z.number().positive().default(8).describe('passes over the train split (fractions allowed)'),
  batch: z.number().int().positive().default(128).describe('images per Adam step'),
  lr: z.number().positive().default(2e-3).describe('peak Adam learning rate'),
  warmup: z.number().int().nonnegative().default(200).describe('steps of linear learning-rate warm-up before the cosine decay'),
  dropout: z.number().min(0).lt(1).default(0.2).describe('dropout probability on the feature layer during training'),
  shift: z.number().int().min(0).max(4).default(2).describe('augmentation: random translation of up to this many pixels (0 = off)'),
  flip: z.boolean().default(true).describe('augmentation: random horizontal flips (applied to fashion-mnist only)'),
  channels: z.array(z.number().int().positive()).length(3).default([32, 64, 64]).describe('output channels of conv1, conv2, conv3'),
  features: z.number().int().positive().default(128).describe('width of the feature layer (the metric space)'),
  trainSubset: z.number().int().nonnegative().default(0).describe('use only the first N train images (0 = all; for smoke tests)'),
  testSubset: z.number().int().nonnegative().default(0).describe('report accuracy on the first N test images (0 = all)'),
  seed: z.number().int().nonnegative().default(0).describe('seed of the init, batch order, dropout and augmentation'),
  init: z.string().default('').describe('start from this classifier file (same architecture) instead of a random init: fine-tuning'),
  out: z.string().default('').describe('output file (default models/classifier-<fmnist|mnist>.safetensors)'),
  dtype: z.enum(['F16', 'F32']).default('F16').describe('storage precision of the weights'),
  logEvery: z.number().int().positive().default(100).describe('print the running loss every this many steps'),
});
export type TrainClassifierConfig = z.infer<typeof TrainClassifierSchema>;

export interface TrainClassifierResult {
  path: string;
  testAccuracy: number;
  trainAccuracy: number;
  imagesSeen: number;
  seconds: number;
}

/**
 * Host-side augmentation of a batch of [-1, 1] images (NCHW, one or more channels): each image is
 * shifted by (dy, dx) ∈ [−shift, shift]² with the background value −1 filling the gap, then mirrored
 * left–right with probability ½ when `flip`. `rand` supplies the uniform draws (seeded, so a run is
 * reproducible).
 */
export function augmentBatch(x: Float32Array, n: number, c: number, h: number, w: number, shift: number, flip: boolean, rand: () => number): Float32Array {
  if (shift === 0 && !flip) return x;
  const out = new Float32Array(x.length).fill(-1);
  const size = c * h * w;
  for (let b = 0; b < n; b++) {
    const dy = Math.floor(rand() * (2 * shift + 1)) - shift;
    const dx = Math.floor(rand() * (2 * shift + 1)) - shift;
    const mirror = flip && rand() < 0.5;
    for (let ch = 0; ch < c; ch++) {
      const base = b * size + ch * h * w;
      for (let yy = 0; yy < h; yy++) {
        const sy = yy - dy;
        if (sy < 0 || sy >= h) continue;
        for (let xx = 0; xx < w; xx++) {
          let sx = xx - dx;
          if (sx < 0 || sx >= w) continue;
          if (mirror) sx = w - 1 - sx;
          out[base + yy * w + xx] = x[base + sy * w + sx];
        }
      }
    }
  }
  return out;
}

/** Linear warm-up to 1 over `warmup` steps, then cosine decay to 0 at `total`. */
export function lrFactor(step: number, warmup: number, total: number): number {
  if (step < warmup) return (step + 1) / warmup;
  const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return 0.5 * (1 + Math.cos(Math.PI * t));
}

/** Images [n, C, H, W] in [-1, 1] of `ds` at `indices` as a float32 host buffer. */
function imagesOf(ds: ImageDataset, indices: ArrayLike<number>): Float32Array {
  const size = ds.channels * ds.height * ds.width;
  const out = new Float32Array(indices.length * size);
  for (let b = 0; b < indices.length; b++) {
    const src = ds.images.subarray(indices[b] * size, (indices[b] + 1) * size);
    for (let p = 0; p < size; p++) out[b * size + p] = src[p] / 127.5 - 1;
  }
  return out;
}

/**
 * Top-1 accuracy of `params` on the first `limit` images of `ds`, in batches on the default device.
 * Borrows `params` (reads them through `tree.ref`).
 */
export async function classifierAccuracy(params: ClassifierParams, ds: ImageDataset, limit = ds.n, batch = 500): Promise<number> {
  const n = Math.min(limit, ds.n);
  const fwd = jit((p: ClassifierParams, x: np.Array) => np.argmax(classifierLogits(p, x), 1));
  let correct = 0;
  try {
    for (let i = 0; i < n; i += batch) {
      const m = Math.min(batch, n - i);
      const idx = Int32Array.from({ length: m }, (_, k) => i + k);
      const x = np.array(imagesOf(ds, idx), { shape: [m, ds.channels, ds.height, ds.width] });
      const pred = (await fwd(tree.ref(params), x).data()) as Int32Array;
      for (let k = 0; k < m; k++) if (pred[k] === ds.labels[i + k]) correct++;
    }
  } finally {
    fwd.dispose();
  }
  return correct / n;
}

/** Rounds every weight through the storage dtype, so accuracy is measured on what the file holds. Consumes `params`. */
async function roundTrip(params: ClassifierParams, dtype: 'F16' | 'F32'): Promise<ClassifierParams> {
  if (dtype === 'F32') return params;
  const out: ClassifierParams = {};
  for (const [k, v] of Object.entries(params)) {
    const shape = v.shape;
    const d = (await v.data()) as Float32Array;
    out[k] = np.array(f16ToF32(f32ToF16(d)), { shape });
  }
  return out;
}

/**
 * Trains a classifier per `cfg` and writes it to `cfg.out` (or the default path). Runs on jax-js's
 * default device; `log` receives progress lines.
 */
export async function trainClassifier(cfg: TrainClassifierConfig, log: (line: string) => void = () => {}): Promise<TrainClassifierResult> {
  const t0 = performance.now();
  const out = cfg.out || defaultClassifierPath(cfg.dataset);
  const train = await loadImageDataset(cfg.dataset, 'train');
  const test = await loadImageDataset(cfg.dataset, 'test');
  const netCfg: ClassifierConfig = {
    channels: cfg.channels as [number, number, number],
    features: cfg.features,
    numClasses: train.numClasses,
    resolution: train.height,
    inChannels: train.channels,
  };
  if (train.height !== train.width) throw new Error(`dataset ${cfg.dataset}: images are ${train.height}x${train.width}, the classifier needs square images`);
  const nTrain = cfg.trainSubset > 0 ? Math.min(cfg.trainSubset, train.n) : train.n;
  const steps = Math.max(1, Math.round((cfg.epochs * nTrain) / cfg.batch));
  const flip = cfg.flip && cfg.dataset === 'fashion-mnist';
  log(`train-classifier: ${cfg.dataset} (${nTrain} train images), ${steps} steps of ${cfg.batch}, channels [${cfg.channels}], F=${cfg.features}, shift ${cfg.shift}, flip ${flip}`);

  const B = cfg.batch;
  const lossFn = (p: ClassifierParams, x: np.Array, y: np.Array, key: np.Array) => {
    const logits = classifierLogits(p, x, { p: cfg.dropout, key });
    return nn.logSoftmax(logits).mul(y).sum().mul(-1 / B);
  };
  const adamCfg = { lr: cfg.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  const step = jit((p: ClassifierParams, s: AdamState<ClassifierParams>, x: np.Array, y: np.Array, key: np.Array, lrScale: np.Array) => {
    const [loss, grads] = valueAndGrad(lossFn)(tree.ref(p), x, y, key);
    const upd = adamUpdate(grads, s, p, adamCfg, lrScale);
    return { loss, params: upd.params, state: upd.state };
  });

  let params: ClassifierParams;
  let imagesBefore = 0;
  let secondsBefore = 0;
  let history: object[] = [];
  if (cfg.init) {
    const start = await loadClassifier(cfg.init);
    if (JSON.stringify(start.cfg) !== JSON.stringify(netCfg)) {
      tree.dispose(start.params);
      throw new Error(`--init '${cfg.init}' has architecture ${JSON.stringify(start.cfg)}, but the config asks for ${JSON.stringify(netCfg)}`);
    }
    params = start.params;
    imagesBefore = start.meta.imagesSeen ?? 0;
    secondsBefore = start.meta.seconds ?? 0;
    // earlier training stages, oldest first, so a fine-tuned file still says how it was made
    const m = start.meta;
    history = [...(m.history ?? []), { config: m.config, testAccuracy: m.testAccuracy, imagesSeen: m.imagesSeen, seconds: m.seconds, device: m.device, date: m.date }];
    log(`starting from ${cfg.init} (${imagesBefore} images seen, test accuracy ${start.meta.testAccuracy})`);
  } else {
    params = initClassifier(random.key(cfg.seed), netCfg);
  }
  let state = adamInit(tree.ref(params));
  const batcher = new Batcher(nTrain, cfg.seed);
  const rand = seededUniform(cfg.seed, 1);
  let running = 0;
  let runningN = 0;
  try {
    for (let i = 0; i < steps; i++) {
      const idx = batcher.next(B);
      const xs = augmentBatch(imagesOf(train, idx), B, train.channels, train.height, train.width, cfg.shift, flip, rand);
      const onehot = new Float32Array(B * train.numClasses);
      for (let b = 0; b < B; b++) onehot[b * train.numClasses + train.labels[idx[b]]] = 1;
      const x = np.array(xs, { shape: [B, train.channels, train.height, train.width] });
      const y = np.array(onehot, { shape: [B, train.numClasses] });
      // dropout key of step i: [stream, i] with a stream per training seed (src/random/seeds.ts)
      const key = keyForSeed(i, DROPOUT_STREAM + cfg.seed);
      const r = step(params, state, x, y, key, np.array(lrFactor(i, cfg.warmup, steps)));
      params = r.params;
      state = r.state;
      running += (await r.loss.data())[0];
      runningN++;
      if ((i + 1) % cfg.logEvery === 0 || i === steps - 1) {
        const el = (performance.now() - t0) / 1000;
        log(`step ${i + 1}/${steps}  epoch ${((i + 1) * B / nTrain).toFixed(2)}  loss ${(running / runningN).toFixed(4)}  ${el.toFixed(0)} s`);
        running = 0;
        runningN = 0;
      }
    }
  } finally {
    step.dispose();
    tree.dispose(state);
  }

  params = await roundTrip(params, cfg.dtype);
  const nTest = cfg.testSubset > 0 ? Math.min(cfg.testSubset, test.n) : test.n;
  const testAccuracy = await classifierAccuracy(params, test, nTest);
  const trainAccuracy = await classifierAccuracy(params, train, Math.min(nTrain, 10000));
  const seconds = (performance.now() - t0) / 1000;
  const dev = activeDevice();
  const meta = {
    format: 'diff-instruct/classifier@1',
    kind: 'classifier',
    net: 'metric-cnn',
    netConfig: netCfg,
    featureLayer: 'fc1 (post-ReLU)',
    dataset: cfg.dataset,
    trainedOn: cfg.trainSubset > 0 ? `train[0:${nTrain}]` : 'train',
    testAccuracy,
    testImages: nTest,
    trainAccuracy,
    trainAccuracyImages: Math.min(nTrain, 10000),
    imagesSeen: imagesBefore + steps * B,
    steps,
    ...(cfg.init ? { initFrom: cfg.init, imagesBeforeInit: imagesBefore, secondsBeforeInit: secondsBefore, history } : {}),
    config: cfg,
    device: dev ? `${dev.backend}: ${dev.name}` : 'unknown',
    seconds: Math.round(seconds),
    date: new Date().toISOString(),
    file: basename(out),
  };
  await saveParams(out, params, meta, { dtype: cfg.dtype });
  tree.dispose(params);
  log(`test accuracy ${(100 * testAccuracy).toFixed(2)}% (${nTest} images), train accuracy ${(100 * trainAccuracy).toFixed(2)}%, ${seconds.toFixed(0)} s → ${out}`);
  return { path: out, testAccuracy, trainAccuracy, imagesSeen: imagesBefore + steps * B, seconds };
}
