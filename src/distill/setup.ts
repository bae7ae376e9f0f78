/**
 * Builds what the distillation trainer needs from a config: teacher D_p and its params, the generator
 * and fake-score models with their initial params, checkpoint metadata for the generator, and the
 * per-snapshot evaluation and picture. Two kinds of teacher:
 *  - an EDM checkpoint (shipped name or path): the paper's setting — the generator is the teacher's
 *    denoiser at σ_init and both the generator and the fake score start as copies of the teacher;
 *  - `toy:<name>`, an analytic 2-D Gaussian mixture with its exact denoiser: an MLP generator and an
 *    MLP fake score, either trained from scratch (needs `fakeWarmup`) or, with `fakeInit: 'teacher'`,
 *    the teacher plus a zero-initialised MLP residual (toy-models.ts).
 */
import { numpy as np, random } from '@jax-js/jax';
import { splitKeyList } from '../random/seeds.js';
import type { RunDir } from '../run/run-dir.js';
import { GENERATOR_COLOR, saveScatter, TEACHER_COLOR } from '../io/scatter.js';
import type { DistillConfig } from './config.js';
import { sampleLabels, type GeneratorModel, type Params } from './generator.js';
import type { DistillModels } from './steps.js';
import { gridName } from '../run/run-dir.js';

export interface DistillSetup {
  teacherName: string;
  models: DistillModels;
  /** Frozen teacher params (owned by the setup; `disposeSetup` frees them). */
  teacherParams: Params;
  /** Initial generator params (runDistill takes ownership). */
  theta0: Params;
  /** Initial fake-score params (runDistill takes ownership). */
  phi0: Params;
  /** Written into every generator snapshot; enough to rebuild the generator (`loadGenerator`). */
  generatorMeta: Record<string, unknown>;
  /** Metrics of the EMA generator from `n` samples (consumes `ema`). */
  /** Metrics of the EMA generator on `n` samples; `onImages` hears how many are generated (for a progress line). */
  evaluate?: (ema: Params, n: number, onImages?: (done: number, total: number) => void) => Promise<Record<string, number>>;
  /** Writes the fixed-seed picture of the EMA generator for a tick (consumes `ema`). */
  drawGrid?: (ema: Params, run: RunDir, kimg: number, onImages?: (done: number, total: number) => void) => Promise<void>;
  /** Set by the trainer: where setup code may log. */
  log?: (line: string) => void;
}

/** Samples `n` points from a generator with fresh latents and uniform labels (consumes params and key). */
export function generateBatch(gen: GeneratorModel, params: Params, key: np.Array, n: number, labels: np.Array | null = null): np.Array {
  const [kz, kl] = splitKeyList(key, 2);
  const z = gen.sampleLatent(kz, n);
  if (!labels && gen.labelDim > 0) labels = sampleLabels(kl, n, gen.labelDim);
  else kl.dispose();
  return gen.apply(params, z, labels, { train: false });
}

/** Bounds of the scatter pictures of a toy: its mode extent (or samples) plus margin. */
function toyRange(points: Float32Array): [number, number] {
  let m = 0;
  for (const v of points) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  const r = Math.ceil(m * 1.25 + 0.5);
  return [-r, r];
}

/**
 * `toy:<name>`: the models of toy-models.ts (exact mixture denoiser as teacher, MLP generator, MLP fake
 * score from scratch or as a residual on the teacher: `fakeInit`) plus metrics and scatter pictures.
 */
export async function setupToy(cfg: DistillConfig, opts: { latentDim?: number } = {}): Promise<DistillSetup> {
  const { toyModels } = await import('./toy-models.js');
  const { withParticles } = await import('./particles.js');
  // loss 'sds' = Diff-Instruct with a Dirac generator (docs/sds-as-diff-instruct.md): `batch` free particles
  const base = toyModels(cfg, opts);
  const { name, mixture, models, theta0, phi0, generatorMeta } = cfg.loss === 'sds' ? withParticles(base, { count: cfg.batch, sigmaInit: cfg.sigmaInit, seed: cfg.seed }) : base;
  const generator = models.generator;
  const { toy2dMetrics } = await import('../metrics/toy2d.js');
  const ref = await mixture.sample(random.key(12345), 2000).data();
  const range = toyRange(ref as Float32Array);

  return {
    teacherName: `toy:${name}`,
    models,
    teacherParams: {},
    theta0,
    phi0,
    generatorMeta,
    evaluate: toy2dMetrics
      ? async (ema, n) => {
          const x = generateBatch(generator, ema, random.key(999), n);
          return toy2dMetrics(x, name);
        }
      : undefined,
    drawGrid: async (ema, run, kimg) => {
      const x = await generateBatch(generator, ema, random.key(4242), 2000).data();
      saveScatter(run.file(gridName(kimg)), [
        { points: ref as Float32Array, color: TEACHER_COLOR },
        { points: x as Float32Array, color: GENERATOR_COLOR },
      ], { range });
    },
  };
}
