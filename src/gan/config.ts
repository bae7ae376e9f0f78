/**
 * The `train-gan` configuration: one strict schema with a default and a reason per field, plus the named
 * size presets. Training defaults follow StyleGAN2's recipe for the loss (non-saturating + R1 on reals,
 * Adam β = (0, 0.99), G's EMA by half-life in kimg with EDM's ramp-up) at DCGAN's learning rate (2e-4:
 * without StyleGAN2's equalised learning rate its 2.5e-3 is too large for plain xavier-initialised convs).
 */
import { evalCountField, seedListField } from '../config/fields.js';
import { z } from 'zod';
import { GAN_NORMS, type DcganConfig } from './dcgan.js';

export const GAN_ARCHS = ['tiny', 'gan-small', 'gan-base'] as const;
export type GanArch = (typeof GAN_ARCHS)[number];

type Preset = Pick<DcganConfig, 'zDim' | 'gChannels' | 'dChannels' | 'dHidden'>;

/** Size presets; widths are per level (G coarse → fine, D fine → coarse: 7/14/28 and 28/14/7 for 28×28). */
export const GAN_PRESETS: Record<GanArch, Preset> = {
  /** G 25 k, D 16 k params: tests and smoke runs only. */
  tiny: { zDim: 16, gChannels: [16, 8, 8], dChannels: [8, 8, 16], dHidden: 16 },
  /** G 0.30 M, D 0.24 M params; ~9 MMAC per image through G: the size that still trains on Wasm (slowly). */
  'gan-small': { zDim: 64, gChannels: [64, 32, 16], dChannels: [16, 32, 64], dHidden: 64 },
  /** G 2.7 M, D 3.8 M params; ~150 MMAC per image through G: the GPU model. */
  'gan-base': { zDim: 128, gChannels: [256, 128, 64], dChannels: [64, 128, 256], dHidden: 256 },
};

const optionalInt = (what: string) => z.number().int().positive().optional().describe(what);

export const GanConfig = z.object({
  dataset: z.string().default('fashion-mnist').describe('training images: fashion-mnist or mnist'),
  cond: z.boolean().default(true).describe('class-conditional GAN (one-hot label concatenated to z in G, projection in D)'),
  arch: z.enum(GAN_ARCHS).default('gan-small').describe('size preset: gan-small (Wasm-trainable), gan-base (GPU), tiny (tests)'),
  zDim: optionalInt('latent dimension of z ~ N(0, I) (overrides the preset)'),
  gChannels: z.array(z.number().int().positive()).optional().describe('generator widths per level, coarse to fine, e.g. 64,32,16 (overrides the preset)'),
  dChannels: z.array(z.number().int().positive()).optional().describe('discriminator widths per level, fine to coarse, e.g. 16,32,64 (overrides the preset)'),
  dHidden: optionalInt("width of the discriminator's fully connected layer (overrides the preset)"),
  norm: z.enum(GAN_NORMS).default('group').describe('generator normalisation after each conv: group (GroupNorm) or none'),
  r1Gamma: z.number().min(0).default(1).describe('R1 weight γ: D loss + γ/2·‖∇ₓD(x_real)‖² (Mescheder et al. 2018; 0: off)'),
  r1Interval: z.number().int().positive().default(16).describe('lazy R1: every k-th D step adds k·γ/2·R1 (StyleGAN2: 16; R1 is a double backward pass, costlier than a D step)'),
  lrG: z.number().positive().default(2e-4).describe('generator Adam learning rate (DCGAN: 2e-4)'),
  lrD: z.number().positive().default(2e-4).describe('discriminator Adam learning rate (DCGAN: 2e-4)'),
  beta1: z.number().min(0).max(1).default(0).describe('Adam β1 for both nets (StyleGAN2: 0; DCGAN: 0.5)'),
  beta2: z.number().min(0).max(1).default(0.99).describe('Adam β2 for both nets (StyleGAN2: 0.99; DCGAN: 0.999)'),
  eps: z.number().positive().default(1e-8).describe('Adam ε'),
  batch: z.number().int().positive().default(64).describe('real and fake images per step'),
  duration: z.number().positive().default(500).describe('training length in kimg of real images shown to D'),
  emaHalfLife: z.number().min(0).default(10).describe('generator EMA half-life in kimg (StyleGAN2: 10)'),
  emaRampup: z.number().min(0).nullable().default(0.05).describe('EMA ramp-up ratio: half-life ≤ ratio × images so far (StyleGAN2/EDM 0.05; null: off)'),
  tick: z.number().positive().default(4).describe('kimg between progress lines, stats and sample grids'),
  snap: z.number().int().positive().default(25).describe('ticks between snapshots (EMA generator, metrics, training state)'),
  evalN: evalCountField(10000, 'samples for FD/KID/precision/recall at each snapshot (0: none; needs the classifier files)'),
  gridSeeds: seedListField('0-99', 'image seeds of the fixed sample grid ("" for none); one row per class for conditional GANs'),
  seed: z.number().int().min(0).default(0).describe('seed of the initial weights, data order, latents and labels'),
  maxMinutes: z.number().min(0).default(0).describe('wall-clock budget: stop cleanly with a snapshot after this many minutes (0: none)'),
  stateMinutes: z.number().min(0).default(2).describe('minutes between training states written between snapshots, so kill -9 or a power cut loses at most this much (0: only with snapshots)'),
  outdir: z.string().default('runs').describe('parent folder of run folders'),
  desc: z.string().default('').describe('run folder suffix (default: built from dataset, cond and arch)'),
  resume: z.string().default('').describe('run folder or training-state file to continue exactly'),
});

export type GanConfig = z.infer<typeof GanConfig>;

/** Keys that fix the training trajectory: a resumed run must keep them (duration, tick, snap, grid, eval, budget may change). */
export const GAN_FROZEN_ON_RESUME = [
  'dataset',
  'cond',
  'arch',
  'zDim',
  'gChannels',
  'dChannels',
  'dHidden',
  'norm',
  'r1Gamma',
  'r1Interval',
  'lrG',
  'lrD',
  'beta1',
  'beta2',
  'eps',
  'batch',
  'emaHalfLife',
  'emaRampup',
  'seed',
] as const satisfies readonly (keyof GanConfig)[];

/** The network config of a training config, given the data's shape and class count. */
export function dcganConfigFor(cfg: GanConfig, data: { dataShape: number[]; labelDim: number }): DcganConfig {
  const p = GAN_PRESETS[cfg.arch];
  const [channels, h, w] = data.dataShape;
  if (h !== w) throw new Error(`dcgan needs square images, got ${h}x${w}`);
  return {
    zDim: cfg.zDim ?? p.zDim,
    labelDim: cfg.cond ? data.labelDim : 0,
    channels,
    resolution: h,
    gChannels: [...(cfg.gChannels ?? p.gChannels)],
    dChannels: [...(cfg.dChannels ?? p.dChannels)],
    dHidden: cfg.dHidden ?? p.dHidden,
    norm: cfg.norm,
  };
}
