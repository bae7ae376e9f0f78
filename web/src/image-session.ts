/**
 * One Diff-Instruct distillation of an EDM image teacher into a one-step generator in the page (Luo et
 * al. 2023 §4.1): the generator is the teacher's denoiser at one σ_init, and generator and fake score
 * both start as copies of the teacher. The steps, keys, learning-rate and EMA schedules are the CLI
 * trainer's (`makeSteps`, `distillOptions.stepKey/lrScaleAt/emaBetaAt`), so a page run with a config
 * draws the same batches as `diff-instruct distill --config` with it; samples and metrics go through
 * the same `generateFromModel` and `ImageEvaluator` as the CLI's snapshots, so the numbers the page shows
 * are the numbers `diff-instruct eval` gives for the downloaded file.
 *
 * Each `run` call dispatches its steps and then awaits one read of their scalars, so the page can draw
 * and take clicks between calls.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { adam, distillOptions, generator, imageMetrics, makeSteps, params as ckpt, sample } from 'diff-instruct';
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
  fakeStepsDone = 0;
  skipped = 0;
  #gen: steps.GenState;
  #fake: steps.FakeState;
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
    this.#gen = { theta: tree.ref(theta0), ema: tree.ref(theta0), opt: adam.adamInit(theta0) };
    const phi0 = tree.ref(teacher.params);
    this.#fake = { phi: tree.ref(phi0), opt: adam.adamInit(phi0) };
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
      const s = this.genSteps;
      const lr = np.array(distillOptions.lrScaleAt(cfg, s));
      for (let j = 0; usesFake && j < cfg.fakeSteps; j++) {
        const [next, st] = this.#fns.fakeStep(this.#fake, tree.ref(this.#gen.theta), distillOptions.stepKey(cfg.seed, this.fakeStepsDone, 0), lr.ref);
        this.#fake = next;
        this.fakeStepsDone++;
        keep(st, fLoss);
      }
      const beta = np.array(distillOptions.emaBetaAt(cfg, s));
      const phi = usesFake ? tree.ref(this.#fake.phi) : {};
      const [next, st] = this.#fns.genStep(this.#gen, phi, tree.ref(this.teacher.params), distillOptions.stepKey(cfg.seed, s, 1), lr, beta);
      this.#gen = next;
      this.genSteps++;
      keep(st, gLoss);
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
    const x = await sample.generateFromModel(this.model, this.#gen.ema, seeds, labelsFor, { batchSize: this.cfg.batch });
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
    return ckpt.paramsToBytes(this.#gen.ema, meta);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tree.dispose(this.#gen);
    tree.dispose(this.#fake);
    this.#fns.fakeStep.dispose();
    this.#fns.genStep.dispose();
  }
}
