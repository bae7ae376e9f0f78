/**
 * The `train-teacher` configuration: one strict schema, a default and a one-line reason per field.
 * Defaults follow EDM's training loop (Karras et al. 2022, training/training_loop.py and train.py:
 * Adam lr 1e-3, β=(0.9, 0.999), ε=1e-8; EMA by half-life with ramp-up 0.05; lognormal σ with
 * P_mean −1.2, P_std 1.2; σ_data 0.5; dropout 0.1 for the small datasets) scaled down to Fashion-MNIST
 * runs of minutes, not days (duration, tick, ramp-up, EMA half-life).
 */
import { seedListField } from '../config/fields.js';
import { z } from 'zod';
import { PRECOND_KINDS } from '../edm/precond.js';

export const TEACHER_ARCHS = ['fmnist-small', 'fmnist-base', 'tiny', 'mlp'] as const;
export type TeacherArch = (typeof TEACHER_ARCHS)[number];

const optionalInt = (what: string) => z.number().int().positive().optional().describe(what);

export const TeacherConfig = z.object({
  dataset: z.string().default('fashion-mnist').describe('training data: fashion-mnist, mnist, or toy:<name> (2-D toys, with arch mlp)'),
  cond: z.boolean().default(true).describe('class-conditional teacher (one-hot labels through map_label); images only'),
  arch: z.enum(TEACHER_ARCHS).default('fmnist-small').describe('network preset: SongUNet fmnist-small / fmnist-base / tiny (tests), or mlp for 2-D toys'),
  modelChannels: optionalInt('SongUNet base channels (overrides the preset)'),
  channelMult: z.array(z.number().int().positive()).optional().describe('SongUNet per-level channel multipliers, e.g. 1,2,2 (overrides the preset)'),
  numBlocks: optionalInt('SongUNet residual blocks per level (overrides the preset)'),
  attnResolutions: z.array(z.number().int().positive()).optional().describe('SongUNet resolutions with self-attention, e.g. 7 (overrides the preset)'),
  dropout: z.number().min(0).max(0.9).optional().describe('dropout probability inside UNet blocks (overrides the preset; EDM uses 0.13 on CIFAR-10)'),
  mlpWidth: z.number().int().positive().default(128).describe('hidden width of the 2-D MLP denoiser (arch mlp)'),
  mlpDepth: z.number().int().positive().default(3).describe('hidden layers of the 2-D MLP denoiser (arch mlp)'),
  precond: z.enum(PRECOND_KINDS).default('edm').describe('preconditioning (EDM Table 1): edm, vp or ve; the loss is always EDM\'s'),
  sigmaData: z.number().positive().default(0.5).describe('σ_data of the EDM scalings and loss weight (0.5 for images in [-1, 1])'),
  pMean: z.number().default(-1.2).describe('mean of ln σ of the training noise (EDM)'),
  pStd: z.number().positive().default(1.2).describe('std of ln σ of the training noise (EDM)'),
  batch: z.number().int().positive().default(128).describe('images per step'),
  duration: z.number().positive().default(200).describe('training length in kimg (thousands of training images)'),
  lr: z.number().positive().default(1e-3).describe('Adam learning rate (EDM: 1e-3)'),
  lrRampup: z.number().min(0).default(10).describe('linear learning-rate warm-up in kimg (EDM: 10000 for 200 Mimg runs)'),
  emaHalfLife: z.number().min(0).default(50).describe('EMA half-life in kimg (EDM: 500; the ramp-up makes it shorter early on)'),
  emaRampup: z.number().min(0).nullable().default(0.05).describe('EMA ramp-up ratio: half-life ≤ ratio × images seen (EDM 0.05; null: off)'),
  tick: z.number().positive().default(10).describe('kimg between progress lines and stats'),
  snap: z.number().int().positive().default(10).describe('ticks between snapshots (EMA weights, training state, sample grid)'),
  gridSeeds: seedListField('0-99', 'image seeds of the fixed sample grid ("" for none); classes in rows for conditional models'),
  gridSteps: z.number().int().positive().default(18).describe('Heun steps of the sample grid (2·steps−1 network evaluations)'),
  seed: z.number().int().min(0).default(0).describe('seed of the initial weights, data order and noise'),
  maxMinutes: z.number().min(0).default(0).describe('wall-clock budget: stop cleanly with a final snapshot after this many minutes (0: none)'),
  stateMinutes: z.number().min(0).default(2).describe('minutes between training states written between snapshots, so kill -9 or a power cut loses at most this much (0: only with snapshots)'),
  outdir: z.string().default('runs').describe('parent folder of run folders'),
  desc: z.string().default('').describe('run folder suffix (default: built from dataset, cond and arch)'),
  resume: z.string().default('').describe('run folder or training-state file to continue exactly'),
  init: z.string().default('').describe('start a fresh run from these teacher weights (a snapshot or shipped name; fresh Adam state) instead of random ones'),
});

export type TeacherConfig = z.infer<typeof TeacherConfig>;

/**
 * Keys that fix the training trajectory: a resumed run must keep them (others — duration, tick, snap,
 * grid, budget, outdir — may change).
 */
export const FROZEN_ON_RESUME = [
  'dataset',
  'cond',
  'arch',
  'modelChannels',
  'channelMult',
  'numBlocks',
  'attnResolutions',
  'dropout',
  'mlpWidth',
  'mlpDepth',
  'precond',
  'sigmaData',
  'pMean',
  'pStd',
  'batch',
  'lr',
  'lrRampup',
  'emaHalfLife',
  'emaRampup',
  'seed',
] as const satisfies readonly (keyof TeacherConfig)[];
