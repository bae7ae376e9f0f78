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
import { classifierOutputs, type LoadedClassifier } from './classifier.js';
import { meanCov } from './linalg.js';
import { knnRadii } from './prdc.js';
import { DATASET_SHORT } from './train-classifier.js';
import { shippedFile } from '../io/models-dir.js';

export const REFERENCE_FORMAT = 'diff-instruct/reference-stats@1';

export interface ReferenceStats {
  dataset: string;
  split: string;
  /** images behind mu and sigma */
  count: number;
  featureDim: number;
  mu: Float64Array;
  sigma: Float64Array;
  /** [nFeatures, F] raw features (rounded through F16 when loaded from a file) */
  features: Float32Array;
  nFeatures: number;
  /** k-NN radii of `features` */
  radii: Float32Array;
  k: number;
  classifierFile: string;
  classifierSha256: string;
  meta: Record<string, unknown>;
}

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

function tensor(path: string, tensors: Record<string, TensorData>, name: string, dtype: string, shape: number[]): TensorData {
  const t = tensors[name];
  if (!t) throw new Error(`reference statistics '${path}': missing tensor '${name}'`);
  if (t.dtype !== dtype) throw new Error(`reference statistics '${path}': tensor '${name}' has dtype ${t.dtype}, expected ${dtype}`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`reference statistics '${path}': tensor '${name}' has shape [${t.shape}], expected [${shape}]`);
  }
  for (let i = 0; i < t.data.length; i++) {
    const v = Number(t.data[i]);
    // F16 stores raw bits: 0x7c00 and above in the exponent field are Inf/NaN
    const bad = t.dtype === 'F16' ? (v & 0x7c00) === 0x7c00 : !Number.isFinite(v);
    if (bad) throw new Error(`reference statistics '${path}': tensor '${name}' has a non-finite value at index ${i}`);
  }
  return t;
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
  const { tensors, metadata } = parsed;
  let meta: any;
  try {
    meta = JSON.parse(metadata[META_KEY] ?? 'null');
  } catch {
    throw new Error(`reference statistics '${path}': metadata '${META_KEY}' is not valid JSON`);
  }
  if (!meta || meta.format !== REFERENCE_FORMAT) throw new Error(`'${path}' is not a reference-statistics file (format ${JSON.stringify(meta?.format ?? null)}, expected '${REFERENCE_FORMAT}')`);
  const F = meta.featureDim, M = meta.featureRows;
  if (!Number.isInteger(F) || F < 1 || !Number.isInteger(M) || M < 2) throw new Error(`reference statistics '${path}': bad featureDim/featureRows in metadata`);
  if (expect.dataset && meta.dataset !== expect.dataset) throw new Error(`reference statistics '${path}' are for dataset '${meta.dataset}', not '${expect.dataset}'`);
  const clf = expect.classifier;
  if (clf) {
    if (meta.classifierSha256 !== clf.sha256) {
      throw new Error(
        `reference statistics '${path}' were computed with classifier ${meta.classifier} (sha256 ${String(meta.classifierSha256).slice(0, 12)}…), but '${clf.path}' has sha256 ${clf.sha256.slice(0, 12)}…: recompute them with diff-instruct eval ref --dataset ${meta.dataset}`,
      );
    }
    if (clf.cfg.features !== F) throw new Error(`reference statistics '${path}' have ${F}-d features, the classifier '${clf.path}' gives ${clf.cfg.features}-d`);
  }
  const mu = tensor(path, tensors, 'mu', 'F64', [F]).data as Float64Array;
  const sigma = tensor(path, tensors, 'sigma', 'F64', [F, F]).data as Float64Array;
  const features = f16ToF32(tensor(path, tensors, 'features', 'F16', [M, F]).data as Uint16Array);
  const radii = tensor(path, tensors, 'radii', 'F32', [M]).data as Float32Array;
  return {
    dataset: meta.dataset,
    split: meta.split,
    count: meta.count,
    featureDim: F,
    mu,
    sigma,
    features,
    nFeatures: M,
    radii,
    k: meta.k,
    classifierFile: meta.classifier,
    classifierSha256: meta.classifierSha256,
    meta,
  };
}
