/**
 * SongUNet (the DDPM++ and NCSN++ architectures of Song et al. 2021 as reimplemented in NVlabs/edm
 * training/networks.py, `SongUNet`: positional or Fourier noise embedding, standard/skip/residual
 * encoder, standard/skip decoder, [1,1] or [1,3,3,1] resampling) as a pure function
 * `songUNet(cfg, params, x, noiseLabels, classLabels) → F(x)`.
 *
 * Parameter names equal the PyTorch module paths of EDM's SongUNet (`map_label.weight`,
 * `map_layer0.weight`, `enc.28x28_conv.weight`, `enc.14x14_down.conv0.weight`,
 * `dec.28x28_aux_conv.weight`, …), so an EDM state_dict converts 1:1 (docs/convert-edm-checkpoint.md).
 * NCSN++'s random Fourier frequencies (an EDM buffer, `map_noise.freqs`) are a parameter here that the
 * forward pass reads through `stopGradient`, so training never moves them.
 * The raw network sees c_noise (src/edm/precond.ts), never σ.
 */
import { lax, numpy as np, tree } from '@jax-js/jax';
import {
  conv2d,
  conv2dSpecs,
  dropLabels,
  unetCall,
  groupNorm,
  groupNormSpecs,
  INIT,
  INIT_ZERO,
  initParams,
  linear,
  linearSpecs,
  positionalEmbedding,
  silu,
  specCount,
  specShapes,
  unetBlock,
  unetBlockSpecs,
  type NetOpts,
  type ParamSpec,
  type Params,
  type UNetBlockConfig,
} from './layers.js';

export interface SongUNetConfig {
  /** Image resolution at input and output (28 for Fashion-MNIST, 32 for CIFAR-10). */
  imgResolution: number;
  /** Colour channels at input. */
  inChannels: number;
  /** Colour channels at output. */
  outChannels: number;
  /** Number of class labels; 0 = unconditional. */
  labelDim: number;
  /** Base multiplier for the number of channels. */
  modelChannels: number;
  /** Per-resolution channel multipliers; level l runs at imgResolution / 2^l. */
  channelMult: number[];
  /** Multiplier for the dimensionality of the embedding vector. */
  channelMultEmb: number;
  /** Residual blocks per resolution. */
  numBlocks: number;
  /** Resolutions with self-attention (the lowest decoder level always has one, as in EDM). */
  attnResolutions: number[];
  /** Dropout probability of intermediate activations (training only). */
  dropout: number;
  /** Probability of dropping the class label (classifier-free guidance training). */
  labelDropout: number;
  /** Noise-embedding size multiplier: 1 for DDPM++, 2 for NCSN++. */
  channelMultNoise: number;
  /** Resampling filter: [1,1] for DDPM++ (nearest up, 2×2 mean down), [1,3,3,1] for NCSN++. */
  resampleFilter: number[];
  /** Augmentation-label dimensionality (EDM's `map_augment`, 9 on CIFAR-10); 0 = none. Sampling passes no augment labels. */
  augmentDim: number;
  /** Noise embedding: 'positional' for DDPM++, 'fourier' (random frequencies, `map_noise.freqs`) for NCSN++. */
  embeddingType: 'positional' | 'fourier';
  /** Encoder: 'standard' for DDPM++, 'residual' for NCSN++ (a downsampled input path added at each level), or 'skip'. */
  encoderType: 'standard' | 'skip' | 'residual';
  /** Decoder: 'standard' (one output conv at full resolution) or 'skip' (an output conv per level, upsampled and summed). */
  decoderType: 'standard' | 'skip';
}

/** The architecture fields added after the first checkpoints were written, with the values those checkpoints used (DDPM++). */
export const SONG_UNET_ARCH_DEFAULTS = {
  channelMultNoise: 1,
  resampleFilter: [1, 1],
  augmentDim: 0,
  embeddingType: 'positional',
  encoderType: 'standard',
  decoderType: 'standard',
} as const satisfies Partial<SongUNetConfig>;

/** A stored config with the architecture fields it predates filled in (DDPM++): older checkpoints load unchanged. */
export function withSongUNetDefaults(cfg: Partial<SongUNetConfig>): SongUNetConfig {
  const out = { ...SONG_UNET_ARCH_DEFAULTS, ...cfg } as SongUNetConfig;
  out.resampleFilter = [...out.resampleFilter];
  return out;
}

/** EDM's SongUNet defaults (CIFAR-10 DDPM++), for the fields a preset does not set. */
export const SONG_UNET_DEFAULTS: Omit<SongUNetConfig, 'imgResolution' | 'inChannels' | 'outChannels' | 'labelDim'> = {
  modelChannels: 128,
  channelMult: [1, 2, 2, 2],
  channelMultEmb: 4,
  numBlocks: 4,
  attnResolutions: [16],
  dropout: 0.1,
  labelDropout: 0,
  ...SONG_UNET_ARCH_DEFAULTS,
  resampleFilter: [1, 1],
};

/**
 * Named architectures for 28×28 data. Measured on this project's 2-core CPU (Wasm, im2col conv),
 * batch 8, forward+backward of the EDM loss: see `benchmarks` in the teacher report / tests.
 */
export type SongUNetPreset = 'fmnist-small' | 'fmnist-base' | 'tiny';
export const SONG_UNET_PRESETS: Record<SongUNetPreset, Pick<SongUNetConfig, 'modelChannels' | 'channelMult' | 'channelMultEmb' | 'numBlocks' | 'attnResolutions' | 'dropout'>> = {
  /** 32 channels, levels 28/14/7, one block per level, attention only where EDM forces it (dec 7x7_in0). */
  'fmnist-small': { modelChannels: 32, channelMult: [1, 2, 2], channelMultEmb: 4, numBlocks: 1, attnResolutions: [], dropout: 0.1 },
  /** 64 channels, two blocks per level, attention at 7×7. */
  'fmnist-base': { modelChannels: 64, channelMult: [1, 2, 2], channelMultEmb: 4, numBlocks: 2, attnResolutions: [7], dropout: 0.1 },
  /** A few thousand parameters: tests and smoke runs only. */
  tiny: { modelChannels: 8, channelMult: [1, 2], channelMultEmb: 2, numBlocks: 1, attnResolutions: [], dropout: 0 },
};

/** Full config from a preset plus data facts (resolution, channels, labels) and overrides. */
export function songUNetConfig(
  preset: SongUNetPreset,
  data: { imgResolution: number; channels: number; labelDim: number },
  overrides: Partial<SongUNetConfig> = {},
): SongUNetConfig {
  const p = SONG_UNET_PRESETS[preset];
  if (!p) throw new Error(`unknown SongUNet preset '${preset}' (known: ${Object.keys(SONG_UNET_PRESETS).join(', ')})`);
  const cfg: SongUNetConfig = {
    ...SONG_UNET_DEFAULTS,
    ...p,
    channelMult: [...p.channelMult],
    attnResolutions: [...p.attnResolutions],
    imgResolution: data.imgResolution,
    inChannels: data.channels,
    outChannels: data.channels,
    labelDim: data.labelDim,
  };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (cfg as any)[k] = v;
  validateSongUNetConfig(cfg);
  return cfg;
}

/** Throws a one-line error for a config EDM's constructor would reject or that cannot run here. */
export function validateSongUNetConfig(cfg: SongUNetConfig): void {
  const levels = cfg.channelMult.length;
  if (levels < 1) throw new Error('SongUNet: channelMult must have at least one level');
  if (cfg.imgResolution % 2 ** (levels - 1) !== 0) {
    throw new Error(`SongUNet: resolution ${cfg.imgResolution} is not divisible by 2^${levels - 1} (channelMult has ${levels} levels)`);
  }
  const f = cfg.resampleFilter;
  if (!Array.isArray(f) || f.length < 2 || f.length % 2 || !f.every((v) => v > 0) || f.some((v, i) => v !== f[f.length - 1 - i])) {
    throw new Error(`SongUNet: resampleFilter ${JSON.stringify(f)} is not supported (an even-length symmetric positive filter such as [1,1] or [1,3,3,1])`);
  }
  if (!['positional', 'fourier'].includes(cfg.embeddingType)) throw new Error(`SongUNet: embeddingType '${cfg.embeddingType}' is not positional or fourier`);
  if (!['standard', 'skip', 'residual'].includes(cfg.encoderType)) throw new Error(`SongUNet: encoderType '${cfg.encoderType}' is not standard, skip or residual`);
  if (!['standard', 'skip'].includes(cfg.decoderType)) throw new Error(`SongUNet: decoderType '${cfg.decoderType}' is not standard or skip`);
  if (!(Number.isInteger(cfg.augmentDim) && cfg.augmentDim >= 0)) throw new Error(`SongUNet: augmentDim ${cfg.augmentDim} is not a non-negative integer`);
  if ((cfg.modelChannels * cfg.channelMultNoise) % 2) throw new Error('SongUNet: the noise embedding (modelChannels · channelMultNoise) needs an even size');
  if (cfg.modelChannels < 4 || cfg.numBlocks < 1) throw new Error('SongUNet: modelChannels must be >= 4 and numBlocks >= 1');
  for (const [k, v] of [['dropout', cfg.dropout], ['labelDropout', cfg.labelDropout]] as const) {
    if (!(v >= 0 && v < 1)) throw new Error(`SongUNet: ${k} ${v} is not in [0, 1)`);
  }
}

type Layer =
  | { kind: 'conv'; name: string; cin: number; cout: number; kernel: number; init: typeof INIT; down?: boolean; up?: boolean; fused?: boolean }
  | { kind: 'block'; name: string; block: UNetBlockConfig; concatSkip: boolean }
  | { kind: 'norm'; name: string; channels: number };

interface Plan {
  embChannels: number;
  noiseChannels: number;
  enc: Layer[];
  dec: Layer[];
}

/** The module list of EDM's SongUNet.__init__, in registration order (= state_dict order). */
function plan(cfg: SongUNetConfig): Plan {
  validateSongUNetConfig(cfg);
  const embChannels = cfg.modelChannels * cfg.channelMultEmb;
  const noiseChannels = cfg.modelChannels * cfg.channelMultNoise;
  const blk = (cin: number, cout: number, extra: Partial<UNetBlockConfig> = {}): UNetBlockConfig => ({
    inChannels: cin,
    outChannels: cout,
    embChannels,
    up: false,
    down: false,
    attention: false,
    dropout: cfg.dropout,
    skipScale: Math.SQRT1_2,
    eps: 1e-6,
    resampleFilter: cfg.resampleFilter,
    ...extra,
  });
  const enc: Layer[] = [];
  const skips: number[] = [];
  let cout = cfg.inChannels;
  let caux = cfg.inChannels;
  cfg.channelMult.forEach((mult, level) => {
    const res = cfg.imgResolution >> level;
    const at = `enc.${res}x${res}`;
    if (level === 0) {
      const cin = cout;
      cout = cfg.modelChannels;
      enc.push({ kind: 'conv', name: `${at}_conv`, cin, cout, kernel: 3, init: INIT });
      skips.push(cout);
    } else {
      enc.push({ kind: 'block', name: `${at}_down`, block: blk(cout, cout, { down: true }), concatSkip: false });
      skips.push(cout);
      if (cfg.encoderType === 'skip') {
        enc.push({ kind: 'conv', name: `${at}_aux_down`, cin: caux, cout: caux, kernel: 0, init: INIT, down: true });
        enc.push({ kind: 'conv', name: `${at}_aux_skip`, cin: caux, cout, kernel: 1, init: INIT });
      }
      if (cfg.encoderType === 'residual') {
        enc.push({ kind: 'conv', name: `${at}_aux_residual`, cin: caux, cout, kernel: 3, init: INIT, down: true, fused: true });
        caux = cout;
      }
    }
    for (let idx = 0; idx < cfg.numBlocks; idx++) {
      const cin = cout;
      cout = cfg.modelChannels * mult;
      enc.push({ kind: 'block', name: `${at}_block${idx}`, block: blk(cin, cout, { attention: cfg.attnResolutions.includes(res) }), concatSkip: false });
      skips.push(cout);
    }
  });
  const dec: Layer[] = [];
  const top = cfg.channelMult.length - 1;
  for (let level = top; level >= 0; level--) {
    const mult = cfg.channelMult[level];
    const res = cfg.imgResolution >> level;
    const at = `dec.${res}x${res}`;
    if (level === top) {
      dec.push({ kind: 'block', name: `${at}_in0`, block: blk(cout, cout, { attention: true }), concatSkip: false });
      dec.push({ kind: 'block', name: `${at}_in1`, block: blk(cout, cout), concatSkip: false });
    } else {
      dec.push({ kind: 'block', name: `${at}_up`, block: blk(cout, cout, { up: true }), concatSkip: false });
    }
    for (let idx = 0; idx <= cfg.numBlocks; idx++) {
      const cin = cout + skips.pop()!;
      cout = cfg.modelChannels * mult;
      const attention = idx === cfg.numBlocks && cfg.attnResolutions.includes(res);
      dec.push({ kind: 'block', name: `${at}_block${idx}`, block: blk(cin, cout, { attention }), concatSkip: true });
    }
    if (cfg.decoderType === 'skip' || level === 0) {
      if (cfg.decoderType === 'skip' && level < top) {
        dec.push({ kind: 'conv', name: `${at}_aux_up`, cin: cfg.outChannels, cout: cfg.outChannels, kernel: 0, init: INIT, up: true });
      }
      dec.push({ kind: 'norm', name: `${at}_aux_norm`, channels: cout });
      dec.push({ kind: 'conv', name: `${at}_aux_conv`, cin: cout, cout: cfg.outChannels, kernel: 3, init: INIT_ZERO });
    }
  }
  return { embChannels, noiseChannels, enc, dec };
}

/** Every parameter of SongUNet with EDM's name, shape and init, in state_dict order. */
export function songUNetSpecs(cfg: SongUNetConfig): ParamSpec[] {
  const p = plan(cfg);
  const specs: ParamSpec[] = [];
  // FourierEmbedding's buffer: freqs ~ N(0, 16²) (EDM `scale=16`), drawn once and never trained.
  if (cfg.embeddingType === 'fourier') specs.push({ name: 'map_noise.freqs', shape: [p.noiseChannels / 2], init: { kind: 'random', mode: 'kaiming_normal', fanIn: 1, fanOut: 1, gain: 16 } });
  if (cfg.labelDim) specs.push(...linearSpecs('map_label', cfg.labelDim, p.noiseChannels, INIT));
  if (cfg.augmentDim) specs.push(...linearSpecs('map_augment', cfg.augmentDim, p.noiseChannels, INIT, false));
  specs.push(...linearSpecs('map_layer0', p.noiseChannels, p.embChannels, INIT));
  specs.push(...linearSpecs('map_layer1', p.embChannels, p.embChannels, INIT));
  for (const l of [...p.enc, ...p.dec]) {
    if (l.kind === 'conv') {
      if (l.kernel > 0) specs.push(...conv2dSpecs(l.name, l.cin, l.cout, l.kernel, l.init));
    } else if (l.kind === 'norm') specs.push(...groupNormSpecs(l.name, l.channels));
    else specs.push(...unetBlockSpecs(l.name, l.block));
  }
  return specs;
}

/**
 * EDM's constant buffers of this SongUNet that are not parameters here: each resampling Conv2d's
 * `resample_filter` (f⊗f/Σf², [1,1,k,k]), in state_dict order. The EDM exporter writes them so that
 * `load_state_dict(strict=True)` accepts the file.
 */
export function songUNetBuffers(cfg: SongUNetConfig): Record<string, { shape: number[]; data: Float32Array }> {
  const p = plan(cfg);
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  const filt = resampleFilterBuffer(cfg.resampleFilter);
  for (const l of [...p.enc, ...p.dec]) {
    if (l.kind === 'conv' && (l.up || l.down)) out[`${l.name}.resample_filter`] = filt;
    if (l.kind === 'block' && (l.block.up || l.block.down)) {
      out[`${l.name}.conv0.resample_filter`] = filt;
      out[`${l.name}.skip.resample_filter`] = filt;
    }
  }
  return out;
}

/** EDM `Conv2d`'s `resample_filter` buffer: f⊗f / (Σf)², shape [1, 1, k, k]. */
export function resampleFilterBuffer(f: readonly number[]): { shape: number[]; data: Float32Array } {
  const k = f.length;
  const s2 = f.reduce((a, b) => a + b, 0) ** 2;
  const data = new Float32Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) data[i * k + j] = (f[i] * f[j]) / s2;
  return { shape: [1, 1, k, k], data };
}

/** `{name: shape}` a SongUNet checkpoint with this config must have. */
export const songUNetShapes = (cfg: SongUNetConfig): Record<string, number[]> => specShapes(songUNetSpecs(cfg));

/** Number of trainable scalars. */
export const songUNetParamCount = (cfg: SongUNetConfig): number => specCount(songUNetSpecs(cfg));

/** EDM's initialisation of SongUNet. Consumes `key`. */
export function initSongUNet(key: np.Array, cfg: SongUNetConfig): Params {
  return initParams(key, songUNetSpecs(cfg));
}

/**
 * EDM `SongUNet.forward`. x [N, inChannels, R, R], noiseLabels [N] (c_noise), classLabels [N, labelDim]
 * one-hot or null; returns F(x) [N, outChannels, R, R]. Consumes every argument (params included: it
 * takes `.ref`s per layer and disposes the tree at the end; pass `tree.ref(params)` to keep it).
 * With `train`, dropout and label dropout draw from `key`.
 */
export function songUNet(cfg: SongUNetConfig, params: Params, x: np.Array, noiseLabels: np.Array, classLabels: np.Array | null, opts: NetOpts = {}): np.Array {
  try {
    const p = plan(cfg);
    const N = x.shape[0];
    const call = unetCall('SongUNet', cfg, x, [...p.enc, ...p.dec].filter((l) => l.kind === 'block').length, opts);
    const { train, takeKey } = call;

    // Mapping: positional or Fourier embedding of c_noise, sin/cos halves swapped as in EDM.
    let emb: np.Array;
    if (cfg.embeddingType === 'fourier') {
      const freqs = lax.stopGradient(params['map_noise.freqs']?.ref ?? missing('map_noise.freqs'));
      const arg = fourierTurns(noiseLabels, freqs).mul(2 * Math.PI);
      emb = np.concatenate([np.cos(arg.ref), np.sin(arg)], 1);
    } else emb = positionalEmbedding(noiseLabels, p.noiseChannels, { endpoint: true });
    const half = p.noiseChannels / 2;
    emb = np.concatenate([emb.ref.slice([], [half]), emb.slice([], [0, half])], 1);
    if (cfg.labelDim) {
      const labels = dropLabels(classLabels ?? np.zeros([N, cfg.labelDim]), cfg.labelDropout, train, takeKey());
      classLabels = null;
      emb = emb.add(linear(params, 'map_label', labels.mul(Math.sqrt(cfg.labelDim))));
    } else {
      classLabels?.dispose();
      takeKey()?.dispose();
    }
    // map_augment: EDM adds it only when augment labels are passed, which sampling never does.
    emb = silu(linear(params, 'map_layer0', emb));
    emb = silu(linear(params, 'map_layer1', emb));

    // Encoder: every block output is kept as a skip connection; the aux layers carry a resampled input
    // path ('skip': added; 'residual': added and carried on, /√2) that replaces the last skip.
    const skips: np.Array[] = [];
    let h = x;
    let aux = h.ref;
    const filter = cfg.resampleFilter;
    for (const l of p.enc) {
      if (l.kind === 'conv' && l.name.endsWith('_aux_down')) aux = conv2d(params, null, aux, { down: true, filter });
      else if (l.kind === 'conv' && l.name.endsWith('_aux_skip')) {
        h = h.add(conv2d(params, l.name, aux.ref));
        skips.pop()!.dispose();
        skips.push(h.ref);
      } else if (l.kind === 'conv' && l.name.endsWith('_aux_residual')) {
        h = h.add(conv2d(params, l.name, aux, { down: true, filter, fused: true })).mul(Math.SQRT1_2);
        aux = h.ref;
        skips.pop()!.dispose();
        skips.push(h.ref);
      } else {
        if (l.kind === 'conv') h = conv2d(params, l.name, h);
        else if (l.kind === 'block') h = unetBlock(params, l.name, l.block, h, emb.ref, { key: takeKey(), train });
        skips.push(h.ref);
      }
    }
    aux.dispose();

    // Decoder: blocks whose input is wider than the running activation take the next skip; the output
    // is the sum of the aux convs (one at level 0, or one per level for the 'skip' decoder, upsampled).
    let out: np.Array | null = null;
    let tmp: np.Array | null = null;
    for (const l of p.dec) {
      if (l.kind === 'norm') tmp = groupNorm(params, l.name, h.ref, { eps: 1e-6 });
      else if (l.kind === 'conv' && l.name.endsWith('_aux_up')) out = conv2d(params, null, out!, { up: true, filter });
      else if (l.kind === 'conv') {
        const t = conv2d(params, l.name, silu(tmp!));
        tmp = null;
        out = out ? t.add(out) : t;
      } else {
        if (l.concatSkip) h = np.concatenate([h, skips.pop()!], 1);
        h = unetBlock(params, l.name, l.block, h, emb.ref, { key: takeKey(), train });
      }
    }
    h.dispose();
    emb.dispose();
    call.dispose();
    for (const s of skips) s.dispose();
    return out!;
  } finally {
    tree.dispose(params);
  }
}

/**
 * c·f mod 1 for c [N] and f [F] → [N, F], without float32's loss on large products: NCSN++ feeds
 * cos/sin with 2π·c·f up to ~10³ rad (|c| = |ln(σ/2)| ≤ 4, f ~ N(0, 16²)), where one float32 product
 * and the sin/cos range reduction each cost ~1e-4 rad. Split c = c₁ + c₂ (c₁ a multiple of 2⁻⁸) and
 * f = f₁ + f₂ (f₁ a multiple of 2⁻⁶): c₁·f₁ is then exact in float32 (≤ 23 bits) and reduced mod 1
 * exactly; the cross terms are small, so their rounding is too.
 */
function fourierTurns(c: np.Array, f: np.Array): np.Array {
  const c1 = np.round(c.ref.mul(256)).mul(1 / 256);
  const f1 = np.round(f.ref.mul(64)).mul(1 / 64);
  const c2 = c.sub(c1.ref).reshape([-1, 1]);
  const f2 = f.sub(f1.ref).reshape([1, -1]);
  const big = c1.ref.reshape([-1, 1]).mul(f1.ref.reshape([1, -1]));
  const whole = big.ref.sub(np.floor(big));
  const small = c1.reshape([-1, 1]).mul(f2.ref).add(c2.ref.mul(f1.reshape([1, -1]))).add(c2.mul(f2));
  return whole.add(small);
}

function missing(name: string): never {
  throw new Error(`missing parameter '${name}'`);
}
