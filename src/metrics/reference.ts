/**
 * Reference statistics of a dataset split in our classifier's feature space, the "real" side of every
 * image metric (FD-FMNIST / FD-MNIST, KID, precision/recall; src/metrics/evaluate.ts):
 *
 *   mu [F] (F64), sigma [F, F] (F64)   — Gaussian statistics of all `count` images (Heusel et al. 2017)
 *   features [M, F] (F16)              — raw features of the first M images (M ≤ count) for KID and P/R
 *   radii [M] (F32)                    — their k-NN radii (k = 3, Kynkäänniemi et al. 2019), so P/R
 *                                        need not recompute the real manifold
 *
 * stored as a safetensors file whose `__metadata__.diff_instruct` JSON names the dataset, split, count,
 * the classifier file and its sha256. Loading checks every shape, that the values are finite, and that
 * the sha256 matches the classifier in use: statistics from another classifier live in another feature
 * space and would give meaningless distances, so a mismatch is a one-line error, not a warning.
 */
import { basename } from 'node:path';
import { existsSync } from 'node:fs';
import { DATASETS, loadImageDataset, toFloat, type Split } from '../data/images.js';
import { readSafetensors, f32ToF16, f16ToF32, writeSafetensors, type TensorData } from '../io/safetensors.js';
import { META_KEY } from '../io/params.js';
import { REFERENCE_FORMAT, referenceStatsFromSafetensors, type ReferenceStats } from './reference-format.js';
import { classifierOutputs, type LoadedClassifier } from './classifier.js';
import { meanCov } from './linalg.js';
import { knnRadii } from './prdc.js';
import { DATASET_SHORT } from './evaluator.js';
import { shippedFile } from '../io/models-dir.js';

export * from './reference-format.js';

/** Default reference-statistics file of a dataset split: `models/ref-<fmnist|mnist>-<split>.safetensors`. */
export function defaultReferencePath(dataset: string, split: Split = 'test'): string {
  const short = DATASET_SHORT[dataset];
  if (!short) throw new Error(`unknown dataset '${dataset}': expected one of ${DATASETS.join(', ')}`);
  return shippedFile(`ref-${short}-${split}.safetensors`);
}

export interface ComputeReferenceOptions {
  /** rows of raw features kept for KID and P/R (default 10000; all of a 10k test split) */
  maxFeatures?: number;
  /** use only the first `limit` images of the split (default all) */
  limit?: number;
  /** k of the k-NN radii (default 3) */
  k?: number;
}

/** Features of `dataset`/`split` through `clf`, and the statistics above. Borrows `clf`. */
export async function computeReferenceStats(clf: LoadedClassifier, dataset: string, split: Split, opts: ComputeReferenceOptions = {}): Promise<ReferenceStats> {
  const ds = await loadImageDataset(dataset, split);
  const n = Math.min(opts.limit ?? ds.n, ds.n);
  const k = opts.k ?? 3;
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const out = await classifierOutputs(clf, toFloat(ds, idx), n);
  const F = out.featureDim;
  const { mu, sigma } = meanCov(out.features, n, F);
  // Splits interleave classes (image i has class i mod 10 for Fashion-MNIST), so a prefix is balanced.
  const m = Math.min(opts.maxFeatures ?? 10000, n);
  // store F16-rounded features, and compute the radii from exactly what a later load will see
  const features = f16ToF32(f32ToF16(out.features.subarray(0, m * F)));
  const radii = await knnRadii(features, m, F, k);
  return {
    dataset,
    split,
    count: n,
    featureDim: F,
    mu,
    sigma,
    features,
    nFeatures: m,
    radii,
    k,
    classifierFile: basename(clf.path),
    classifierSha256: clf.sha256,
    meta: {},
  };
}

/** Writes reference statistics (layout in the file header), atomically. */
export function saveReferenceStats(path: string, ref: ReferenceStats, extraMeta: Record<string, unknown> = {}): void {
  const F = ref.featureDim;
  const tensors: Record<string, TensorData> = {
    mu: { dtype: 'F64', shape: [F], data: ref.mu },
    sigma: { dtype: 'F64', shape: [F, F], data: ref.sigma },
    features: { dtype: 'F16', shape: [ref.nFeatures, F], data: f32ToF16(ref.features) },
    radii: { dtype: 'F32', shape: [ref.nFeatures], data: ref.radii },
  };
  const meta = {
    format: REFERENCE_FORMAT,
    kind: 'reference-stats',
    dataset: ref.dataset,
    split: ref.split,
    count: ref.count,
    featureDim: F,
    featureRows: ref.nFeatures,
    k: ref.k,
    classifier: ref.classifierFile,
    classifierSha256: ref.classifierSha256,
    ...extraMeta,
  };
  writeSafetensors(path, tensors, { [META_KEY]: JSON.stringify(meta) });
}

/**
 * Loads and validates reference statistics. With `classifier`, its sha256 must equal the one recorded
 * in the file; every problem (missing or corrupt file, wrong shapes, non-finite values, other
 * classifier, other dataset) is a one-line error naming the file.
 */
export function loadReferenceStats(path: string, expect: { classifier?: LoadedClassifier; dataset?: string } = {}): ReferenceStats {
  if (!existsSync(path)) throw new Error(`reference statistics '${path}' do not exist (compute them with: diff-instruct eval ref --dataset <name>)`);
  let parsed: ReturnType<typeof readSafetensors>;
  try {
    parsed = readSafetensors(path);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new Error(msg.includes(path) ? msg : `reference statistics '${path}': ${msg}`);
  }
  return referenceStatsFromSafetensors(parsed, path, expect);
}
