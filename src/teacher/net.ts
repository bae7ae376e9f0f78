/**
 * The teacher roles built on the raw networks: a `NetSpec` ({net, netConfig}, as stored in checkpoint
 * metadata) becomes the raw network F, its parameter shapes and init, and — with a preconditioning —
 * the denoiser D(x; σ) of EDM Eq. 7 (src/edm/precond.ts). Training, loading, sampling and distillation
 * all go through here, so a checkpoint describes itself completely.
 */
import type { numpy as np } from '@jax-js/jax';
import { precondition, type Denoiser, type PrecondKind, type RawNet } from '../edm/precond.js';
import { initMlp, mlpNet, mlpShapes, type MlpConfig } from '../nets/mlp.js';
import { initSongUNet, songUNet, songUNetShapes, validateSongUNetConfig, withSongUNetDefaults, type SongUNetConfig } from '../nets/song-unet.js';
import { dhariwalUNet, dhariwalUNetShapes, initDhariwalUNet, validateDhariwalUNetConfig, type DhariwalUNetConfig } from '../nets/dhariwal-unet.js';
import type { Params } from '../nets/layers.js';

export type NetSpec = { net: 'song-unet'; netConfig: SongUNetConfig } | { net: 'dhariwal-unet'; netConfig: DhariwalUNetConfig } | { net: 'mlp'; netConfig: MlpConfig };

/** The image networks (NCHW in, NCHW out) among `NetSpec`s. */
export const IMAGE_NETS = ['song-unet', 'dhariwal-unet'] as const;

export interface TeacherNet {
  /** The spec with every field filled in (older SongUNet checkpoints lack the NCSN++ fields). */
  spec: NetSpec;
  raw: RawNet;
  /** Parameter name → shape, the `expect` of `loadParams`. */
  shapes: Record<string, number[]>;
  init: (key: np.Array) => Params;
  /** Shape of one sample: [C, H, W] or [D]. */
  dataShape: number[];
  labelDim: number;
}

/** Builds the raw network of a spec; one-line error for an unknown net or an invalid config. */
export function teacherNet(spec: NetSpec): TeacherNet {
  if (spec.net === 'song-unet') {
    // Checkpoints written before the NCSN++ fields existed are DDPM++: fill them in.
    const c = withSongUNetDefaults(spec.netConfig);
    validateSongUNetConfig(c);
    return {
      spec: { net: 'song-unet', netConfig: c },
      raw: (p, x, n, l, o) => songUNet(c, p, x, n, l, o),
      shapes: songUNetShapes(c),
      init: (key) => initSongUNet(key, c),
      dataShape: [c.inChannels, c.imgResolution, c.imgResolution],
      labelDim: c.labelDim,
    };
  }
  if (spec.net === 'dhariwal-unet') {
    const c = { ...spec.netConfig, augmentDim: spec.netConfig.augmentDim ?? 0 };
    validateDhariwalUNetConfig(c);
    return {
      spec: { net: 'dhariwal-unet', netConfig: c },
      raw: (p, x, n, l, o) => dhariwalUNet(c, p, x, n, l, o),
      shapes: dhariwalUNetShapes(c),
      init: (key) => initDhariwalUNet(key, c),
      dataShape: [c.inChannels, c.imgResolution, c.imgResolution],
      labelDim: c.labelDim,
    };
  }
  if (spec.net === 'mlp') {
    const c = spec.netConfig;
    return {
      spec,
      raw: (p, x, n, l, o) => mlpNet(c, p, x, n, l, o),
      shapes: mlpShapes(c),
      init: (key) => initMlp(key, c),
      dataShape: [c.dim],
      labelDim: c.labelDim,
    };
  }
  throw new Error(`unknown network '${(spec as { net: unknown }).net}' (expected song-unet, dhariwal-unet or mlp)`);
}

/** Whether two specs describe the same network (key order ignored; `teacherNet(..).spec` has defaults filled in). */
export function sameNet(a: NetSpec, b: NetSpec): boolean {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

/** D(x; σ) of a spec under a preconditioning. */
export function teacherDenoiser(net: TeacherNet, precond: PrecondKind, sigmaData: number): Denoiser {
  return precondition(precond, net.raw, { sigmaData });
}
