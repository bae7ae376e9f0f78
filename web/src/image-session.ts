/**
 * One Diff-Instruct distillation of an EDM image teacher into a one-step generator in the page (Luo et
 * al. 2023 §4.1): the generator is the teacher's denoiser at one σ_init, and generator and fake score
 * both start as copies of the teacher. Each generator step is the CLI trainer's own iteration
 * (`iteration.distillIteration`: its steps, keys, learning-rate ramp and EMA β), so a page run with a config
 * draws the same batches as `diff-instruct distill --config` with it; samples and metrics go through
 * the same `generateFromModel` and `ImageEvaluator` as the CLI's snapshots, so the numbers the page shows
 * are the numbers `diff-instruct eval` gives for the downloaded file.
 *
 * Each `run` call dispatches its steps and then awaits one read of their scalars, so the page can draw
 * and take clicks between calls.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { adam, distillOptions, generator, imageMetrics, iteration, makeSteps, params as ckpt, sample } from 'diff-instruct';
import type { DistillConfig, steps } from 'diff-instruct';
import type { LoadedCheckpoint } from './checkpoint.js';

export interface ImageRunResult {
  genSteps: number;
  /** Means over the call's steps (NaN when none ran). */
  fakeLoss: number;
  genLoss: number;
  /** Steps whose loss or gradient was not finite (skipped by the guarded Adam step). */
  skipped: number;
}

export class ImageSession {
  readonly cfg: DistillConfig;
  readonly teacher: LoadedCheckpoint;
  readonly model: generator.GeneratorModel;
  readonly shape: number[];
  readonly labelDim: number;
  genSteps = 0;
  skipped = 0;
  #state: iteration.DistillState;
  #fns: ReturnType<typeof makeSteps>;
  #disposed = false;

  /** Borrows `teacher` (its params stay the caller's). */
  constructor(teacher: LoadedCheckpoint, cfg: DistillConfig) {
    if (cfg.loss !== 'sds' && cfg.fakeSteps === 0) throw new Error(`fakeSteps 0 is only valid with loss 'sds' (loss '${cfg.loss}' needs a fake score)`);
    const c = teacher.netConfig;
    this.cfg = cfg;
    this.teacher = teacher;
    this.shape = [c.inChannels, c.imgResolution, c.imgResolution];
    this.labelDim = c.labelDim;
    this.model = generator.oneStepGenerator(teacher.denoiser, cfg.sigmaInit, this.shape, this.labelDim);
    const theta0 = tree.ref(teacher.params);
    const phi0 = tree.ref(teacher.params);
    this.#state = {
      gen: { theta: tree.ref(theta0), ema: tree.ref(theta0), opt: adam.adamInit(theta0) },
      fake: { phi: tree.ref(phi0), opt: adam.adamInit(phi0) },
      fakeDone: 0,
    };
    this.#fns = makeSteps({ teacher: teacher.denoiser, fake: teacher.denoiser, generator: this.model }, distillOptions.stepOptionsOf(cfg));
  }

  /** Generator images seen so far, in thousands (the trainers' kimg). */
  get kimg(): number {
    return (this.genSteps * this.cfg.batch) / 1000;
  }

  /** `n` generator steps, each after `fakeSteps` fake-score steps, as the CLI trainer; one awaited read. */
  async run(n: number): Promise<ImageRunResult> {
    const { cfg } = this;
    const usesFake = cfg.loss !== 'sds';
    const fLoss: np.Array[] = [], gLoss: np.Array[] = [], finite: np.Array[] = [];
    const keep = (st: steps.StepStats, into: np.Array[]) => {
      st.gradNorm.dispose();
      finite.push(st.finite.astype(np.float32));
      into.push(st.loss);
    };
    for (let i = 0; i < n; i++) {
      await iteration.distillIteration(this.#fns, this.#state, this.teacher.params, cfg, this.genSteps, usesFake ? cfg.fakeSteps : 0, (phase, st) => keep(st, phase === 'f' ? fLoss : gLoss));
      this.genSteps++;
    }
    const meanOf = (xs: np.Array[]) => (xs.length ? np.stack(xs).mean().reshape([1]) : np.array([NaN]));
    const sumOf = (xs: np.Array[]) => (xs.length ? np.stack(xs).sum().reshape([1]) : np.array([0]));
    const host = (await np.concatenate([meanOf(fLoss), meanOf(gLoss), sumOf(finite)]).data()) as Float32Array;
    const skipped = finite.length - host[2];
    this.skipped += skipped;
    return { genSteps: n, fakeLoss: host[0], genLoss: host[1], skipped };
  }

  /**
   * EMA-generator images for `seeds` ([n·C·H·W] on the host), with per-seed classes as `diff-instruct
   * sample` draws them (or the given ones), at the training batch (no new shapes to compile).
   */
  async images(seeds: number[], classes: number[] | null = null): Promise<Float32Array> {
    const labelsFor = await sample.labelsForSeeds(seeds, this.labelDim, classes);
    const x = await sample.generateFromModel(this.model, this.#state.gen.ema, seeds, labelsFor, { batchSize: this.cfg.batch });
    return (await x.data()) as Float32Array;
  }

  /** FD, KID, precision/recall, IS and class accuracy of the EMA generator on seeds 0…n−1 (the CLI's snapshot evaluation). */
  async evaluate(ev: imageMetrics.ImageEvaluator, n: number): Promise<imageMetrics.ImageMetrics> {
    const seeds = Array.from({ length: n }, (_, i) => i);
    const labels = this.labelDim > 0 ? await sample.classesForSeeds(seeds, this.labelDim) : undefined;
    return ev.evaluate(await this.images(seeds, labels ? Array.from(labels) : null), { labels });
  }

  /** The EMA generator as the safetensors file a CLI snapshot would be (`diff-instruct sample --network` reads it). */
  async generatorFile(extra: Record<string, unknown> = {}): Promise<Uint8Array> {
    const meta = {
      ...generator.oneStepGeneratorMeta(this.teacher.meta, String(this.teacher.meta.name ?? this.teacher.url.split('/').pop()?.replace(/\.safetensors$/, '')), this.cfg.sigmaInit, this.shape, this.labelDim),
      kimg: this.kimg,
      step: this.genSteps,
      lossKind: this.cfg.loss,
      config: this.cfg,
      device: 'browser',
      ...extra,
    };
    return ckpt.paramsToBytes(this.#state.gen.ema, meta);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tree.dispose(this.#state.gen);
    tree.dispose(this.#state.fake);
    this.#fns.fakeStep.dispose();
    this.#fns.genStep.dispose();
  }
}
