/**
 * Feature classifier for our image metrics: a small CNN trained on Fashion-MNIST or MNIST whose
 * penultimate layer (F = 128 ReLU units) is the feature space for FD / KID / precision-recall, and whose
 * logits give the Inception-Score analogue and class accuracy.
 *
 * This stands in for Inception-v3 (Heusel et al. 2017, "GANs trained by a two time-scale update rule",
 * §B) on 28×28 grayscale data, where no Inception weights are available: scores computed in this
 * space are labelled "FD-FMNIST" / "FD-MNIST", never FID.
 *
 * Raw network, pure function of a flat param tree with PyTorch names (`conv1.weight` OIHW,
 * `fc1.weight` [out, in]), so the safetensors file maps 1:1 onto a `torch.nn.Module` state_dict:
 *   conv1 3×3 stride 1 → ReLU → conv2 3×3 stride 2 → ReLU → conv3 3×3 stride 2 → ReLU
 *   → flatten (C·7·7) → fc1 → ReLU (features) → fc2 (logits).
 * Stride-2 convs downsample instead of pooling: jax-js 0.1.25 has no pooling op in `nn`, and a strided
 * conv computes a quarter of the outputs, which matters on Wasm.
 */
import { defaultDevice, jit, lax, nn, numpy as np, random, tree, type OwnedFunction } from '@jax-js/jax';
import { paramsFromSafetensors, parseMeta } from '../io/params-format.js';
import { parseSafetensors } from '../io/safetensors-format.js';
import { convImpl } from '../nets/layers.js';

export type ClassifierParams = Record<string, np.Array>;

export interface ClassifierConfig {
  /** output channels of conv1, conv2, conv3 */
  channels: [number, number, number];
  /** width of the penultimate (feature) layer: the metric space dimension F */
  features: number;
  /** number of classes (10 for both datasets) */
  numClasses: number;
  /** image size (square); two stride-2 convs map it to ceil(size/4) */
  resolution: number;
  /** image channels */
  inChannels: number;
}

export const DEFAULT_CLASSIFIER: ClassifierConfig = { channels: [32, 64, 64], features: 128, numClasses: 10, resolution: 28, inChannels: 1 };

/** Spatial size after the two stride-2 'SAME' convolutions. */
function reducedSize(res: number): number {
  return Math.ceil(Math.ceil(res / 2) / 2);
}

/** Parameter names and shapes for `cfg`, in a fixed order (checkpoints list them in this order). */
export function classifierShapes(cfg: ClassifierConfig): Record<string, number[]> {
  const [c1, c2, c3] = cfg.channels;
  const flat = c3 * reducedSize(cfg.resolution) ** 2;
  return {
    'conv1.weight': [c1, cfg.inChannels, 3, 3],
    'conv1.bias': [c1],
    'conv2.weight': [c2, c1, 3, 3],
    'conv2.bias': [c2],
    'conv3.weight': [c3, c2, 3, 3],
    'conv3.bias': [c3],
    'fc1.weight': [cfg.features, flat],
    'fc1.bias': [cfg.features],
    'fc2.weight': [cfg.numClasses, cfg.features],
    'fc2.bias': [cfg.numClasses],
  };
}

/**
 * He-normal initialisation (std = √(2 / fan_in)) for weights feeding ReLUs, zeros for biases;
 * fc2 uses √(1 / fan_in) since no ReLU follows it.
 */
export function initClassifier(key: np.Array, cfg: ClassifierConfig = DEFAULT_CLASSIFIER): ClassifierParams {
  const shapes = classifierShapes(cfg);
  const names = Object.keys(shapes).filter((n) => n.endsWith('.weight'));
  const keys = random.split(key, names.length);
  const params: ClassifierParams = {};
  names.forEach((name, i) => {
    const shape = shapes[name];
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const gain = name.startsWith('fc2') ? 1 : 2;
    params[name] = random.normal(keys.ref.slice(i), shape).mul(Math.sqrt(gain / fanIn));
    const bias = name.replace('.weight', '.bias');
    params[bias] = np.zeros(shapes[bias]);
  });
  keys.dispose();
  return params;
}

/** Checks that `params` holds exactly the tensors `cfg` needs, with their shapes; one-line error otherwise. */
export function checkClassifierParams(params: ClassifierParams, cfg: ClassifierConfig, where = 'classifier'): void {
  const shapes = classifierShapes(cfg);
  for (const [name, shape] of Object.entries(shapes)) {
    const p = params[name];
    if (!p) throw new Error(`${where}: missing tensor '${name}'`);
    if (p.shape.join(',') !== shape.join(',')) throw new Error(`${where}: tensor '${name}' has shape [${p.shape}], expected [${shape}]`);
  }
  for (const name of Object.keys(params)) if (!(name in shapes)) throw new Error(`${where}: unexpected tensor '${name}'`);
}

/**
 * 3×3 convolution with JAX 'SAME' padding (stride 2 pads (0, 1), as `lax.conv` does), as im2col + one
 * matmul. x: [N, H, W, C] (NHWC), w: [O, C, 3, 3] (OIHW, PyTorch layout) → [N, H', W', O].
 *
 * Why not `lax.conv` on Wasm: in jax-js 0.1.25 a 32→64-channel stride-2 conv on 128×28×28 takes ~6.8 s
 * forward there, while the same FLOPs as one matmul take ~50 ms; this im2col runs it in ~0.18 s
 * (2-core CPU; models/README.md). Patches are ordered (c, i, j) so that the OIHW weight is a plain
 * reshape to [O, C·9]: a transposed weight view fused into the matmul is several times slower.
 */
export function conv3x3Im2col(x: np.Array, w: np.Array, stride: number): np.Array {
  const [n, h, wd, c] = x.shape;
  const o = w.shape[0];
  const ho = Math.ceil(h / stride), wo = Math.ceil(wd / stride);
  // JAX/XLA 'SAME': total padding max((out-1)·s + k - in, 0), the smaller half before.
  const top = Math.floor(Math.max((ho - 1) * stride + 3 - h, 0) / 2);
  const left = Math.floor(Math.max((wo - 1) * stride + 3 - wd, 0) / 2);
  // Pad the end far enough that each shifted window of length s·out fits; the extra rows are never read
  // at the kept (stride-aligned) positions.
  const xp = np.pad(x, [[0, 0], [top, 2 + stride * ho - h - top], [left, 2 + stride * wo - wd - left], [0, 0]]);
  const cols: np.Array[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let p = xp.ref.slice([], [i, i + stride * ho], [j, j + stride * wo], []);
      // a strided slice as reshape + index: jax-js slices take no step
      if (stride > 1) p = p.reshape([n, ho, stride, wo, stride, c]).slice([], [], 0, [], 0, []);
      cols.push(p);
    }
  }
  xp.dispose();
  const patches = np.stack(cols, 4).reshape([n * ho * wo, c * 9]);
  return np.matmul(patches, w.reshape([o, c * 9]).transpose()).reshape([n, ho, wo, o]);
}

/**
 * The conv trunk (conv1..conv3 with ReLUs) → [N, C3·h·w] flattened in PyTorch's (C, H, W) order, so
 * fc1.weight matches a torch `Flatten → Linear`. Wasm runs NHWC im2col; WebGPU runs `lax.conv` in NCHW
 * (fast there); `DI_CONV=lax|im2col` overrides, as for the other nets (src/nets/layers.ts).
 */
function convTrunk(params: ClassifierParams, x: np.Array): np.Array {
  const layers: [string, number][] = [['conv1', 1], ['conv2', 2], ['conv3', 2]];
  if (convImpl() === 'lax') {
    let h = x;
    for (const [name, s] of layers) {
      const y = lax.conv(h, params[`${name}.weight`], [s, s], 'SAME');
      h = nn.relu(y.add(params[`${name}.bias`].reshape([1, -1, 1, 1])));
    }
    return h.reshape([h.shape[0], -1]);
  }
  let h = x.transpose([0, 2, 3, 1]);
  for (const [name, s] of layers) h = nn.relu(conv3x3Im2col(h, params[`${name}.weight`], s).add(params[`${name}.bias`]));
  return h.transpose([0, 3, 1, 2]).reshape([h.shape[0], -1]);
}

function linear(x: np.Array, w: np.Array, b: np.Array): np.Array {
  return np.matmul(x, w.transpose()).add(b);
}

function trunk(params: ClassifierParams, x: np.Array): np.Array {
  return nn.relu(linear(convTrunk(params, x), params['fc1.weight'], params['fc1.bias']));
}

/**
 * Penultimate-layer features φ(x) ∈ ℝ^F (post-ReLU), the metric space. x: [N, C, H, W] in [-1, 1].
 * Consumes `params` and `x` (pass `tree.ref(params)` to keep the weights).
 */
export function classifierFeatures(params: ClassifierParams, x: np.Array): np.Array {
  params['fc2.weight'].dispose();
  params['fc2.bias'].dispose();
  return trunk(params, x);
}

/**
 * Class logits [N, numClasses]. Consumes `params` and `x`. With `dropout` (training only) the features
 * are dropped with probability p (inverted dropout, keys explicit) before fc2.
 */
export function classifierLogits(params: ClassifierParams, x: np.Array, dropout?: { p: number; key: np.Array }): np.Array {
  let f = trunk(params, x);
  if (dropout) {
    if (dropout.p > 0) f = f.mul(random.uniform(dropout.key, f.shape).greaterEqual(dropout.p).astype(np.float32)).mul(1 / (1 - dropout.p));
    else dropout.key.dispose();
  }
  return linear(f, params['fc2.weight'], params['fc2.bias']);
}

/** Features [N, F] and logits [N, numClasses] from one forward pass. Consumes `params` and `x`. */
export function classifierForward(params: ClassifierParams, x: np.Array): [np.Array, np.Array] {
  const f = trunk(params, x);
  return [f.ref, linear(f, params['fc2.weight'], params['fc2.bias'])];
}

/** A classifier loaded from its safetensors file, with what identifies it. */
export interface LoadedClassifier {
  params: ClassifierParams;
  cfg: ClassifierConfig;
  /** the file's `diff_instruct` metadata (dataset, testAccuracy, ...) */
  meta: any;
  path: string;
  /** sha256 of the file's bytes: reference statistics record it to detect a swapped classifier */
  sha256: string;
}

/** sha256 (hex) of bytes, by Web Crypto (in Node 20 and in pages). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A classifier from the bytes of its safetensors file (read from disk by classifier-file.ts, or
 * fetched by a page); `source` names it in errors. A file that is not a classifier, or a tensor whose
 * shape disagrees with the stored config, is a one-line error.
 */
export async function classifierFromBytes(bytes: Uint8Array, source: string): Promise<LoadedClassifier> {
  const parsed = parseSafetensors(bytes, source);
  const meta = parseMeta(source, parsed.metadata);
  if (!meta || meta.kind !== 'classifier' || !meta.netConfig) throw new Error(`'${source}' is not a diff-instruct classifier (metadata kind is ${JSON.stringify(meta?.kind ?? null)})`);
  const cfg = meta.netConfig as ClassifierConfig;
  const { params } = paramsFromSafetensors(parsed, source, { expect: classifierShapes(cfg) });
  return { params, cfg, meta, path: source, sha256: await sha256Hex(bytes) };
}

const forwardFns = new Map<string, OwnedFunction<(p: ClassifierParams, x: np.Array) => [np.Array, np.Array]>>();

/** The jit'd forward pass, compiled once per device (and by jit, once per batch shape): trainers evaluate often. */
function forwardFn(): OwnedFunction<(p: ClassifierParams, x: np.Array) => [np.Array, np.Array]> {
  const dev = defaultDevice();
  let f = forwardFns.get(dev);
  if (!f) {
    f = jit((p: ClassifierParams, x: np.Array) => classifierForward(p, x));
    forwardFns.set(dev, f);
  }
  return f;
}

/** Features [n, F] and logits [n, numClasses] on the host, from one forward pass per batch. */
export interface ClassifierOutputs {
  n: number;
  features: Float32Array;
  logits: Float32Array;
  featureDim: number;
  numClasses: number;
}

/**
 * Runs the classifier over images [n, C, H, W] in [-1, 1] — a host Float32Array (NCHW) or a jax-js
 * array (consumed) — in jit'd batches on the default device. Borrows `clf.params`.
 */
export async function classifierOutputs(clf: LoadedClassifier, images: Float32Array | np.Array, n?: number, batch = 500): Promise<ClassifierOutputs> {
  const { inChannels: c, resolution: r, features: F, numClasses: K } = clf.cfg;
  const per = c * r * r;
  let count: number;
  if (images instanceof np.Array) {
    const ok = images.ndim === 4 && images.shape[1] === c && images.shape[2] === r && images.shape[3] === r;
    if (!ok) {
      const shape = images.shape;
      images.dispose();
      throw new Error(`images have shape [${shape}], the classifier '${clf.path}' expects [N, ${c}, ${r}, ${r}]`);
    }
    count = images.shape[0];
  } else {
    count = n ?? images.length / per;
    if (!Number.isInteger(count) || count * per !== images.length) throw new Error(`images: ${images.length} values is not [N, ${c}, ${r}, ${r}] (${per} values per image)`);
  }
  if (count < 1) throw new Error('images: no images');
  const fwd = forwardFn();
  const features = new Float32Array(count * F);
  const logits = new Float32Array(count * K);
  try {
    for (let i = 0; i < count; i += batch) {
      const b = Math.min(batch, count - i);
      const x = images instanceof np.Array ? images.ref.slice([i, i + b]) : np.array(images.subarray(i * per, (i + b) * per), { shape: [b, c, r, r] });
      const [f, l] = fwd(tree.ref(clf.params), x);
      features.set((await f.data()) as Float32Array, i * F);
      logits.set((await l.data()) as Float32Array, i * K);
    }
  } finally {
    if (images instanceof np.Array) images.dispose();
  }
  return { n: count, features, logits, featureDim: F, numClasses: K };
}
