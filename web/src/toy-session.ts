/**
 * One live Diff-Instruct run on a 2-D analytic teacher, for the playground: the library's toy models
 * (`toyModels`) and jitted phases (`makeSteps`), driven a few steps at a time so the page stays
 * responsive. Each `run` call dispatches its steps and then awaits exactly one device read (the mean
 * losses, plus the plotted generator samples when asked), never a synchronous one.
 *
 * Keys follow the CLI trainer's scheme: step t of phase p uses `keyForSeed(t, 2^30 + 4·seed + p)`, so a
 * page run with the same settings draws the same batches as `diff-instruct distill --teacher toy:…`.
 */
import { jit, numpy as np, random, tree } from '@jax-js/jax';
import { adam, distillOptions, makeSteps, toyModels, type DistillConfig } from 'diff-instruct';
import { RESET_KEYS } from './toy-config.js';
import type { generator, steps } from 'diff-instruct';

type Params = generator.Params;

/** What one `run` call returns (host numbers). */
export interface RunResult {
  genSteps: number;
  fakeSteps: number;
  /** Mean fake-score (EDM denoising) loss over this call's fake steps; NaN if none ran. */
  fakeLoss: number;
  /** Mean generator surrogate loss over this call's generator steps; NaN if none ran. */
  genLoss: number;
  /** Generator samples for the plot, [n·2] interleaved, when requested. */
  samples?: Float32Array;
}

/** Settings whose change needs new jitted phases but keeps the current params (the rest need a reset). */
const LIVE_KEYS = ['loss', 'weighting', 'sigmaDist', 'pMean', 'pStd', 'sigmaMin', 'sigmaMax', 'sigmaFixed', 'karrasTMax', 'sidAlpha', 'lrGen', 'lrFake', 'fakeSteps', 'batch', 'beta1', 'beta2', 'clipGen', 'clipFake'] as const;

export class ToySession {
  cfg: DistillConfig;
  readonly toy: toyModels.ToyModels;
  /** Teacher samples [n·2] (a fixed key), for the plot and the MMD. */
  readonly teacherPoints: Float32Array;
  genSteps = 0;
  fakeStepsDone = 0;
  #fake: steps.FakeState;
  #gen: steps.GenState;
  #fns: ReturnType<typeof makeSteps>;
  #zPlot: np.Array;
  #sample = jit((theta: Params, z: np.Array) => this.toy.models.generator.apply(theta, z, null));
  #disposed = false;

  private constructor(cfg: DistillConfig, teacherPoints: Float32Array, toy: toyModels.ToyModels, nPlot: number) {
    this.cfg = cfg;
    this.toy = toy;
    this.teacherPoints = teacherPoints;
    this.#gen = { theta: tree.ref(toy.theta0), ema: tree.ref(toy.theta0), opt: adam.adamInit(toy.theta0) };
    this.#fake = { phi: tree.ref(toy.phi0), opt: adam.adamInit(toy.phi0) };
    this.#fns = makeSteps(toy.models, distillOptions.stepOptionsOf(cfg));
    // Fixed latents for the plot, so the picture moves smoothly as θ changes.
    this.#zPlot = toy.models.generator.sampleLatent(random.key(7), nPlot);
  }

  /** Builds the models and draws `nPlot` teacher samples (one awaited read). */
  static async create(cfg: DistillConfig, nPlot = 600): Promise<ToySession> {
    const toy = toyModels.toyModels(cfg);
    const teacherPoints = (await toy.mixture.sample(random.key(12345), nPlot).data()) as Float32Array;
    return new ToySession(cfg, teacherPoints, toy, nPlot);
  }

  /** Applies new settings that keep the params (loss, σ distribution, learning rates, ratio, batch). */
  update(cfg: DistillConfig): void {
    const changed = LIVE_KEYS.some((k) => cfg[k] !== this.cfg[k]);
    const needsReset = RESET_KEYS.some((k) => cfg[k] !== this.cfg[k]);
    if (needsReset) throw new Error(`settings ${RESET_KEYS.filter((k) => cfg[k] !== this.cfg[k]).join(', ')} need a reset`);
    this.cfg = cfg;
    if (changed) {
      this.#fns.fakeStep.dispose();
      this.#fns.genStep.dispose();
      this.#fns = makeSteps(this.toy.models, distillOptions.stepOptionsOf(cfg));
    }
  }

  /** Whether the run is still in the fake-score warm-up (no generator step yet). */
  get warmingUp(): boolean {
    return this.cfg.loss !== 'sds' && this.fakeStepsDone < this.cfg.fakeWarmup;
  }

  /**
   * Runs `genSteps` generator steps, each after `fakeSteps` fake-score steps (during the warm-up:
   * `genSteps × fakeSteps` fake steps only), then awaits one read of the mean losses (and samples).
   */
  async run(genSteps: number, withSamples = false): Promise<RunResult> {
    const usesFake = this.cfg.loss !== 'sds';
    const fakePer = usesFake ? Math.max(1, this.cfg.fakeSteps) : 0;
    const one = () => np.array(1);
    const fLoss: np.Array[] = [];
    const gLoss: np.Array[] = [];
    const keep = (st: steps.StepStats, into: np.Array[]) => {
      st.gradNorm.dispose();
      st.finite.dispose();
      into.push(st.loss);
    };
    let g = 0, f = 0;
    for (let i = 0; i < genSteps; i++) {
      for (let j = 0; j < fakePer; j++) {
        const [next, st] = this.#fns.fakeStep(this.#fake, tree.ref(this.#gen.theta), distillOptions.stepKey(this.cfg.seed, this.fakeStepsDone, 0), one());
        this.#fake = next;
        this.fakeStepsDone++;
        f++;
        keep(st, fLoss);
      }
      if (this.warmingUp) continue;
      const phi = usesFake ? tree.ref(this.#fake.phi) : {};
      // β = 0: the "EMA" is θ itself; the page shows the live generator.
      const [next, st] = this.#fns.genStep(this.#gen, phi, {}, distillOptions.stepKey(this.cfg.seed, this.genSteps, 1), one(), np.array(0));
      this.#gen = next;
      this.genSteps++;
      g++;
      keep(st, gLoss);
    }
    const meanOf = (xs: np.Array[]) => (xs.length ? np.stack(xs).mean().reshape([1]) : np.array([NaN]));
    const parts = [meanOf(fLoss), meanOf(gLoss)];
    if (withSamples) parts.push(this.#sample(tree.ref(this.#gen.theta), this.#zPlot.ref).reshape([-1]));
    const host = (await np.concatenate(parts).data()) as Float32Array;
    return { genSteps: g, fakeSteps: f, fakeLoss: host[0], genLoss: host[1], samples: withSamples ? host.slice(2) : undefined };
  }

  /** Current generator samples at the plot latents (one awaited read). */
  async samples(): Promise<Float32Array> {
    return (await this.#sample(tree.ref(this.#gen.theta), this.#zPlot.ref).data()) as Float32Array;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tree.dispose(this.#gen);
    tree.dispose(this.#fake);
    this.#zPlot.dispose();
    this.#fns.fakeStep.dispose();
    this.#fns.genStep.dispose();
    this.#sample.dispose();
  }
}
