/**
 * The 2-D playground's configuration, without jax-js arrays (the page's main thread and its training
 * worker both read it): the page's departures from the CLI's `distill` defaults, the one validating
 * function that the form, the URL and the worker share, and which settings restart a run.
 */
import { DistillConfig, toyModels } from 'diff-instruct';

/** The playground's departures from the CLI defaults, and why. */
export const PAGE_DEFAULTS = {
  teacher: 'toy:ring8',
  // The CLI's 1e-5 fine-tunes a generator that starts as a copy of the teacher; here both MLPs start
  // from scratch, so they need far larger steps to move in seconds.
  lrGen: 2e-3,
  lrFake: 4e-3,
  // Adam with momentum settles the small MLPs faster than the reference's β1 = 0.
  beta1: 0.5,
  beta2: 0.99,
  // 128 points a step: on a software GPU 30% more steps/s than 256, with the same MMD after 60 steps.
  batch: 128,
  mlpWidth: 64,
  mlpDepth: 3,
  // The fake score starts untrained: let it fit the initial generator before the generator moves.
  fakeWarmup: 100,
  fakeSteps: 2,
  dropout: false,
  // σ of the toys' data is ~2 (not EDM's 0.5 for images in [−1, 1]).
  sigmaData: 1,
  pMean: -1,
  pStd: 1.2,
  sigmaMin: 0.02,
  sigmaMax: 10,
} satisfies Partial<DistillConfig>;

/**
 * Each loss's departures from PAGE_DEFAULTS, so that every loss trains with its defaults. Measured on
 * ring8 in Node (Wasm, the page's ToySession and keys, seed 0, 1,000 generator steps; 2-core machine,
 * 2026-12-07; modes covered / MMD² on 1,000 points):
 *  - IKL with PAGE_DEFAULTS: 7/8, 0.016 (with latentStd 8 and clipping: 6/8, 0.022).
 *  - SiD with PAGE_DEFAULTS diverges (fake-score loss 1.5e7 by step 600; also with Karras σ and clipping,
 *    or lognormal σ): its 1/mean|x0 − D_p| normaliser blows up at small σ (σ_min 0.1 still diverges, and
 *    so do 4 fake steps per generator step). Log-uniform σ on [0.2, 3], a wider latent, clipping and
 *    generator lr 1e-3: α 1.2 (the paper's) 5/8, 0.025 on the 600 plotted points; α 1: 7/8, 0.021.
 *  - DMD with PAGE_DEFAULTS: 4/8 at 600 steps; with latentStd 8 and clipping: 7/8, 0.023 at 1,000.
 *  - SDS (no fake score) is mode-seeking: it collapses onto a few modes whatever its σ (0/8 with
 *    PAGE_DEFAULTS; 2/8 at 96 % within 3 std of a mode with latentStd 8 and σ in [0.02, 0.3]); the
 *    page says so (SDS_NOTE) rather than pretend a default fixes it.
 */
export const LOSS_DEFAULTS: Record<string, Partial<DistillConfig>> = {
  ikl: {},
  sid: { sigmaDist: 'loguniform', sigmaMin: 0.2, sigmaMax: 3, lrGen: 1e-3, clipGen: 1, clipFake: 10, latentStd: 8, sidAlpha: 1 },
  dmd: { latentStd: 8, clipGen: 1, clipFake: 10 },
  sds: { latentStd: 8, sigmaDist: 'loguniform', sigmaMin: 0.02, sigmaMax: 0.3 },
};
export const SDS_NOTE = 'SDS has no fake score, so nothing spreads the points: it collapses onto a few modes (2 of ring8’s 8 with these defaults, measured). Compare with IKL or DMD.';

/** The defaults of `loss` (PAGE_DEFAULTS with the loss's own departures). */
export function lossDefaults(loss: string): Partial<DistillConfig> {
  return { ...PAGE_DEFAULTS, ...(LOSS_DEFAULTS[loss] ?? {}) };
}

/** A full, validated distill config for the page (unknown keys are errors, as everywhere). */
export function playgroundConfig(overrides: Partial<DistillConfig> = {}): DistillConfig {
  const cfg = DistillConfig.strict().parse({ ...lossDefaults(overrides.loss ?? 'ikl'), ...overrides });
  const toy = cfg.teacher.startsWith('toy:') ? cfg.teacher.slice(4) : '';
  if (!toyModels.TOY_TEACHERS.includes(toy)) {
    throw new Error(`teacher '${cfg.teacher}' is not a 2-D teacher here: use one of ${toyModels.TOY_TEACHERS.join(', ')} (only Gaussian mixtures have an exact score)`);
  }
  // The CLI trainer's rule: only SDS (no fake score) may skip fake-score steps.
  if (cfg.loss !== 'sds' && cfg.fakeSteps === 0) throw new Error(`fake : generator steps 0 is only valid with loss SDS (loss '${cfg.loss}' needs a fake score)`);
  if ((cfg.sigmaDist === 'loguniform' || cfg.sigmaDist === 'karras') && !(cfg.sigmaMin < cfg.sigmaMax)) {
    throw new Error(`σ_min ${cfg.sigmaMin} must be below σ_max ${cfg.sigmaMax}`);
  }
  return cfg;
}

/** Settings that define the models; changing them restarts the run. */
export const RESET_KEYS = ['teacher', 'mlpWidth', 'mlpDepth', 'latentDim', 'latentStd', 'sigmaData', 'seed'] as const;
