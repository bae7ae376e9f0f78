/**
 * A DCGAN-style generator and discriminator for small images (Radford et al. 2016, with the two changes
 * this project makes everywhere: nearest-neighbour upsampling + 3×3 conv instead of transposed convs —
 * WebGPU's convTranspose is wrong for small channel counts — and 2×2 mean pooling instead of strided
 * convs, so both nets are built from the EDM layers of src/nets/layers.ts with PyTorch-style names).
 *
 *   G(z, y):  [z, onehot(y)] → Linear `map` → [g0, b, b] → norm → lrelu                  (b = R / 2^(L−1))
 *             per level r = b, 2b, …, R: (up 2× if r > b) → conv `b{r}x{r}.conv` → norm → lrelu
 *             → conv `out` → tanh ∈ [−1, 1]
 *   D(x, y):  per level r = R, …, b: conv0 → lrelu [→ conv1 → lrelu → 2×2 mean pool, if r > b]
 *             → flatten → Linear `fc` → lrelu = h;  D = `out`(h) + ⟨`embed`(onehot(y)), h⟩
 *
 * Class conditioning: G concatenates the one-hot label to z (a learned per-class embedding folded into
 * `map`'s weight); D uses the projection discriminator (Miyato & Koyama 2018), the label's embedding
 * dotted with D's last hidden features. Both are one-hot matmuls (jit(grad(np.take)) fails in jax-js).
 * LeakyReLU(0.2) in both nets (DCGAN uses ReLU in G; with `norm: 'none'` leaky units cannot die).
 */
import { lax, nn, numpy as np, tree } from '@jax-js/jax';
import { conv2d, conv2dSpecs, param, downsample2x, groupNorm, groupNormSpecs, INIT, initParams, linear, linearSpecs, specShapes, type ParamSpec, type Params } from '../nets/layers.js';

export const GAN_NORMS = ['group', 'none'] as const;
export type GanNorm = (typeof GAN_NORMS)[number];

/** Everything that fixes both networks' shapes; stored in checkpoint metadata as `netConfig`. */
export interface DcganConfig {
  /** Dimension of the latent z ~ N(0, I_zDim). */
  zDim: number;
  /** Number of classes conditioned on (0: unconditional). */
  labelDim: number;
  /** Image channels (1 for Fashion-MNIST). */
  channels: number;
  /** Image side R; R / 2^(L−1) must be an integer (28 → 7×7 base grid with 3 levels). */
  resolution: number;
  /** Generator widths per level, coarse to fine (e.g. [128, 64, 32] at 7, 14, 28). */
  gChannels: number[];
  /** Discriminator widths per level, fine to coarse (e.g. [32, 64, 128] at 28, 14, 7). */
  dChannels: number[];
  /** Width of the discriminator's last hidden (fully connected) layer. */
  dHidden: number;
  /** Generator normalisation after each conv: GroupNorm (EDM's groups) or none. */
  norm: GanNorm;
}

const SLOPE = 0.2;
const lrelu = (x: np.Array) => nn.leakyRelu(x, SLOPE);

/** Resolutions of the levels, coarse to fine ([7, 14, 28] for R = 28 with 3 levels). */
export function levelResolutions(levels: number, resolution: number): number[] {
  const base = resolution / 2 ** (levels - 1);
  return Array.from({ length: levels }, (_, i) => base * 2 ** i);
}

/** One-line error for a config that cannot be built. */
export function validateDcganConfig(c: DcganConfig): void {
  const ints: [string, number, number][] = [['zDim', c.zDim, 1], ['labelDim', c.labelDim, 0], ['channels', c.channels, 1], ['resolution', c.resolution, 2], ['dHidden', c.dHidden, 1]];
  for (const [k, v, min] of ints) if (!(Number.isInteger(v) && v >= min)) throw new Error(`dcgan: ${k} ${JSON.stringify(v)} is not an integer >= ${min}`);
  for (const k of ['gChannels', 'dChannels'] as const) {
    const v = c[k];
    if (!Array.isArray(v) || v.length < 1 || !v.every((x) => Number.isInteger(x) && x >= 4)) throw new Error(`dcgan: ${k} ${JSON.stringify(v)} must be a non-empty list of integers >= 4`);
  }
  if (c.gChannels.length !== c.dChannels.length) throw new Error(`dcgan: gChannels has ${c.gChannels.length} levels but dChannels ${c.dChannels.length}`);
  const L = c.gChannels.length;
  if (!Number.isInteger(c.resolution / 2 ** (L - 1))) throw new Error(`dcgan: resolution ${c.resolution} is not divisible by 2^${L - 1} (${L} levels)`);
  if (!(GAN_NORMS as readonly string[]).includes(c.norm)) throw new Error(`dcgan: norm ${JSON.stringify(c.norm)} is not one of ${GAN_NORMS.join(', ')}`);
}

const lvl = (r: number) => `b${r}x${r}`;

/** Generator parameters (names and init). */
export function dcganGeneratorSpecs(c: DcganConfig): ParamSpec[] {
  validateDcganConfig(c);
  const res = levelResolutions(c.gChannels.length, c.resolution);
  const b = res[0];
  const specs: ParamSpec[] = [...linearSpecs('map', c.zDim + c.labelDim, c.gChannels[0] * b * b, INIT)];
  if (c.norm === 'group') specs.push(...groupNormSpecs('map_norm', c.gChannels[0]));
  res.forEach((r, i) => {
    specs.push(...conv2dSpecs(`${lvl(r)}.conv`, c.gChannels[Math.max(0, i - 1)], c.gChannels[i], 3, INIT));
    if (c.norm === 'group') specs.push(...groupNormSpecs(`${lvl(r)}.norm`, c.gChannels[i]));
  });
  specs.push(...conv2dSpecs('out', c.gChannels.at(-1)!, c.channels, 3, INIT));
  return specs;
}

/** Discriminator parameters (names and init). */
export function dcganDiscriminatorSpecs(c: DcganConfig): ParamSpec[] {
  validateDcganConfig(c);
  const res = levelResolutions(c.dChannels.length, c.resolution).reverse(); // fine to coarse
  const specs: ParamSpec[] = [];
  res.forEach((r, i) => {
    specs.push(...conv2dSpecs(`${lvl(r)}.conv0`, i === 0 ? c.channels : c.dChannels[i - 1], c.dChannels[i], 3, INIT));
    if (i < res.length - 1) specs.push(...conv2dSpecs(`${lvl(r)}.conv1`, c.dChannels[i], c.dChannels[i], 3, INIT));
  });
  const b = res.at(-1)!;
  specs.push(...linearSpecs('fc', c.dChannels.at(-1)! * b * b, c.dHidden, INIT));
  specs.push(...linearSpecs('out', c.dHidden, 1, INIT));
  if (c.labelDim > 0) specs.push(...linearSpecs('embed', c.labelDim, c.dHidden, INIT, false));
  return specs;
}

export const dcganGeneratorShapes = (c: DcganConfig) => specShapes(dcganGeneratorSpecs(c));
export const dcganDiscriminatorShapes = (c: DcganConfig) => specShapes(dcganDiscriminatorSpecs(c));

/** Generator params from `key` (consumed). */
export function initDcganGenerator(key: np.Array, c: DcganConfig): Params {
  return initParams(key, dcganGeneratorSpecs(c));
}

/** Discriminator params from `key` (consumed). */
export function initDcganDiscriminator(key: np.Array, c: DcganConfig): Params {
  return initParams(key, dcganDiscriminatorSpecs(c));
}

/** Labels for a net: the one-hot [N, labelDim] given, zeros if missing, nothing if unconditional. */
function labelsFor(c: DcganConfig, labels: np.Array | null, n: number, what: string): np.Array | null {
  if (c.labelDim === 0) {
    labels?.dispose();
    return null;
  }
  const l = labels ?? np.zeros([n, c.labelDim]);
  if (l.ndim !== 2 || l.shape[0] !== n || l.shape[1] !== c.labelDim) {
    const s = l.shape;
    l.dispose();
    throw new Error(`${what}: labels have shape [${s}], expected [${n}, ${c.labelDim}]`);
  }
  return l;
}

/**
 * x = G(z, y) [N, channels, R, R] in [−1, 1] from z [N, zDim] and one-hot labels [N, labelDim] (or
 * null). Consumes every argument, params included (pass `tree.ref(params)` to keep them).
 */
export function dcganGenerator(c: DcganConfig, params: Params, z: np.Array, labels: np.Array | null): np.Array {
  try {
    const N = z.shape[0];
    if (z.ndim !== 2 || z.shape[1] !== c.zDim) {
      const s = z.shape;
      z.dispose();
      labels?.dispose();
      throw new Error(`dcgan generator: latent shape [${s}], expected [N, ${c.zDim}]`);
    }
    const l = labelsFor(c, labels, N, 'dcgan generator');
    const res = levelResolutions(c.gChannels.length, c.resolution);
    const b = res[0];
    const norm = (name: string, h: np.Array) => (c.norm === 'group' ? groupNorm(params, name, h) : h);
    let h = linear(params, 'map', l ? np.concatenate([z, l], 1) : z).reshape([N, c.gChannels[0], b, b]);
    h = lrelu(norm('map_norm', h));
    res.forEach((r, i) => {
      h = conv2d(params, `${lvl(r)}.conv`, h, { up: i > 0 });
      h = lrelu(norm(`${lvl(r)}.norm`, h));
    });
    return np.tanh(conv2d(params, 'out', h));
  } finally {
    tree.dispose(params);
  }
}

/** 3×3 same-padded conv + bias through jax-js's conv primitive (`lax.conv`), whatever `convImpl()` says. */
function laxConv(params: Params, name: string, x: np.Array): np.Array {
  const y = lax.conv(x, param(params, `${name}.weight`), [1, 1], [[1, 1], [1, 1]]);
  return y.add(param(params, `${name}.bias`).reshape([1, -1, 1, 1]));
}

/**
 * The discriminator's logits D(x, y) [N] for images x [N, channels, R, R] and one-hot labels (or null).
 * Consumes every argument, params included. `conv: 'lax'` forces jax-js's conv primitive for the convs
 * (the R1 pass uses it: the im2col lowering that Wasm otherwise gets materialises [O, N·H·W, C·9]
 * broadcasts in the second derivative — measured ~0.75 GB extra at batch 8 for gan-small, past Wasm's
 * 4 GiB at batch 32 — while the conv primitive's transposes are convs; on WebGPU both are `lax.conv`).
 */
export function dcganDiscriminator(c: DcganConfig, params: Params, x: np.Array, labels: np.Array | null, opts: { conv?: 'lax' } = {}): np.Array {
  try {
    const N = x.shape[0];
    if (x.ndim !== 4 || x.shape[1] !== c.channels || x.shape[2] !== c.resolution || x.shape[3] !== c.resolution) {
      const s = x.shape;
      x.dispose();
      labels?.dispose();
      throw new Error(`dcgan discriminator: input shape [${s}], expected [N, ${c.channels}, ${c.resolution}, ${c.resolution}]`);
    }
    const l = labelsFor(c, labels, N, 'dcgan discriminator');
    const res = levelResolutions(c.dChannels.length, c.resolution).reverse();
    const conv = (name: string, h: np.Array) => (opts.conv === 'lax' ? laxConv(params, name, h) : conv2d(params, name, h));
    let h = x;
    res.forEach((r, i) => {
      h = lrelu(conv(`${lvl(r)}.conv0`, h));
      if (i < res.length - 1) h = downsample2x(lrelu(conv(`${lvl(r)}.conv1`, h)));
    });
    h = lrelu(linear(params, 'fc', h.reshape([N, -1])));
    let logit = linear(params, 'out', h.ref).reshape([N]);
    if (l) logit = logit.add(linear(params, 'embed', l).mul(h.ref).sum(1)); // projection: ⟨embed(y), h⟩
    h.dispose();
    return logit;
  } finally {
    tree.dispose(params);
  }
}
