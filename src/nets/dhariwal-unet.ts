/**
 * DhariwalUNet: the ADM architecture of Dhariwal & Nichol 2021 ("Diffusion Models Beat GANs on Image
 * Synthesis") as reimplemented in NVlabs/edm training/networks.py (`DhariwalUNet`, EDM's ImageNet-64
 * network), as a pure function `dhariwalUNet(cfg, params, x, noiseLabels, classLabels) → F(x)`.
 *
 * Against SongUNet it differs in: the positional embedding (no endpoint, no sin/cos swap) and a label
 * embedding added after the mapping MLP (no bias, no √labelDim scaling of the input); blocks with
 * adaptive scale (norm1's scale and shift from the embedding), skip scale 1, GroupNorm eps 1e-5, a
 * plain resampling skip when channels stay, and attention with out_channels/64 heads (none below 64
 * channels: EDM then builds no attention modules); attention at every decoder block of a listed
 * resolution; `out_norm`/`out_conv` at the end; Kaiming-uniform init (weights and biases × √(1/3)).
 * Parameter names equal EDM's module paths (`map_label.weight`, `enc.64x64_conv.weight`, `out_conv.bias`).
 */
import { numpy as np, tree } from '@jax-js/jax';
import {
  conv2d,
  conv2dSpecs,
  dropLabels,
  unetCall,
  groupNorm,
  groupNormSpecs,
  initParams,
  linear,
  linearSpecs,
  positionalEmbedding,
  silu,
  specCount,
  specShapes,
  unetBlock,
  unetBlockSpecs,
  type LayerInit,
  type NetOpts,
  type ParamSpec,
  type Params,
  type UNetBlockConfig,
} from './layers.js';
import { resampleFilterBuffer } from './song-unet.js';

export interface DhariwalUNetConfig {
  /** Image resolution at input and output (64 for ImageNet-64). */
  imgResolution: number;
  /** Colour channels at input. */
  inChannels: number;
  /** Colour channels at output. */
  outChannels: number;
  /** Number of class labels; 0 = unconditional. */
  labelDim: number;
  /** Augmentation-label dimensionality (`map_augment`); 0 = none. Sampling passes no augment labels. */
  augmentDim: number;
  /** Base multiplier for the number of channels (EDM default 192). */
  modelChannels: number;
  /** Per-resolution channel multipliers (EDM default [1,2,3,4]). */
  channelMult: number[];
  /** Multiplier for the dimensionality of the embedding vector. */
  channelMultEmb: number;
  /** Residual blocks per resolution (EDM default 3). */
  numBlocks: number;
  /** Resolutions with self-attention (EDM default [32,16,8]). */
  attnResolutions: number[];
  /** Dropout probability of intermediate activations (training only). */
  dropout: number;
  /** Probability of dropping the class label (classifier-free guidance training). */
  labelDropout: number;
}

/** EDM `DhariwalUNet` init: kaiming_uniform, weights and biases × √(1/3); the zero init is exactly zero. */
const INIT_ADM: LayerInit = { mode: 'kaiming_uniform', weight: Math.sqrt(1 / 3), bias: Math.sqrt(1 / 3) };
const INIT_ADM_ZERO: LayerInit = { mode: 'kaiming_uniform', weight: 0, bias: 0 };
const CHANNELS_PER_HEAD = 64;

/** Throws a one-line error for a config EDM's constructor would reject or that cannot run here. */
export function validateDhariwalUNetConfig(cfg: DhariwalUNetConfig): void {
  const levels = cfg.channelMult?.length ?? 0;
  if (levels < 1) throw new Error('DhariwalUNet: channelMult must have at least one level');
  if (cfg.imgResolution % 2 ** (levels - 1) !== 0) {
    throw new Error(`DhariwalUNet: resolution ${cfg.imgResolution} is not divisible by 2^${levels - 1} (channelMult has ${levels} levels)`);
  }
  if (cfg.modelChannels < 4 || cfg.numBlocks < 1) throw new Error('DhariwalUNet: modelChannels must be >= 4 and numBlocks >= 1');
  if (cfg.modelChannels % 2) throw new Error('DhariwalUNet: modelChannels must be even (positional embedding)');
  for (const [k, v] of [['dropout', cfg.dropout], ['labelDropout', cfg.labelDropout]] as const) {
    if (!(v >= 0 && v < 1)) throw new Error(`DhariwalUNet: ${k} ${v} is not in [0, 1)`);
  }
}

type Layer = { kind: 'conv'; name: string; cin: number; cout: number } | { kind: 'block'; name: string; block: UNetBlockConfig; concatSkip: boolean };

/** The module list of EDM's DhariwalUNet.__init__, in registration order (= state_dict order). */
function plan(cfg: DhariwalUNetConfig): { embChannels: number; enc: Layer[]; dec: Layer[]; outChannels: number } {
  validateDhariwalUNetConfig(cfg);
  const embChannels = cfg.modelChannels * cfg.channelMultEmb;
  const blk = (cin: number, cout: number, extra: Partial<UNetBlockConfig> = {}): UNetBlockConfig => {
    const c: UNetBlockConfig = {
      inChannels: cin,
      outChannels: cout,
      embChannels,
      up: false,
      down: false,
      attention: false,
      dropout: cfg.dropout,
      skipScale: 1,
      eps: 1e-5,
      resampleFilter: [1, 1],
      resampleProj: false,
      adaptiveScale: true,
      init: { init: INIT_ADM, zero: INIT_ADM_ZERO, attn: INIT_ADM },
      ...extra,
    };
    c.numHeads = Math.floor(cout / CHANNELS_PER_HEAD);
    if (c.numHeads === 0) c.attention = false;
    return c;
  };
  const enc: Layer[] = [];
  let cout = cfg.inChannels;
  cfg.channelMult.forEach((mult, level) => {
    const res = cfg.imgResolution >> level;
    const at = `enc.${res}x${res}`;
    if (level === 0) {
      const cin = cout;
      cout = cfg.modelChannels * mult;
      enc.push({ kind: 'conv', name: `${at}_conv`, cin, cout });
    } else {
      enc.push({ kind: 'block', name: `${at}_down`, block: blk(cout, cout, { down: true }), concatSkip: false });
    }
    for (let idx = 0; idx < cfg.numBlocks; idx++) {
      const cin = cout;
      cout = cfg.modelChannels * mult;
      enc.push({ kind: 'block', name: `${at}_block${idx}`, block: blk(cin, cout, { attention: cfg.attnResolutions.includes(res) }), concatSkip: false });
    }
  });
  const skips = enc.map((l) => (l.kind === 'conv' ? l.cout : l.block.outChannels));
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
      dec.push({ kind: 'block', name: `${at}_block${idx}`, block: blk(cin, cout, { attention: cfg.attnResolutions.includes(res) }), concatSkip: true });
    }
  }
  return { embChannels, enc, dec, outChannels: cout };
}

/** Every parameter of DhariwalUNet with EDM's name, shape and init, in state_dict order. */
export function dhariwalUNetSpecs(cfg: DhariwalUNetConfig): ParamSpec[] {
  const p = plan(cfg);
  const mc = cfg.modelChannels;
  const specs: ParamSpec[] = [];
  if (cfg.augmentDim) specs.push(...linearSpecs('map_augment', cfg.augmentDim, mc, INIT_ADM_ZERO, false));
  specs.push(...linearSpecs('map_layer0', mc, p.embChannels, INIT_ADM));
  specs.push(...linearSpecs('map_layer1', p.embChannels, p.embChannels, INIT_ADM));
  if (cfg.labelDim) specs.push(...linearSpecs('map_label', cfg.labelDim, p.embChannels, { mode: 'kaiming_normal', weight: Math.sqrt(cfg.labelDim), bias: 0 }, false));
  for (const l of [...p.enc, ...p.dec]) {
    if (l.kind === 'conv') specs.push(...conv2dSpecs(l.name, l.cin, l.cout, 3, INIT_ADM));
    else specs.push(...unetBlockSpecs(l.name, l.block));
  }
  specs.push(...groupNormSpecs('out_norm', p.outChannels));
  specs.push(...conv2dSpecs('out_conv', p.outChannels, cfg.outChannels, 3, INIT_ADM_ZERO));
  return specs;
}

/** EDM's `resample_filter` buffers of this network (conv0 and skip of each up/down block), for the EDM exporter. */
export function dhariwalUNetBuffers(cfg: DhariwalUNetConfig): Record<string, { shape: number[]; data: Float32Array }> {
  const p = plan(cfg);
  const f = resampleFilterBuffer([1, 1]);
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const l of [...p.enc, ...p.dec]) {
    if (l.kind === 'block' && (l.block.up || l.block.down)) {
      out[`${l.name}.conv0.resample_filter`] = f;
      out[`${l.name}.skip.resample_filter`] = f;
    }
  }
  return out;
}

/** `{name: shape}` a DhariwalUNet checkpoint with this config must have. */
export const dhariwalUNetShapes = (cfg: DhariwalUNetConfig): Record<string, number[]> => specShapes(dhariwalUNetSpecs(cfg));

/** Number of trainable scalars. */
export const dhariwalUNetParamCount = (cfg: DhariwalUNetConfig): number => specCount(dhariwalUNetSpecs(cfg));

/** EDM's initialisation of DhariwalUNet. Consumes `key`. */
export function initDhariwalUNet(key: np.Array, cfg: DhariwalUNetConfig): Params {
  return initParams(key, dhariwalUNetSpecs(cfg));
}

/**
 * EDM `DhariwalUNet.forward`. x [N, inChannels, R, R], noiseLabels [N] (c_noise), classLabels [N, labelDim]
 * one-hot or null; returns F(x) [N, outChannels, R, R]. Consumes every argument (params included).
 * With `train`, dropout and label dropout draw from `key`.
 */
export function dhariwalUNet(cfg: DhariwalUNetConfig, params: Params, x: np.Array, noiseLabels: np.Array, classLabels: np.Array | null, opts: NetOpts = {}): np.Array {
  try {
    const p = plan(cfg);
    const N = x.shape[0];
    const call = unetCall('DhariwalUNet', cfg, x, [...p.enc, ...p.dec].filter((l) => l.kind === 'block').length, opts);
    const { train, takeKey } = call;

    // Mapping (map_augment only with augment labels, which sampling never passes).
    let emb = positionalEmbedding(noiseLabels, cfg.modelChannels);
    emb = silu(linear(params, 'map_layer0', emb));
    emb = linear(params, 'map_layer1', emb);
    const labelKey = takeKey();
    if (cfg.labelDim) {
      emb = emb.add(linear(params, 'map_label', dropLabels(classLabels ?? np.zeros([N, cfg.labelDim]), cfg.labelDropout, train, labelKey)));
      classLabels = null;
    } else {
      classLabels?.dispose();
      labelKey?.dispose();
    }
    emb = silu(emb);

    const skips: np.Array[] = [];
    let h = x;
    for (const l of p.enc) {
      h = l.kind === 'conv' ? conv2d(params, l.name, h) : unetBlock(params, l.name, l.block, h, emb.ref, { key: takeKey(), train });
      skips.push(h.ref);
    }
    for (const l of p.dec) {
      if (l.kind !== 'block') continue;
      if (l.concatSkip) h = np.concatenate([h, skips.pop()!], 1);
      h = unetBlock(params, l.name, l.block, h, emb.ref, { key: takeKey(), train });
    }
    emb.dispose();
    call.dispose();
    for (const s of skips) s.dispose();
    return conv2d(params, 'out_conv', silu(groupNorm(params, 'out_norm', h, { eps: 1e-5 })));
  } finally {
    tree.dispose(params);
  }
}
