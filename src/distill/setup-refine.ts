/**
 * Refinement: Diff-Instruct with a pre-trained generator as the student (Luo et al. 2023 use it to
 * improve a pre-trained StyleGAN2 generator with an EDM teacher: the IKL gradient needs nothing from the
 * student but differentiable samples). The generator keeps its own latent distribution,
 * architecture and labels; only its params move. Like the paper's distillation setting, the fake score
 * D_φ starts as a copy of the teacher (it must first learn the student's distribution, which for a good
 * GAN is close to the teacher's). Everything else — losses, optimizers, EMA, snapshots, exact resume —
 * is `runDistill`'s, with the `distill` config (this adds one field, `generator`).
 *
 * Pictures: `before.png` (the generator as loaded) and `after-<kimg>.png` at each tick, from the same
 * image seeds (so the same latents and classes); metrics of the starting generator are logged too.
 */
import { tree } from '@jax-js/jax';
import { z } from 'zod';
import { parseSeeds } from '../random/seeds.js';
import { loadDenoiser } from '../teacher/load.js';
import { loadGenerator } from '../gan/load.js';
import { generatorEvaluator, writeGrid } from '../gan/evaluate.js';
import { DistillConfig } from './config.js';
import type { DistillSetup } from './setup.js';
import { gridName } from '../run/run-dir.js';

export const RefineConfig = DistillConfig.extend({
  generator: z.string().default('').describe('generator to refine: a GAN (train-gan) or one-step generator snapshot; its latent, architecture and classes are kept'),
});
export type RefineConfig = z.infer<typeof RefineConfig>;

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The refinement setup: `cfg.teacher` (an EDM teacher checkpoint) improves `cfg.generator`. */
export async function setupRefine(cfg: RefineConfig): Promise<DistillSetup> {
  if (!cfg.generator) throw new Error('refine: no generator given (--generator <generator-snapshot.safetensors>)');
  if (cfg.teacher.startsWith('toy:')) throw new Error(`refine: teacher '${cfg.teacher}' is a 2-D toy; refinement needs an image teacher checkpoint`);
  const t = await loadDenoiser(cfg.teacher);
  let g: Awaited<ReturnType<typeof loadGenerator>>;
  try {
    g = await loadGenerator(cfg.generator);
  } catch (e) {
    tree.dispose(t.params);
    throw e;
  }
  const { model } = g;
  const { dataShape, labelDim } = t.net;
  if (fmt(model.outputShape) !== fmt(dataShape) || model.labelDim !== labelDim) {
    tree.dispose(t.params);
    tree.dispose(g.params);
    throw new Error(
      `generator '${g.path}' makes ${fmt(model.outputShape)} samples with ${model.labelDim} classes, but teacher '${t.path}' models ${fmt(dataShape)} with ${labelDim} classes: shapes and classes must match`,
    );
  }
  const dataset = [g.meta.dataset, t.meta.dataset].find((d): d is string => typeof d === 'string');
  const { evaluate, why } = cfg.evalN > 0 ? await generatorEvaluator(model, dataset, cfg.batch) : { evaluate: undefined, why: 'evalN 0' };
  const gridSeeds = parseSeeds(cfg.gridSeeds);

  const setup: DistillSetup = {
    teacherName: cfg.teacher,
    models: { teacher: t.denoiser, fake: t.denoiser, generator: model },
    teacherParams: t.params,
    theta0: g.params,
    phi0: tree.ref(t.params),
    // The student's own description (so loadGenerator rebuilds it), plus where it came from.
    generatorMeta: { ...g.meta, refinedFrom: g.path, teacher: cfg.teacher },
    evaluate,
    drawGrid: async (ema, run, kimg) => {
      if (kimg > 0) return writeGrid(model, ema, gridSeeds, run, gridName(kimg, 'after'), 'Samples/generator', kimg, cfg.batch);
      // kimg 0 is only drawn before the first step of a fresh run: the generator as loaded (its
      // metrics are the trainer's kimg-0 evaluation).
      await writeGrid(model, ema, gridSeeds, run, 'before.png', 'Samples/generator', 0, cfg.batch);
      if (!evaluate && cfg.evalN > 0) setup.log?.(`metrics off: ${why}`);
    },
  };
  return setup;
}
