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
 *
 * This file is the half without Node APIs (a page fetches the file and calls
 * `referenceStatsFromSafetensors`); reference.ts computes, saves and loads files.
 */
import type { TensorData } from '../io/safetensors-format.js';
import { f16ToF32 } from '../io/safetensors-format.js';
import { META_KEY } from '../io/params-format.js';
import type { LoadedClassifier } from './classifier.js';

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
 * Validates parsed reference statistics (`parseSafetensors`/`readSafetensors` output; `path` names the
 * file or URL in errors). With `classifier`, its sha256 must equal the one recorded in the file; every
 * problem (wrong shapes, non-finite values, other classifier, other dataset) is a one-line error.
 */
export function referenceStatsFromSafetensors(
  parsed: { tensors: Record<string, TensorData>; metadata: Record<string, string> },
  path: string,
  expect: { classifier?: LoadedClassifier; dataset?: string } = {},
): ReferenceStats {
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
