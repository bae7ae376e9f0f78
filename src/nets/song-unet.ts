/**
 * SongUNet (the DDPM++ architecture of Song et al. 2021 as reimplemented in NVlabs/edm
 * training/networks.py, `SongUNet`, with embedding 'positional', encoder and decoder 'standard') as a
 * pure function `songUNet(cfg, params, x, noiseLabels, classLabels) → F(x)`.
 *
 * Parameter names equal the PyTorch module paths of EDM's SongUNet (`map_label.weight`,
 * `map_layer0.weight`, `enc.28x28_conv.weight`, `enc.14x14_down.conv0.weight`,
 * `dec.28x28_aux_conv.weight`, …), so an EDM state_dict converts 1:1 (docs/convert-edm-checkpoint.md).
 * The raw network sees c_noise (src/edm/precond.ts), never σ.
 */
import { numpy as np, random, tree } from '@jax-js/jax';
import {
  conv2d,
  conv2dSpecs,
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
  /** Noise-embedding size multiplier: 1 for DDPM++. */
  channelMultNoise: number;
  /** Resampling filter; only DDPM++'s [1,1] (nearest up, 2×2 mean down) is supported. */
  resampleFilter: [1, 1];
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
  channelMultNoise: 1,
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
  if (!(cfg.resampleFilter.length === 2 && cfg.resampleFilter[0] === 1 && cfg.resampleFilter[1] === 1)) {
    throw new Error(`SongUNet: resampleFilter ${JSON.stringify(cfg.resampleFilter)} is not supported (only [1,1])`);
  }
  if (cfg.modelChannels < 4 || cfg.numBlocks < 1) throw new Error('SongUNet: modelChannels must be >= 4 and numBlocks >= 1');
  for (const [k, v] of [['dropout', cfg.dropout], ['labelDropout', cfg.labelDropout]] as const) {
    if (!(v >= 0 && v < 1)) throw new Error(`SongUNet: ${k} ${v} is not in [0, 1)`);
  }
}

type Layer =
  | { kind: 'conv'; name: string; cin: number; cout: number; init: typeof INIT }
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
    ...extra,
  });
  const enc: Layer[] = [];
  const skips: number[] = [];
  let cout = cfg.inChannels;
  cfg.channelMult.forEach((mult, level) => {
    const res = cfg.imgResolution >> level;
    const at = `enc.${res}x${res}`;
    if (level === 0) {
      const cin = cout;
      cout = cfg.modelChannels;
      enc.push({ kind: 'conv', name: `${at}_conv`, cin, cout, init: INIT });
    } else {
      enc.push({ kind: 'block', name: `${at}_down`, block: blk(cout, cout, { down: true }), concatSkip: false });
    }
    skips.push(cout);
    for (let idx = 0; idx < cfg.numBlocks; idx++) {
      const cin = cout;
      cout = cfg.modelChannels * mult;
      enc.push({ kind: 'block', name: `${at}_block${idx}`, block: blk(cin, cout, { attention: cfg.attnResolutions.includes(res) }), concatSkip: false });
      skips.push(cout);
    }
  });
  const dec: Layer[] = [];
  for (let level = cfg.channelMult.length - 1; level >= 0; level--) {
    const mult = cfg.channelMult[level];
    const res = cfg.imgResolution >> level;
    const at = `dec.${res}x${res}`;
    if (level === cfg.channelMult.length - 1) {
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
    if (level === 0) {
      dec.push({ kind: 'norm', name: `${at}_aux_norm`, channels: cout });
      dec.push({ kind: 'conv', name: `${at}_aux_conv`, cin: cout, cout: cfg.outChannels, init: INIT_ZERO });
    }
  }
  return { embChannels, noiseChannels, enc, dec };
}

/** Every parameter of SongUNet with EDM's name, shape and init, in state_dict order. */
export function songUNetSpecs(cfg: SongUNetConfig): ParamSpec[] {
  const p = plan(cfg);
  const specs: ParamSpec[] = [];
  if (cfg.labelDim) specs.push(...linearSpecs('map_label', cfg.labelDim, p.noiseChannels, INIT));
  specs.push(...linearSpecs('map_layer0', p.noiseChannels, p.embChannels, INIT));
  specs.push(...linearSpecs('map_layer1', p.embChannels, p.embChannels, INIT));
  for (const l of [...p.enc, ...p.dec]) {
    if (l.kind === 'conv') specs.push(...conv2dSpecs(l.name, l.cin, l.cout, 3, l.init));
    else if (l.kind === 'norm') specs.push(...groupNormSpecs(l.name, l.channels));
    else specs.push(...unetBlockSpecs(l.name, l.block));
  }
  return specs;
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
    if (x.ndim !== 4 || x.shape[1] !== cfg.inChannels || x.shape[2] !== cfg.imgResolution || x.shape[3] !== cfg.imgResolution) {
      throw new Error(`SongUNet: input shape [${x.shape}] does not match [N, ${cfg.inChannels}, ${cfg.imgResolution}, ${cfg.imgResolution}]`);
    }
    const train = opts.train ?? false;
    const blocks = [...p.enc, ...p.dec].filter((l) => l.kind === 'block');
    const needKeys = train && (cfg.dropout > 0 || (cfg.labelDropout > 0 && cfg.labelDim > 0));
    if (needKeys && !opts.key) throw new Error('SongUNet: training with dropout needs a key');
    const keys = needKeys ? random.split(opts.key!, blocks.length + 1) : null;
    if (!needKeys) opts.key?.dispose();
    let nextKey = 0;
    const takeKey = () => (keys ? keys.ref.slice(nextKey++) : undefined);

    // Mapping: positional embedding of c_noise, sin/cos halves swapped as in EDM.
    let emb = positionalEmbedding(noiseLabels, p.noiseChannels, { endpoint: true });
    const half = p.noiseChannels / 2;
    emb = np.concatenate([emb.ref.slice([], [half]), emb.slice([], [0, half])], 1);
    if (cfg.labelDim) {
      let labels = classLabels ?? np.zeros([N, cfg.labelDim]);
      classLabels = null;
      const labelKey = takeKey();
      if (train && cfg.labelDropout > 0) {
        const keep = random.uniform(labelKey!, [N, 1]).greaterEqual(cfg.labelDropout).astype(np.float32);
        labels = labels.mul(keep);
      } else labelKey?.dispose();
      emb = emb.add(linear(params, 'map_label', labels.mul(Math.sqrt(cfg.labelDim))));
    } else {
      classLabels?.dispose();
      takeKey()?.dispose();
    }
    emb = silu(linear(params, 'map_layer0', emb));
    emb = silu(linear(params, 'map_layer1', emb));

    // Encoder: every output is kept as a skip connection.
    const skips: np.Array[] = [];
    let h = x;
    for (const l of p.enc) {
      if (l.kind === 'conv') h = conv2d(params, l.name, h);
      else if (l.kind === 'block') h = unetBlock(params, l.name, l.block, h, emb.ref, { key: takeKey(), train });
      skips.push(h.ref);
    }

    // Decoder: blocks whose input is wider than the running activation take the next skip.
    let aux: np.Array | null = null;
    for (const l of p.dec) {
      if (l.kind === 'norm') aux = groupNorm(params, l.name, h.ref, { eps: 1e-6 });
      else if (l.kind === 'conv') aux = conv2d(params, l.name, silu(aux!));
      else {
        if (l.concatSkip) h = np.concatenate([h, skips.pop()!], 1);
        h = unetBlock(params, l.name, l.block, h, emb.ref, { key: takeKey(), train });
      }
    }
    h.dispose();
    emb.dispose();
    keys?.dispose();
    for (const s of skips) s.dispose();
    return aux!;
  } finally {
    tree.dispose(params);
  }
}
