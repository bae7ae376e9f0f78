/**
 * The `distill` configuration: one strict schema with a default and a reason per field. Defaults follow
 * the Diff-Instruct reference run (pkulwj1994/diff_instruct, CIFAR-10 EDM: Adam β=(0, 0.999), lr 1e-5 for
 * both nets, batch 128, one fake step per generator step, lognormal σ (−1.2, 1.2), EMA half-life 0.5
 * Mimg, fp32) except where a field says why it differs.
 */
import { evalCountField, seedListField } from '../config/fields.js';
import { z } from 'zod';
import { GENERATOR_LOSSES, WEIGHTINGS } from './losses.js';

export const SIGMA_DISTS = ['lognormal', 'loguniform', 'karras', 'fixed'] as const;
export const FAKE_INITS = ['scratch', 'teacher'] as const;

export const DistillConfig = z.object({
  teacher: z.string().default('fmnist-cond').describe('teacher: a shipped name (models/<name>.safetensors), a checkpoint path, or toy:<name> for an analytic 2-D mixture'),
  loss: z.enum(GENERATOR_LOSSES).default('ikl').describe('generator loss: ikl (Diff-Instruct), sid (Score identity Distillation), dmd (Distribution Matching Distillation), sds (score distillation, no fake score)'),
  weighting: z.enum(WEIGHTINGS).default('reference').describe('w(σ) on D_φ − D_p: reference (1, as the paper\'s code), score-uniform (1/σ²), normalized (1/mean|x0 − D_p|)'),
  sigmaDist: z.enum(SIGMA_DISTS).default('lognormal').describe('σ distribution of the generator loss (lognormal as the reference; karras as SiD)'),
  pMean: z.number().default(-1.2).describe('mean of ln σ (lognormal σ, generator and fake-score losses; EDM/reference value)'),
  pStd: z.number().positive().default(1.2).describe('std of ln σ (lognormal σ; EDM/reference value)'),
  sigmaMin: z.number().positive().default(0.002).describe('smallest σ for loguniform/karras σ (EDM σ_min)'),
  sigmaMax: z.number().positive().default(80).describe('largest σ for loguniform/karras σ (EDM σ_max)'),
  sigmaFixed: z.number().positive().default(0.05).describe('σ for sigmaDist=fixed (plain KL at one small noise level)'),
  karrasTMax: z.number().min(0).max(1).default(0.8).describe('upper end of t for karras σ (SiD uses 800/1000)'),
  sidAlpha: z.number().default(1.2).describe("SiD's α (its recommended 1.2)"),
  sigmaInit: z.number().positive().default(2.5).describe('σ_init of the one-step generator D(z, σ_init), z ~ N(0, σ_init²) (reference: 2.5)'),
  sigmaData: z.number().positive().default(0.5).describe('σ_data of EDM preconditioning and loss weighting (images in [-1, 1])'),
  fakeSteps: z.number().int().min(0).default(1).describe('fake-score steps per generator step (reference: 1; 0 only for sds)'),
  fakeWarmup: z.number().int().min(0).default(0).describe('fake-score steps before the first generator step (needed when the fake score is not a copy of the teacher, e.g. analytic teachers)'),
  lrGen: z.number().positive().default(1e-5).describe('generator Adam learning rate (reference 1e-5)'),
  lrFake: z.number().positive().default(1e-5).describe('fake-score Adam learning rate (reference 1e-5)'),
  beta1: z.number().min(0).max(1).default(0).describe('Adam β1 for both nets (reference 0: no momentum, the fake score moves every step)'),
  beta2: z.number().min(0).max(1).default(0.999).describe('Adam β2 for both nets (reference 0.999)'),
  eps: z.number().positive().default(1e-8).describe('Adam ε'),
  lrRampup: z.number().min(0).default(0).describe('learning-rate ramp-up in kimg (0: none)'),
  clipGen: z.number().min(0).default(0).describe('max global gradient norm of the generator (0: off)'),
  clipFake: z.number().min(0).default(0).describe('max global gradient norm of the fake score (0: off)'),
  dropout: z.boolean().default(true).describe('run teacher, fake and generator in training mode (dropout) as the reference does'),
  batch: z.number().int().positive().default(128).describe('images per step for both phases (reference 128)'),
  duration: z.number().positive().default(200).describe('training length in kimg of generator images'),
  emaHalfLife: z.number().min(0).default(500).describe('generator EMA half-life in kimg (reference 500)'),
  emaRampup: z.number().min(0).nullable().default(0.05).describe('EMA ramp-up ratio (half-life ≤ ratio × images so far; EDM 0.05; null: off)'),
  tick: z.number().positive().default(10).describe('kimg between progress lines, stats and grids'),
  snap: z.number().int().positive().default(5).describe('ticks between snapshots (with metrics)'),
  evalN: evalCountField(10000, 'samples for FD/KID/precision/recall at each snapshot (0: no metrics)'),
  gridSeeds: seedListField('0-99', 'image seeds of the fixed sample grid (one row per class for conditional models)'),
  seed: z.number().int().min(0).default(0).describe('training seed (keys for latents, labels, σ and noise)'),
  maxMinutes: z.number().min(0).default(0).describe('wall-clock budget: stop cleanly with a snapshot after this many minutes (0: none)'),
  stateMinutes: z.number().min(0).default(2).describe('minutes between training states written between snapshots, so kill -9 or a power cut loses at most this much (0: only with snapshots); a state holds 7 copies of the network: 34 MB for fmnist-cond, written in 0.2–0.5 s on a 2-core CPU, benchmarks/cpu-runs/state-write/'),
  mlpWidth: z.number().int().positive().default(128).describe('hidden width of the 2-D MLP generator and fake score (toy teachers only)'),
  mlpDepth: z.number().int().positive().default(3).describe('hidden layers of the 2-D MLP generator and fake score (toy teachers only)'),
  latentDim: z.number().int().positive().default(2).describe('latent dimension of the 2-D MLP generator (toy teachers only)'),
  latentStd: z.number().positive().default(1).describe('std of the 2-D MLP generator\'s latent, z ~ N(0, latentStd²·I) (toy teachers only): Adam moves each weight ~lr per step, so a wider latent lets the generator grow steep enough to split into separate modes (ring8: 1 → ~49 % within 3σ, 8 → ≥ 90 %)'),
  fakeInit: z.enum(FAKE_INITS).default('scratch').describe('fake score of toy teachers: scratch (EDM-preconditioned MLP) or teacher (D_p + c_out·MLP residual, zero last layer: the teacher at step 0, as the paper\'s copy; an MLP generator still starts far from the teacher, so keep fakeWarmup); image teachers always copy the teacher'),
  outdir: z.string().default('runs').describe('parent folder of run folders'),
  desc: z.string().default('').describe('run folder suffix (default: built from teacher and loss)'),
  resume: z.string().default('').describe('run folder or training-state file to resume exactly'),
});

export type DistillConfig = z.infer<typeof DistillConfig>;

/**
 * Defaults on WebAssembly (a CPU) for image teachers, used where the user gives no value: the reference
 * run's batch 128 does not fit in Wasm's 4 GiB (batch 8 does, 16 not: benchmarks/cpu-runs/oom-probe/) and
 * 200 kimg at ~1 image/s would take days. These are the measured CPU quick start's (configs/quickstart-
 * fmnist-cpu.json: 64 generator steps of batch 4 and FD on 200 samples before and after, 5 min 27 s on
 * 2 cores, benchmarks/cpu-runs/quickstart-fmnist-cpu/). That preset also raises both learning rates to
 * 1e-4, which is a choice of method, not of device, so it is not applied here.
 */
export const WASM_IMAGE_DEFAULTS = { batch: 4, duration: 0.256, tick: 0.128, snap: 100, evalN: 200 } as const;
