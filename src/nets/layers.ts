/**
 * Network building blocks as pure functions of a flat parameter tree, with NVlabs/edm's parameter
 * names and initialisation (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
 * Generative Models", training/networks.py: `weight_init`, Linear, Conv2d, GroupNorm, UNetBlock,
 * PositionalEmbedding).
 *
 * Every layer reads its weights as `params[`${name}.weight`]` and takes a `.ref` of them, so one tree
 * can feed every layer; the network that owns the tree disposes it once at the end. Activations follow
 * jax-js ownership: each function consumes its array arguments.
 *
 * Parameters are described first as `ParamSpec`s (name, shape, init rule); `initParams` draws them and
 * `specShapes` gives the shapes a checkpoint must have, so init and loading can never disagree.
 */
import { defaultDevice, lax, nn, numpy as np, random } from '@jax-js/jax';

export type Params = Record<string, np.Array>;

/** Per-call options of a network: a dropout key and whether dropout is active. */
export type NetOpts = { key?: np.Array; train?: boolean };

/** EDM's `weight_init` modes. */
export type InitMode = 'xavier_uniform' | 'xavier_normal' | 'kaiming_uniform' | 'kaiming_normal';

/** How one parameter is drawn: EDM's `weight_init(shape, mode, fan_in, fan_out) * gain`, or a constant. */
export type ParamInit = { kind: 'const'; value: number } | { kind: 'random'; mode: InitMode; fanIn: number; fanOut: number; gain: number };

export interface ParamSpec {
  name: string;
  shape: number[];
  init: ParamInit;
}

/** EDM's init presets: `init` (xavier_uniform), `init_zero` (xavier_uniform × 1e-5), `init_attn` (× √0.2). */
export interface LayerInit {
  mode: InitMode;
  /** EDM `init_weight`: multiplies the drawn weight (1e-5 gives the near-zero last conv of each block). */
  weight: number;
  /** EDM `init_bias`: multiplies the drawn bias; 0 (EDM's default everywhere in SongUNet) gives zeros. */
  bias: number;
}
export const INIT: LayerInit = { mode: 'xavier_uniform', weight: 1, bias: 0 };
export const INIT_ZERO: LayerInit = { mode: 'xavier_uniform', weight: 1e-5, bias: 0 };
export const INIT_ATTN: LayerInit = { mode: 'xavier_uniform', weight: Math.sqrt(0.2), bias: 0 };

/** EDM `weight_init`: uniform ±√(6/(fan_in+fan_out)) (xavier_uniform), √(1/fan_in)·N (kaiming_normal), … */
export function weightInit(key: np.Array, shape: number[], mode: InitMode, fanIn: number, fanOut: number): np.Array {
  const sym = () => random.uniform(key, shape).mul(2).sub(1); // U(-1, 1)
  switch (mode) {
    case 'xavier_uniform':
      return sym().mul(Math.sqrt(6 / (fanIn + fanOut)));
    case 'xavier_normal':
      return random.normal(key, shape).mul(Math.sqrt(2 / (fanIn + fanOut)));
    case 'kaiming_uniform':
      return sym().mul(Math.sqrt(3 / fanIn));
    case 'kaiming_normal':
      return random.normal(key, shape).mul(Math.sqrt(1 / fanIn));
  }
}

function weightAndBias(name: string, wShape: number[], out: number, fanIn: number, fanOut: number, init: LayerInit, bias: boolean): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: `${name}.weight`, shape: wShape, init: { kind: 'random', mode: init.mode, fanIn, fanOut, gain: init.weight } }];
  if (bias) {
    const b: ParamInit = init.bias === 0 ? { kind: 'const', value: 0 } : { kind: 'random', mode: init.mode, fanIn, fanOut, gain: init.bias };
    specs.push({ name: `${name}.bias`, shape: [out], init: b });
  }
  return specs;
}

/** EDM `Linear(in, out)`: `weight [out, in]`, `bias [out]`, fans (in, out). */
export function linearSpecs(name: string, inFeatures: number, outFeatures: number, init: LayerInit = INIT, bias = true): ParamSpec[] {
  return weightAndBias(name, [outFeatures, inFeatures], outFeatures, inFeatures, outFeatures, init, bias);
}

/** EDM `Conv2d(in, out, kernel)`: `weight [O, I, k, k]`, `bias [O]`, fans (I·k², O·k²). */
export function conv2dSpecs(name: string, inChannels: number, outChannels: number, kernel: number, init: LayerInit = INIT, bias = true): ParamSpec[] {
  const k2 = kernel * kernel;
  return weightAndBias(name, [outChannels, inChannels, kernel, kernel], outChannels, inChannels * k2, outChannels * k2, init, bias);
}

/** EDM `GroupNorm(C)`: `weight` ones, `bias` zeros. */
export function groupNormSpecs(name: string, channels: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [channels], init: { kind: 'const', value: 1 } },
    { name: `${name}.bias`, shape: [channels], init: { kind: 'const', value: 0 } },
  ];
}

/** Draws every parameter of `specs` (one subkey each, in order). Consumes `key`. */
export function initParams(key: np.Array, specs: ParamSpec[]): Params {
  const keys = random.split(key, Math.max(specs.length, 1));
  const out: Params = {};
  specs.forEach((s, i) => {
    if (s.name in out) throw new Error(`initParams: duplicate parameter name '${s.name}'`);
    if (s.init.kind === 'const') out[s.name] = np.full(s.shape, s.init.value);
    else out[s.name] = weightInit(keys.ref.slice(i), s.shape, s.init.mode, s.init.fanIn, s.init.fanOut).mul(s.init.gain);
  });
  keys.dispose();
  return out;
}

/** `{name: shape}` of a spec list: what `loadParams(..., {expect})` checks a checkpoint against. */
export function specShapes(specs: ParamSpec[]): Record<string, number[]> {
  return Object.fromEntries(specs.map((s) => [s.name, s.shape]));
}

/** Number of scalar parameters in a spec list. */
export function specCount(specs: ParamSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** A new reference to `params[name]`, or a one-line error naming the missing key. */
export function param(params: Params, name: string): np.Array {
  const p = params[name];
  if (!p) throw new Error(`missing parameter '${name}'`);
  return p.ref;
}

/** EDM `Linear.forward`: `x @ weightᵀ + bias`. `x` is [N, in]. */
export function linear(params: Params, name: string, x: np.Array): np.Array {
  const y = np.matmul(x, param(params, `${name}.weight`).transpose());
  return `${name}.bias` in params ? y.add(param(params, `${name}.bias`).reshape([1, -1])) : y;
}

/** Below this, silu(x) = x·sigmoid(x) is 0 in float32 (|x|·e^x < 1e-33) and returns exactly 0. */
const SILU_FLOOR = -80;

/**
 * SiLU, x·sigmoid(x), with a finite gradient everywhere: jax-js 0.1.25's `nn.silu` has a NaN gradient
 * for x ≤ −89 (its sigmoid's exp overflows: measured NaN at −89 and −100), and a NaN there makes the
 * trainers skip the step, so a saturated unit skips every step after it (seen in 2-D runs with large
 * learning rates). Values are `nn.silu`'s for x > −80 and 0 below; the input is clamped before
 * `nn.silu` too, so no NaN reaches the backward pass (the "double where").
 */
export function silu(x: np.Array): np.Array {
  const keep = np.greater(x.ref, SILU_FLOOR);
  const safe = np.where(keep.ref, x, 0);
  return np.where(keep, nn.silu(safe), 0);
}

/**
 * Which convolution kernel runs: jax-js's `lax.conv` (used on WebGPU) or an im2col + matmul lowering
 * (used on Wasm, where 0.1.25's direct conv kernel runs at ~0.2 GFLOP/s and im2col is ~10× faster;
 * measured on a 2-core CPU for a 32→32 3×3 conv at 28×28, batch 32). Both compute the same
 * cross-correlation; `DI_CONV=lax|im2col` overrides the choice for benchmarking.
 */
export function convImpl(): 'lax' | 'im2col' | 'bmm' {
  const env = typeof process !== 'undefined' ? process.env?.DI_CONV : undefined;
  if (env === 'lax' || env === 'im2col' || env === 'bmm') return env;
  return defaultDevice() === 'webgpu' ? 'lax' : 'im2col';
}

/** Stride-1 2-D cross-correlation with symmetric zero padding `pad` (PyTorch `conv2d(padding=pad)`). */
export function conv2dRaw(x: np.Array, w: np.Array, pad: number): np.Array {
  if (convImpl() === 'lax') return lax.conv(x, w, [1, 1], [[pad, pad], [pad, pad]]);
  const [N, C, H, W] = x.shape;
  const [O, , kh, kw] = w.shape;
  const Ho = H + 2 * pad - kh + 1;
  const Wo = W + 2 * pad - kw + 1;
  let cols: np.Array;
  if (kh === 1 && kw === 1 && pad === 0) {
    cols = x.transpose([1, 0, 2, 3]).reshape([C, N * H * W]);
  } else {
    const xp = pad > 0 ? np.pad(x, [[0, 0], [0, 0], [pad, pad], [pad, pad]]) : x;
    const taps: np.Array[] = [];
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) taps.push(xp.ref.slice([], [], [i, i + Ho], [j, j + Wo]));
    xp.dispose();
    // [N, C, k², Ho, Wo] → [C·k², N·Ho·Wo], row order (c, i, j) matching weight.reshape([O, C·k²]).
    cols = np.stack(taps, 2).reshape([N, C * kh * kw, Ho * Wo]).transpose([1, 0, 2]).reshape([C * kh * kw, N * Ho * Wo]);
  }
  if (convImpl() === 'bmm') {
    // One matmul per sample with the weight explicitly broadcast: [N, O, K] @ [N, K, Ho·Wo]. Its weight
    // gradient is then N per-sample products summed over N (a split-K reduction), instead of one
    // serial reduction over N·Ho·Wo per weight.
    const perSample = cols.reshape([C * kh * kw, N, Ho * Wo]).transpose([1, 0, 2]);
    const wb = np.broadcastTo(w.reshape([1, O, C * kh * kw]), [N, O, C * kh * kw]);
    return np.matmul(wb, perSample).reshape([N, O, Ho, Wo]);
  }
  // A plain 2-D matmul: jax-js 0.1.25 gives wrong results for a broadcast [O,K] @ [N,K,M] matmul.
  return np.matmul(w.reshape([O, -1]), cols).reshape([O, N, Ho, Wo]).transpose([1, 0, 2, 3]);
}

/** DDPM++'s resampling filter: nearest-neighbour up, 2×2 mean down. */
export const FILTER_BOX: readonly number[] = [1, 1];

const isBox = (f: readonly number[]) => f.length === 2 && f[0] === f[1];

/**
 * One axis of a separable FIR resampling: y[o] = Σ_j w_j·x[s·o + j] over `x` zero-padded by
 * (`left`, `right`) along `axis`, stride `s` ∈ {1, 2}. Shifted slices and adds: no depthwise conv needed.
 */
function firAxis(x: np.Array, axis: number, w: readonly number[], left: number, right: number, stride: 1 | 2): np.Array {
  const pad = x.shape.map((_, i) => (i === axis ? [left, right] : [0, 0]) as [number, number]);
  const xp = left || right ? np.pad(x, pad) : x;
  const n = xp.shape[axis] - w.length + 1;
  let y: np.Array | null = null;
  for (let j = 0; j < w.length; j++) {
    const idx = xp.shape.map((_, i) => (i === axis ? [j, j + n] : [])) as ([number, number] | [])[];
    const t = xp.ref.slice(...idx).mul(w[j]);
    y = y ? y.add(t) : t;
  }
  xp.dispose();
  if (stride === 1) return y!;
  // Keep every other sample: [.., n, ..] → [.., ⌈n/2⌉, 2, ..] (n is odd after a valid stride-2 window).
  const shape = y!.shape;
  const even = n % 2 === 0 ? y! : np.pad(y!, shape.map((_, i) => (i === axis ? [0, 1] : [0, 0]) as [number, number]));
  const half = Math.ceil(n / 2);
  const split = [...shape.slice(0, axis), half, 2, ...shape.slice(axis + 1)];
  const picked = even.reshape(split).slice(...split.map((_, i) => (i === axis + 1 ? 0 : [])) as (number | [])[]);
  return picked;
}

/**
 * 2× upsampling: EDM's depthwise `conv_transpose2d(x, 4·f⊗f/Σf², stride 2, padding (k−1)//2)`.
 * The [1,1] filter is nearest-neighbour (a broadcast); longer ones ([1,3,3,1], NCSN++) insert zeros
 * and filter each axis with 2f/Σf.
 */
export function upsample2x(x: np.Array, filter: readonly number[] = FILTER_BOX): np.Array {
  const [N, C, H, W] = x.shape;
  if (isBox(filter)) return np.broadcastTo(x.reshape([N, C, H, 1, W, 1]), [N, C, H, 2, W, 2]).reshape([N, C, 2 * H, 2 * W]);
  const k = filter.length;
  const p = Math.floor((k - 1) / 2);
  const sum = filter.reduce((a, b) => a + b, 0);
  const w = filter.map((v) => (2 * v) / sum);
  // Zero insertion: x at even positions of a 2H × 2W grid.
  const z = np.pad(x.reshape([N, C, H, 1, W, 1]), [[0, 0], [0, 0], [0, 0], [0, 1], [0, 0], [0, 1]]).reshape([N, C, 2 * H, 2 * W]);
  // Transposed conv = correlation of the zero-inserted input with the flipped filter, padded (k−1−p, p).
  const wf = [...w].reverse();
  return firAxis(firAxis(z, 2, wf, k - 1 - p, p, 1), 3, wf, k - 1 - p, p, 1);
}

/**
 * 2× downsampling: EDM's depthwise stride-2 `conv2d(x, f⊗f/Σf², padding (k−1)//2)` (`pad` overrides the
 * padding: 0 in the fused conv-then-downsample of NCSN++'s residual encoder). [1,1] is 2×2 mean pooling.
 */
export function downsample2x(x: np.Array, filter: readonly number[] = FILTER_BOX, pad?: number): np.Array {
  const [N, C, H, W] = x.shape;
  if (isBox(filter) && !pad) {
    if (H % 2 || W % 2) throw new Error(`downsample2x: spatial size ${H}x${W} is not even`);
    return x.reshape([N, C, H / 2, 2, W / 2, 2]).mean([3, 5]);
  }
  const p = pad ?? Math.floor((filter.length - 1) / 2);
  const sum = filter.reduce((a, b) => a + b, 0);
  const w = filter.map((v) => v / sum);
  return firAxis(firAxis(x, 2, w, p, p, 2), 3, w, p, p, 2);
}

/** Options of `conv2d`: resampling before the conv (EDM `Conv2d`'s up/down, resample_filter, fused_resample). */
export interface Conv2dOpts {
  up?: boolean;
  down?: boolean;
  /** Resampling filter taps (EDM `resample_filter`): [1,1] (DDPM++, ADM) or [1,3,3,1] (NCSN++). */
  filter?: readonly number[];
  /** EDM `fused_resample` (down only): conv with padding k//2 + (f−1)//2 first, then the filter at stride 2, unpadded. */
  fused?: boolean;
}

/**
 * EDM `Conv2d.forward`: optional 2× up/down resampling with `filter`, then a k×k conv with padding k//2
 * when the layer has a weight (`name` null = resample only), plus bias. With `fused` and `down`, the conv
 * runs first at full resolution and the filter then downsamples (EDM's fused path, which differs at the borders).
 */
export function conv2d(params: Params, name: string | null, x: np.Array, { up = false, down = false, filter = FILTER_BOX, fused = false }: Conv2dOpts = {}): np.Array {
  if (fused && down && name !== null) {
    const w = param(params, `${name}.weight`);
    const fPad = Math.floor((filter.length - 1) / 2);
    x = downsample2x(conv2dRaw(x, w, Math.floor(w.shape[3] / 2) + fPad), filter, 0);
    return `${name}.bias` in params ? x.add(param(params, `${name}.bias`).reshape([1, -1, 1, 1])) : x;
  }
  if (fused && up) throw new Error('conv2d: fused upsampling is not implemented (EDM uses it nowhere)');
  if (up) x = upsample2x(x, filter);
  if (down) x = downsample2x(x, filter);
  if (name === null) return x;
  const w = param(params, `${name}.weight`);
  x = conv2dRaw(x, w, Math.floor(w.shape[3] / 2));
  return `${name}.bias` in params ? x.add(param(params, `${name}.bias`).reshape([1, -1, 1, 1])) : x;
}

/** EDM GroupNorm's group count: `min(num_groups, C // min_channels_per_group)`. */
export function groupCount(channels: number, numGroups = 32, minChannelsPerGroup = 4): number {
  const g = Math.min(numGroups, Math.floor(channels / minChannelsPerGroup));
  if (g < 1 || channels % g) throw new Error(`GroupNorm: ${channels} channels cannot form groups of at least ${minChannelsPerGroup}`);
  return g;
}

/** `torch.nn.functional.group_norm`: per-sample, per-group mean/biased variance over (C/G, H, W). */
export function groupNorm(params: Params, name: string, x: np.Array, { eps = 1e-5, numGroups }: { eps?: number; numGroups?: number } = {}): np.Array {
  const shape = x.shape;
  const [N, C] = shape;
  const G = numGroups ?? groupCount(C);
  const xg = x.reshape([N, G, -1]);
  const mean = xg.ref.mean(2, { keepdims: true });
  const xc = xg.sub(mean);
  const variance = np.square(xc.ref).mean(2, { keepdims: true });
  const xn = xc.div(np.sqrt(variance.add(eps))).reshape(shape);
  const bshape = [1, C, ...shape.slice(2).map(() => 1)];
  return xn.mul(param(params, `${name}.weight`).reshape(bshape)).add(param(params, `${name}.bias`).reshape(bshape));
}

/**
 * EDM `PositionalEmbedding`: freqs_i = (1/max_positions)^(i / (C/2 − endpoint)), i < C/2, and
 * [cos(x·freqs), sin(x·freqs)] for x [N] → [N, C].
 */
export function positionalEmbedding(x: np.Array, numChannels: number, { maxPositions = 10000, endpoint = false } = {}): np.Array {
  const half = Math.floor(numChannels / 2);
  const denom = half - (endpoint ? 1 : 0);
  if (denom < 1) throw new Error(`PositionalEmbedding: ${numChannels} channels is too few`);
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.pow(1 / maxPositions, i / denom);
  const arg = x.reshape([-1, 1]).mul(np.array(freqs).reshape([1, half]));
  return np.concatenate([np.cos(arg.ref), np.sin(arg)], 1);
}

/** Inverted dropout (PyTorch semantics: keep with prob 1−p, scale by 1/(1−p)); `key` is explicit. */
export function dropout(x: np.Array, p: number, key: np.Array): np.Array {
  if (p <= 0) {
    key.dispose();
    return x;
  }
  const keep = random.uniform(key, x.shape).greaterEqual(p).astype(np.float32);
  return x.mul(keep).mul(1 / (1 - p));
}

/** Static description of one EDM `UNetBlock` (fields after `eps` default to SongUNet's settings). */
export interface UNetBlockConfig {
  inChannels: number;
  outChannels: number;
  embChannels: number;
  up: boolean;
  down: boolean;
  /** Self-attention after the residual branch (with `numHeads` heads). */
  attention: boolean;
  dropout: number;
  /** SongUNet uses √0.5 so each residual sum keeps unit variance; DhariwalUNet 1. */
  skipScale: number;
  /** GroupNorm eps (SongUNet passes 1e-6, DhariwalUNet keeps 1e-5). */
  eps: number;
  /** Attention heads (SongUNet 1; DhariwalUNet out_channels // 64, where 0 means no attention modules at all). */
  numHeads?: number;
  /** Resampling filter of conv0 and skip when up/down (EDM `resample_filter`). */
  resampleFilter?: readonly number[];
  /** EDM `resample_proj`: a 1×1 skip conv also when only the resolution changes (SongUNet true, DhariwalUNet false). */
  resampleProj?: boolean;
  /** EDM `adaptive_scale`: the embedding gives scale and shift of norm1 (DhariwalUNet) instead of a shift (SongUNet). */
  adaptiveScale?: boolean;
  /** EDM `init`, `init_zero`, `init_attn` of the block's layers. */
  init?: { init: LayerInit; zero: LayerInit; attn: LayerInit };
}

const SONG_BLOCK_INIT = { init: INIT, zero: INIT_ZERO, attn: INIT_ATTN };

/** Attention heads of a block: 0 when it has no attention modules. */
export function blockHeads(c: UNetBlockConfig): number {
  return c.attention ? (c.numHeads ?? 1) : 0;
}

/** Parameters of EDM's `UNetBlock`, in its registration order. */
export function unetBlockSpecs(name: string, c: UNetBlockConfig): ParamSpec[] {
  const init = c.init ?? SONG_BLOCK_INIT;
  const specs: ParamSpec[] = [
    ...groupNormSpecs(`${name}.norm0`, c.inChannels),
    ...conv2dSpecs(`${name}.conv0`, c.inChannels, c.outChannels, 3, init.init),
    ...linearSpecs(`${name}.affine`, c.embChannels, c.outChannels * (c.adaptiveScale ? 2 : 1), init.init),
    ...groupNormSpecs(`${name}.norm1`, c.outChannels),
    // init_zero: the block starts as (almost) the identity, so deep stacks train from the first step.
    ...conv2dSpecs(`${name}.conv1`, c.outChannels, c.outChannels, 3, init.zero),
  ];
  if (skipKernel(c) > 0) specs.push(...conv2dSpecs(`${name}.skip`, c.inChannels, c.outChannels, 1, init.init));
  if (blockHeads(c) > 0) {
    specs.push(
      ...groupNormSpecs(`${name}.norm2`, c.outChannels),
      ...conv2dSpecs(`${name}.qkv`, c.outChannels, c.outChannels * 3, 1, init.attn),
      ...conv2dSpecs(`${name}.proj`, c.outChannels, c.outChannels, 1, init.zero),
    );
  }
  return specs;
}

/**
 * EDM's skip path: none (identity) when channels and resolution stay; else a 1×1 conv when channels
 * change or `resampleProj`, else (kernel 0) the resampling alone. Returns −1 for none, else the kernel.
 */
export function skipKernel(c: UNetBlockConfig): number {
  if (c.outChannels === c.inChannels && !c.up && !c.down) return -1;
  return (c.resampleProj ?? true) || c.outChannels !== c.inChannels ? 1 : 0;
}

/**
 * Multi-head attention of EDM's UNetBlock. `qkv(x)` has 3C channels; PyTorch reshapes them to
 * [N·heads, C/heads, 3, HW] and unbinds dim 2, so within each head q, k, v are the channels ≡ 0, 1, 2
 * (mod 3). w = softmax_k(qᵀk/√(C/heads)), a = v·wᵀ.
 */
export function selfAttention(qkv: np.Array, numHeads = 1): np.Array {
  const [N, C3, H, W] = qkv.shape;
  const C = C3 / 3;
  const ch = C / numHeads;
  const t = qkv.reshape([N * numHeads, ch, 3, H * W]);
  const q = t.ref.slice([], [], 0, []);
  const k = t.ref.slice([], [], 1, []).mul(1 / Math.sqrt(ch));
  const v = t.slice([], [], 2, []);
  const logits = np.matmul(q.transpose([0, 2, 1]), k); // [N·heads, HWq, HWk]
  const w = nn.softmax(logits, 2);
  return np.matmul(v, w.transpose([0, 2, 1])).reshape([N, C, H, W]); // [N·heads, ch, HWq]
}

/**
 * EDM `UNetBlock.forward`:
 *   h = conv0(silu(norm0(x)))   (resampled first when up/down)
 *   adaptive_scale: h = silu(shift + norm1(h)·(scale + 1)), [scale, shift] = affine(emb)
 *   else:           h = silu(norm1(h + affine(emb)))
 *   h = conv1(dropout(h));  x = (h + skip(x)) · skip_scale;  [attention]  x = (proj(attn(qkv(norm2(x)))) + x) · skip_scale
 * `key` (consumed) drives dropout when `train`.
 */
export function unetBlock(params: Params, name: string, c: UNetBlockConfig, x: np.Array, emb: np.Array, { key, train = false }: NetOpts = {}): np.Array {
  const orig = x;
  const rs = { up: c.up, down: c.down, filter: c.resampleFilter ?? FILTER_BOX };
  let h = conv2d(params, `${name}.conv0`, silu(groupNorm(params, `${name}.norm0`, orig.ref, { eps: c.eps })), rs);
  const affine = linear(params, `${name}.affine`, emb);
  if (c.adaptiveScale) {
    const a = affine.reshape([-1, 2 * c.outChannels, 1, 1]);
    const scale = a.ref.slice([], [0, c.outChannels]);
    const shift = a.slice([], [c.outChannels, 2 * c.outChannels]);
    h = silu(groupNorm(params, `${name}.norm1`, h, { eps: c.eps }).mul(scale.add(1)).add(shift));
  } else {
    h = silu(groupNorm(params, `${name}.norm1`, h.add(affine.reshape([-1, c.outChannels, 1, 1])), { eps: c.eps }));
  }
  if (train && c.dropout > 0) {
    if (!key) throw new Error(`${name}: dropout in training needs a key`);
    h = dropout(h, c.dropout, key);
  } else key?.dispose();
  h = conv2d(params, `${name}.conv1`, h);
  const sk = skipKernel(c);
  const skip = sk < 0 ? orig : conv2d(params, sk > 0 ? `${name}.skip` : null, orig, rs);
  let out = h.add(skip).mul(c.skipScale);
  const heads = blockHeads(c);
  if (heads > 0) {
    const qkv = conv2d(params, `${name}.qkv`, groupNorm(params, `${name}.norm2`, out.ref, { eps: c.eps }));
    out = conv2d(params, `${name}.proj`, selfAttention(qkv, heads)).add(out).mul(c.skipScale);
  }
  return out;
}

/** What the U-Net forwards (SongUNet, DhariwalUNet) share: the input check and the dropout keys. */
export interface UNetCall {
  train: boolean;
  /** The next block's dropout key (label dropout takes the first), or undefined when not training with dropout. */
  takeKey: () => np.Array | undefined;
  /** Frees the split keys. */
  dispose: () => void;
}

/**
 * Checks x is [N, inChannels, R, R] and splits `opts.key` into one key per block plus one for label
 * dropout when training with dropout (the key is consumed either way). `what` names the network in errors.
 */
export function unetCall(
  what: string,
  cfg: { inChannels: number; imgResolution: number; dropout: number; labelDropout: number; labelDim: number },
  x: np.Array,
  blocks: number,
  opts: NetOpts,
): UNetCall {
  if (x.ndim !== 4 || x.shape[1] !== cfg.inChannels || x.shape[2] !== cfg.imgResolution || x.shape[3] !== cfg.imgResolution) {
    throw new Error(`${what}: input shape [${x.shape}] does not match [N, ${cfg.inChannels}, ${cfg.imgResolution}, ${cfg.imgResolution}]`);
  }
  const train = opts.train ?? false;
  const needKeys = train && (cfg.dropout > 0 || (cfg.labelDropout > 0 && cfg.labelDim > 0));
  if (needKeys && !opts.key) throw new Error(`${what}: training with dropout needs a key`);
  const keys = needKeys ? random.split(opts.key!, blocks + 1) : null;
  if (!needKeys) opts.key?.dispose();
  let next = 0;
  return { train, takeKey: () => (keys ? keys.ref.slice(next++) : undefined), dispose: () => keys?.dispose() };
}

/** EDM's label dropout: zeroes each row of `labels` [N, L] with probability p when training (key consumed). */
export function dropLabels(labels: np.Array, p: number, train: boolean, key: np.Array | undefined): np.Array {
  if (!(train && p > 0)) {
    key?.dispose();
    return labels;
  }
  const keep = random.uniform(key!, [labels.shape[0], 1]).greaterEqual(p).astype(np.float32);
  return labels.mul(keep);
}
