/**
 * Image metrics of generated samples against a dataset's reference statistics, in the feature space
 * of our own classifier (src/metrics/classifier.ts) — the evaluation every trainer and
 * `diff-instruct eval` uses:
 *
 *   fd        Fréchet distance (Heusel et al. 2017), reported as "FD-FMNIST" / "FD-MNIST"
 *   kid       unbiased MMD² with the cubic kernel (Bińkowski et al. 2018), with kidStd / kidSe
 *   precision, recall   k-NN manifolds, k = 3 (Kynkäänniemi et al. 2019)
 *   is        Inception-Score analogue from the classifier (Salimans et al. 2016), with isStd over its
 *             10 splits when n ≥ 1000 (below that one split, whose spread is unknown: no isStd)
 *   classAcc  for class-conditional samples: fraction classified as their conditioning class
 *
 * Images are first quantised exactly as when saved to PNG (8-bit levels, clipped), so a tensor evaluated
 * in memory scores the same as the PNG folder `diff-instruct sample` writes.
 *
 * This file has no Node APIs (a page builds an `ImageEvaluator` from fetched files); evaluate.ts loads
 * the shipped files from disk.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { classifierOutputs, type LoadedClassifier } from './classifier.js';
import { frechetDistance } from './fd.js';
import { classAccuracy, inceptionScore } from './inception-score.js';
import { kernelInceptionDistance } from './kid.js';
import { meanCov } from './linalg.js';
import { precisionRecall } from './prdc.js';
import type { ReferenceStats } from './reference-format.js';

/** Short dataset names used in file names and metric names (`FD-FMNIST`). */
export const DATASET_SHORT: Record<string, string> = { 'fashion-mnist': 'fmnist', mnist: 'mnist' };

export interface ImageMetrics {
  /** 'FD-FMNIST' or 'FD-MNIST': names the feature space; never Inception FID */
  metric: string;
  dataset: string;
  n: number;
  fd: number;
  kid: number;
  kidStd: number;
  kidSe: number;
  precision: number;
  recall: number;
  is: number;
  /** only with 2 or more splits (n ≥ 1000): one split has no spread to report */
  isStd?: number;
  /** only when labels were given */
  classAcc?: number;
  seconds: number;
  /** reference split and size, e.g. 'test (10000)' */
  reference: string;
  classifier: string;
}

export interface EvaluateOptions {
  /** class label of each image (conditional generators) → classAcc */
  labels?: Int32Array;
  /** KID subsets (default 100) and their size (default 1000, capped by n) */
  kidSubsets?: number;
  kidSubsetSize?: number;
  /** k of the precision/recall manifolds (default: the reference file's, 3) */
  k?: number;
  /** images per classifier call (default 500) */
  batch?: number;
}

/** Metric name of a dataset's FD: 'FD-FMNIST', 'FD-MNIST'. */
export function metricName(dataset: string): string {
  return `FD-${(DATASET_SHORT[dataset] ?? dataset).toUpperCase()}`;
}

/**
 * The 8-bit PNG round trip: u8 = clip(⌊x·127.5 + 128⌋, 0, 255) (EDM generate.py, the same formula as
 * src/io/png.ts; NaN → 0), then x = u8/127.5 − 1. Returns a new host array.
 */
export function quantize8bit(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const u8 = Math.min(255, Math.max(0, Math.floor(x[i] * 127.5 + 128))) || 0;
    out[i] = u8 / 127.5 - 1;
  }
  return out;
}

/** A classifier and its reference statistics, loaded once and used for many evaluations. */
export class ImageEvaluator {
  readonly dataset: string;
  readonly classifier: LoadedClassifier;
  readonly reference: ReferenceStats;

  /** Takes ownership of `classifier.params`; checks that classifier and statistics belong to `dataset` and to each other. */
  constructor(dataset: string, classifier: LoadedClassifier, reference: ReferenceStats) {
    if (classifier.meta?.dataset !== dataset) throw new Error(`classifier '${classifier.path}' was trained on '${classifier.meta?.dataset}', not '${dataset}'`);
    if (reference.dataset !== dataset) throw new Error(`reference statistics for '${reference.dataset}' cannot score '${dataset}'`);
    if (reference.classifierSha256 !== classifier.sha256) throw new Error(`reference statistics were computed with classifier ${reference.classifierFile}, not '${classifier.path}'`);
    this.dataset = dataset;
    this.classifier = classifier;
    this.reference = reference;
  }

  /** Frees the classifier's device arrays. */
  dispose(): void {
    tree.dispose(this.classifier.params);
  }

  /**
   * All metrics of `images` ([N, C, H, W] in [-1, 1]: a host Float32Array, or a jax-js array, which
   * is consumed) against the reference statistics.
   */
  async evaluate(images: Float32Array | np.Array, opts: EvaluateOptions = {}): Promise<ImageMetrics> {
    const t0 = performance.now();
    const host = images instanceof np.Array ? await readImages(images, this.classifier) : images;
    const out = await classifierOutputs(this.classifier, quantize8bit(host), undefined, opts.batch);
    const { n, features, logits, featureDim: F, numClasses: C } = out;
    if (n < 2) throw new Error(`evaluation needs at least 2 images, got ${n}`);
    if (opts.labels && opts.labels.length !== n) throw new Error(`evaluation: ${opts.labels.length} labels for ${n} images`);
    const ref = this.reference;
    const fd = frechetDistance(meanCov(features, n, F), { d: F, mu: ref.mu, sigma: ref.sigma });
    const kid = await kernelInceptionDistance(features, n, ref.features, ref.nFeatures, F, { subsets: opts.kidSubsets, subsetSize: opts.kidSubsetSize });
    const k = opts.k ?? ref.k;
    const pr = await precisionRecall(ref.features, ref.nFeatures, features, n, F, { k, realRadii: k === ref.k ? ref.radii : undefined });
    const is = inceptionScore(logits, n, C);
    const result: ImageMetrics = {
      metric: metricName(this.dataset),
      dataset: this.dataset,
      n,
      fd,
      kid: kid.kid,
      kidStd: kid.std,
      kidSe: kid.se,
      precision: pr.precision,
      recall: pr.recall,
      is: is.is,
      ...(is.splits > 1 ? { isStd: is.std } : {}),
      seconds: 0,
      reference: `${ref.split} (${ref.count})`,
      classifier: this.classifier.meta.file ?? this.classifier.path,
    };
    if (opts.labels) result.classAcc = classAccuracy(logits, n, C, opts.labels);
    result.seconds = (performance.now() - t0) / 1000;
    return result;
  }
}

/** Reads a device image batch to the host after checking its shape; consumes `x`. */
async function readImages(x: np.Array, clf: LoadedClassifier): Promise<Float32Array> {
  const { inChannels: c, resolution: r } = clf.cfg;
  if (x.ndim !== 4 || x.shape[1] !== c || x.shape[2] !== r || x.shape[3] !== r) {
    const shape = x.shape;
    x.dispose();
    throw new Error(`images have shape [${shape}], the classifier '${clf.path}' expects [N, ${c}, ${r}, ${r}]`);
  }
  const d = x.dtype === np.float32 ? x : x.astype(np.float32);
  return (await d.data()) as Float32Array;
}

