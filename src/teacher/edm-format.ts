/**
 * The rules that map NVlabs/edm networks (Karras et al. 2022, training/networks.py) onto ours and back,
 * as pure functions of names, shapes and JSON (no file or Python here; docs/convert-edm-checkpoint.md).
 *
 * An *EDM interchange file* is a safetensors file holding an EDM preconditioning wrapper's full
 * `state_dict()` under EDM's own names (`model.` prefix, constant buffers such as `resample_filter`
 * included) with `__metadata__.edm` = JSON `{precond, init_kwargs, model_kwargs?}`: the wrapper's class
 * name, the keyword arguments EDM's `persistence` recorded for it, and (written by
 * scripts/edm/edm_to_safetensors.py) the wrapped network's full constructor arguments. The reference
 * fixtures in test-data/edm-reference/ have this format. `scripts/edm/*.py` move between it and EDM
 * pickles with EDM's own code; this module moves between it and our teacher checkpoints.
 *
 * Rules:
 *  - The network's constructor arguments are its class's defaults (EDM_NET_DEFAULTS, copied from the
 *    signatures of `SongUNet.__init__` / `DhariwalUNet.__init__`), overridden by the wrapper's
 *    `init_kwargs` (EDM passes every unknown keyword on to the network), overridden by `model_kwargs`.
 *  - Parameters keep their names minus the `model.` prefix; `resample_filter` buffers are dropped after
 *    checking they equal f⊗f/Σf² of the network's filter; NCSN++'s `map_noise.freqs` buffer is kept (a
 *    frozen parameter here). Any other tensor, missing or mis-shaped one is an error.
 *  - The wrapper's class gives the preconditioning: EDMPrecond → edm (with its sigma_data), VPPrecond →
 *    vp, VEPrecond → ve; their σ ranges are kept for the sampler. Other wrappers (iDDPMPrecond) and VP/VE
 *    constants other than EDM's defaults are errors.
 */
import { VP, precondSigmaRange, type PrecondKind } from '../edm/precond.js';
import type { SongUNetConfig } from '../nets/song-unet.js';
import { songUNetBuffers } from '../nets/song-unet.js';
import { dhariwalUNetBuffers, type DhariwalUNetConfig } from '../nets/dhariwal-unet.js';
import type { NetSpec } from './net.js';
import { toFloat32 } from '../io/params-format.js';
import type { TensorData } from '../io/safetensors-format.js';

/** `__metadata__.edm` of an EDM interchange file. */
export interface EdmMeta {
  /** The wrapper's class name: EDMPrecond, VPPrecond or VEPrecond. */
  precond: string;
  /** The wrapper's recorded keyword arguments (img_resolution, img_channels, label_dim, model_type, the network's own …). */
  init_kwargs: Record<string, unknown>;
  /** The wrapped network's full constructor arguments, when the exporter resolved them. */
  model_kwargs?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Defaults of EDM's network constructors (training/networks.py), beyond the arguments the wrapper always passes. */
export const EDM_NET_DEFAULTS = {
  SongUNet: {
    label_dim: 0,
    augment_dim: 0,
    model_channels: 128,
    channel_mult: [1, 2, 2, 2],
    channel_mult_emb: 4,
    num_blocks: 4,
    attn_resolutions: [16],
    dropout: 0.1,
    label_dropout: 0,
    embedding_type: 'positional',
    channel_mult_noise: 1,
    encoder_type: 'standard',
    decoder_type: 'standard',
    resample_filter: [1, 1],
  },
  DhariwalUNet: {
    label_dim: 0,
    augment_dim: 0,
    model_channels: 192,
    channel_mult: [1, 2, 3, 4],
    channel_mult_emb: 4,
    num_blocks: 3,
    attn_resolutions: [32, 16, 8],
    dropout: 0.1,
    label_dropout: 0,
  },
} as const;

/** Defaults of EDM's wrappers (their own keyword arguments; everything else goes to the network). */
export const EDM_PRECOND_DEFAULTS = {
  EDMPrecond: { label_dim: 0, use_fp16: false, sigma_min: 0, sigma_max: Infinity, sigma_data: 0.5, model_type: 'DhariwalUNet' },
  VPPrecond: { label_dim: 0, use_fp16: false, beta_d: VP.betaD, beta_min: VP.betaMin, M: VP.M, epsilon_t: 1e-5, model_type: 'SongUNet' },
  VEPrecond: { label_dim: 0, use_fp16: false, sigma_min: 0.02, sigma_max: 100, model_type: 'SongUNet' },
} as const;

const PRECOND_OF: Record<string, PrecondKind> = { EDMPrecond: 'edm', VPPrecond: 'vp', VEPrecond: 've' };
const WRAPPER_OF: Record<PrecondKind, keyof typeof EDM_PRECOND_DEFAULTS> = { edm: 'EDMPrecond', vp: 'VPPrecond', ve: 'VEPrecond' };

/** What an EDM network is here: the net spec, the preconditioning and its constants. */
export interface EdmImport {
  spec: NetSpec;
  precond: PrecondKind;
  sigmaData: number;
  /** The wrapper's supported σ range (EDM's `edm_sampler` clamps its schedule to it). */
  sigmaMin: number;
  sigmaMax: number;
}

const num = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`EDM network: ${what} is ${JSON.stringify(v)}, expected a number`);
  return v;
};
const ints = (v: unknown, what: string): number[] => {
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) throw new Error(`EDM network: ${what} is ${JSON.stringify(v)}, expected a list of integers`);
  return [...v];
};

/** Reads `__metadata__.edm` (a JSON string) into an `EdmMeta`; one-line error naming `source`. */
export function parseEdmMeta(metadata: Record<string, string>, source: string): EdmMeta {
  const raw = metadata.edm;
  if (!raw) throw new Error(`'${source}' has no 'edm' metadata: not an EDM interchange file (scripts/edm/edm_to_safetensors.py writes one from a pickle)`);
  let m: EdmMeta;
  try {
    m = JSON.parse(raw);
  } catch {
    throw new Error(`'${source}': __metadata__ 'edm' is not valid JSON`);
  }
  if (!m || typeof m.precond !== 'string' || !m.init_kwargs || typeof m.init_kwargs !== 'object') {
    throw new Error(`'${source}': __metadata__ 'edm' needs 'precond' (a class name) and 'init_kwargs'`);
  }
  return m;
}

/** Our net spec and preconditioning of an EDM network described by `meta` (rules in the file header). */
export function importEdmMeta(meta: EdmMeta): EdmImport {
  const precond = PRECOND_OF[meta.precond];
  if (!precond) throw new Error(`EDM network: wrapper ${meta.precond} is not supported (expected ${Object.keys(PRECOND_OF).join(', ')})`);
  const pdef = EDM_PRECOND_DEFAULTS[meta.precond as keyof typeof EDM_PRECOND_DEFAULTS] as Record<string, unknown>;
  const ik = meta.init_kwargs;
  const wrapper: Record<string, unknown> = { ...pdef };
  const netArgs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ik)) {
    if (k in pdef || k === 'img_resolution' || k === 'img_channels') wrapper[k] = v;
    else netArgs[k] = v;
  }
  const modelType = String(wrapper.model_type);
  if (modelType !== 'SongUNet' && modelType !== 'DhariwalUNet') throw new Error(`EDM network: model_type ${modelType} is not supported (expected SongUNet or DhariwalUNet)`);
  const res = num(wrapper.img_resolution, 'img_resolution');
  const ch = num(wrapper.img_channels, 'img_channels');
  const labelDim = num(wrapper.label_dim, 'label_dim');
  const a: Record<string, unknown> = { ...EDM_NET_DEFAULTS[modelType], ...netArgs, ...(meta.model_kwargs ?? {}) };
  for (const k of ['img_resolution', 'in_channels', 'out_channels', 'label_dim']) delete a[k];
  const known = new Set(Object.keys(EDM_NET_DEFAULTS[modelType]));
  for (const k of Object.keys(a)) if (!known.has(k)) throw new Error(`EDM network: ${modelType} has no argument '${k}'`);
  if (precond === 'vp') {
    for (const k of ['beta_d', 'beta_min', 'M', 'epsilon_t'] as const) {
      if (wrapper[k] !== (EDM_PRECOND_DEFAULTS.VPPrecond as Record<string, unknown>)[k]) throw new Error(`EDM network: VPPrecond ${k}=${JSON.stringify(wrapper[k])} is not supported (only EDM's default ${(EDM_PRECOND_DEFAULTS.VPPrecond as Record<string, unknown>)[k]})`);
    }
  }
  const base = {
    imgResolution: res,
    inChannels: ch,
    outChannels: ch,
    labelDim,
    augmentDim: num(a.augment_dim, 'augment_dim'),
    modelChannels: num(a.model_channels, 'model_channels'),
    channelMult: ints(a.channel_mult, 'channel_mult'),
    channelMultEmb: num(a.channel_mult_emb, 'channel_mult_emb'),
    numBlocks: num(a.num_blocks, 'num_blocks'),
    attnResolutions: ints(a.attn_resolutions, 'attn_resolutions'),
    dropout: num(a.dropout, 'dropout'),
    labelDropout: num(a.label_dropout, 'label_dropout'),
  };
  let spec: NetSpec;
  if (modelType === 'SongUNet') {
    const netConfig: SongUNetConfig = {
      ...base,
      channelMultNoise: num(a.channel_mult_noise, 'channel_mult_noise'),
      resampleFilter: ints(a.resample_filter, 'resample_filter'),
      embeddingType: a.embedding_type as SongUNetConfig['embeddingType'],
      encoderType: a.encoder_type as SongUNetConfig['encoderType'],
      decoderType: a.decoder_type as SongUNetConfig['decoderType'],
    };
    spec = { net: 'song-unet', netConfig };
  } else {
    const netConfig: DhariwalUNetConfig = base;
    spec = { net: 'dhariwal-unet', netConfig };
  }
  const range = precondSigmaRange(precond);
  const sigmaMin = precond === 'vp' ? range.min : num(wrapper.sigma_min ?? range.min, 'sigma_min');
  const sigmaMax = precond === 'vp' ? range.max : (wrapper.sigma_max === Infinity || wrapper.sigma_max === null || wrapper.sigma_max === 'inf' ? Infinity : num(wrapper.sigma_max, 'sigma_max'));
  const sigmaData = precond === 'edm' ? num(wrapper.sigma_data, 'sigma_data') : 0.5;
  return { spec, precond, sigmaData, sigmaMin, sigmaMax };
}

/** EDM's constant buffers for a network here, keyed by their name inside the wrapper's `model`. */
export function edmBuffers(spec: NetSpec): Record<string, { shape: number[]; data: Float32Array }> {
  if (spec.net === 'song-unet') return songUNetBuffers(spec.netConfig);
  if (spec.net === 'dhariwal-unet') return dhariwalUNetBuffers(spec.netConfig);
  throw new Error(`network '${spec.net}' has no EDM counterpart`);
}

/**
 * Our parameter tensors from an EDM `state_dict` (names with the `model.` prefix): strips the prefix,
 * checks and drops the constant buffers. Names and shapes against `expect` (our network's) are checked
 * by the caller's loader; here a tensor outside `model.`, a buffer that differs from EDM's formula, or a
 * missing buffer is an error.
 */
export function paramsFromEdmStateDict(spec: NetSpec, tensors: Record<string, TensorData>, source: string): Record<string, TensorData> {
  const buffers = edmBuffers(spec);
  const out: Record<string, TensorData> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (!name.startsWith('model.')) throw new Error(`'${source}': tensor '${name}' is outside the wrapper's 'model.' (not an EDMPrecond/VPPrecond/VEPrecond state_dict)`);
    const n = name.slice('model.'.length);
    const b = buffers[n];
    if (b) {
      if (t.shape.join() !== b.shape.join() || toFloat32(t).some((v, i) => Math.abs(v - b.data[i]) > 1e-7)) {
        throw new Error(`'${source}': buffer '${name}' does not match the network's resample_filter ${JSON.stringify(b.shape)}`);
      }
      continue;
    }
    out[n] = t;
  }
  for (const n of Object.keys(buffers)) if (!(`model.${n}` in tensors)) throw new Error(`'${source}': missing buffer 'model.${n}' (EDM's state_dict has it)`);
  return out;
}

/**
 * The EDM side of a network here: wrapper class and `init_kwargs` such that
 * `<precond>(**init_kwargs)` rebuilds it, plus the full network arguments as `model_kwargs`.
 */
export function exportEdmMeta(spec: NetSpec, precond: PrecondKind, sigmaData: number): EdmMeta {
  const wrapper = WRAPPER_OF[precond];
  if (!wrapper) throw new Error(`preconditioning '${precond}' has no EDM wrapper`);
  if (spec.net !== 'song-unet' && spec.net !== 'dhariwal-unet') throw new Error(`network '${spec.net}' has no EDM counterpart (only song-unet and dhariwal-unet)`);
  const c = spec.netConfig;
  if (c.inChannels !== c.outChannels) throw new Error(`EDM wrappers need inChannels = outChannels (got ${c.inChannels}, ${c.outChannels})`);
  const model: Record<string, unknown> = {
    augment_dim: c.augmentDim,
    model_channels: c.modelChannels,
    channel_mult: [...c.channelMult],
    channel_mult_emb: c.channelMultEmb,
    num_blocks: c.numBlocks,
    attn_resolutions: [...c.attnResolutions],
    dropout: c.dropout,
    label_dropout: c.labelDropout,
  };
  if (spec.net === 'song-unet') {
    const s = spec.netConfig;
    Object.assign(model, {
      embedding_type: s.embeddingType,
      channel_mult_noise: s.channelMultNoise,
      encoder_type: s.encoderType,
      decoder_type: s.decoderType,
      resample_filter: [...s.resampleFilter],
    });
  }
  const init_kwargs: Record<string, unknown> = {
    img_resolution: c.imgResolution,
    img_channels: c.inChannels,
    label_dim: c.labelDim,
    model_type: spec.net === 'song-unet' ? 'SongUNet' : 'DhariwalUNet',
    ...model,
  };
  if (precond === 'edm') init_kwargs.sigma_data = sigmaData;
  else if (sigmaData !== 0.5) throw new Error(`${wrapper} has no sigma_data (got ${sigmaData}): only EDMPrecond takes one`);
  return { precond: wrapper, init_kwargs, model_kwargs: model };
}
