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

/** A full, validated distill config for the page (unknown keys are errors, as everywhere). */
export function playgroundConfig(overrides: Partial<DistillConfig> = {}): DistillConfig {
  const cfg = DistillConfig.strict().parse({ ...PAGE_DEFAULTS, ...overrides });
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
