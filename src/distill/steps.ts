/**
 * The two alternating phases of Diff-Instruct (Luo et al. 2023, Algorithm 1), each one jitted function
 * with state in and state out:
 *  1. fake-score phase: D_φ learns the generator's own distribution by EDM denoising score matching on
 *     fresh, stopped-gradient generator samples (reference: `DI_EDMLoss.__call__` on G's output);
 *  2. generator phase: θ descends the method's surrogate (losses.ts) with both denoisers frozen.
 * Both phases draw latents and labels from an explicit key; the generator's EMA is updated in phase 2.
 */
import { jit, lax, numpy as np, tree, valueAndGrad, type OwnedFunction } from '@jax-js/jax';
import { splitKeyList } from '../random/seeds.js';
import type { Denoiser } from '../edm/precond.js';
import { edmLoss } from '../edm/loss.js';
import { adamUpdateFlat, type AdamConfig, type AdamState } from '../train/adam.js';
import { clipFlat } from '../train/clip.js';
import { concatLeaves } from '../train/tree.js';
import { paramTree, type Stored, type TreeLayout } from '../train/flat-params.js';
import { emaUpdate } from '../train/ema.js';
import { sampleLabels, type GeneratorModel, type Params } from './generator.js';
import { generatorLoss, type GeneratorLossOpts } from './losses.js';

export interface DistillModels {
  /** D_p: the frozen teacher. */
  teacher: Denoiser;
  /** D_φ: the fake score (usually the teacher's architecture, initialised from its weights). */
  fake: Denoiser;
  generator: GeneratorModel;
}

export interface StepOptions {
  batch: number;
  loss: GeneratorLossOpts;
  /** EDM denoising score matching for the fake score (ln σ ~ N(pMean, pStd²), σ_data). */
  fakeLoss: { pMean: number; pStd: number; sigmaData: number };
  adamFake: AdamConfig;
  adamGen: AdamConfig;
  /** Max global gradient norm (≤ 0: off). */
  clipFake: number;
  clipGen: number;
  /** Whether the networks run in training mode (dropout) in each phase, as the reference does. */
  dropout: boolean;
}

/** The fake score's training state; `phi` is a tree or, with its layout given to `makeSteps`, flat (src/train/flat-params.ts). */
export type FakeState<P extends Stored<Params> = Params> = {
  phi: P;
  opt: AdamState<P>;
};

/** The generator's training state; `theta` and `ema` both trees or both flat, as `phi`. */
export type GenState<P extends Stored<Params> = Params> = {
  theta: P;
  opt: AdamState<P>;
  ema: P;
};

/** The param trees' layouts, for params held flat in the states (the trainer's way: Adam and the EMA one kernel each). */
export interface StepLayouts {
  theta: TreeLayout;
  phi: TreeLayout;
}

/** Per-step scalars returned to the host (read at tick boundaries). */
export type StepStats = {
  loss: np.Array;
  gradNorm: np.Array;
  finite: np.Array;
};

function drawBatch(gen: GeneratorModel, key: np.Array, n: number): { z: np.Array; labels: np.Array | null } {
  const [kz, kl] = splitKeyList(key, 2);
  const z = gen.sampleLatent(kz, n);
  if (gen.labelDim > 0) return { z, labels: sampleLabels(kl, n, gen.labelDim) };
  kl.dispose();
  return { z, labels: null };
}

/**
 * The shared tail of both phases: clip the gradients, take an Adam step, and keep the old params and
 * optimizer state when the loss or the gradient norm is not finite (a NaN/Inf or overflowing gradient
 * makes ‖g‖ non-finite). Consumes every argument.
 */
function guardedAdam<P extends Stored<Params>>(grads0: Params, loss: np.Array, params: P, opt: AdamState<P>, adam: AdamConfig, clip: number, lrScale: np.Array) {
  const { g, norm } = clipFlat(concatLeaves(grads0), clip); // flat: a few kernels over the whole model
  const finite = np.logicalAnd(np.isfinite(norm.ref), np.isfinite(loss.ref));
  const next = adamUpdateFlat(g, opt, params, adam, lrScale, finite.ref);
  return { params: next.params, opt: next.state, stats: { loss, gradNorm: norm, finite } as StepStats };
}

/** The two jitted phases that `makeSteps` builds, for states whose params have form `P` (trees or flat). */
export interface DistillSteps<P extends Stored<Params> = Params> {
  /** Phase 1. Consumes every argument; returns the new fake state and stats. */
  fakeStep: OwnedFunction<(state: FakeState<P>, theta: P, key: np.Array, lrScale: np.Array) => [FakeState<P>, StepStats]>;
  /** Phase 2. Consumes every argument; returns the new generator state and stats. */
  genStep: OwnedFunction<(state: GenState<P>, phi: P, teacherParams: Params, key: np.Array, lrScale: np.Array, emaBeta: np.Array) => [GenState<P>, StepStats]>;
}

/**
 * Builds the two jitted phase functions for fixed models and options. With `layouts`, the states and the
 * params passed across (`theta` to the fake step, `phi` to the generator step) may be flat vectors.
 */
export function makeSteps<P extends Stored<Params>>(models: DistillModels, o: StepOptions, layouts: StepLayouts | undefined): DistillSteps<P>;
export function makeSteps(models: DistillModels, o: StepOptions): DistillSteps;
export function makeSteps(models: DistillModels, o: StepOptions, layouts?: StepLayouts): DistillSteps<any> {
  type P = Stored<Params>;
  const { teacher, fake, generator: gen } = models;
  const train = o.dropout;
  // the param trees the networks read: the trees themselves, or views of the flat vectors (consume `p`)
  const thetaTree = (p: Stored<Params>) => paramTree<Params>(p, layouts?.theta, 'generator params');
  const phiTree = (p: Stored<Params>) => paramTree<Params>(p, layouts?.phi, 'fake-score params');

  /** Phase 1. Consumes every argument; returns the new fake state and stats. */
  const fakeStep = jit((state: FakeState<P>, theta: P, key: np.Array, lrScale: np.Array): [FakeState<P>, StepStats] => {
    const [kBatch, kDrop, kLoss] = splitKeyList(key, 3);
    const { z, labels } = drawBatch(gen, kBatch, o.batch);
    const [kg, kf] = splitKeyList(kDrop, 2);
    const x0 = lax.stopGradient(gen.apply(thetaTree(theta), z, labels ? labels.ref : null, { key: kg, train: false }));
    const lossFn = (phi: Params) =>
      edmLoss(
        (p: Params, x: np.Array, s: np.Array, l: np.Array | null) => fake(p, x, s, l, { key: kf.ref, train }),
        phi,
        x0.ref,
        labels ? labels.ref : null,
        kLoss.ref,
        o.fakeLoss,
      ).mean();
    const [loss, grads0] = valueAndGrad(lossFn)(phiTree(tree.ref<Stored<Params>>(state.phi)));
    x0.dispose();
    labels?.dispose();
    kLoss.dispose();
    kf.dispose();
    const { params: phi, opt, stats } = guardedAdam(grads0 as Params, loss, state.phi, state.opt, o.adamFake, o.clipFake, lrScale);
    return [{ phi, opt }, stats];
  });

  /** Phase 2. Consumes every argument; returns the new generator state and stats. */
  const genStep = jit(
    (state: GenState<P>, phi: P, teacherParams: Params, key: np.Array, lrScale: np.Array, emaBeta: np.Array): [GenState<P>, StepStats] => {
      const [kBatch, kDrop, kLoss] = splitKeyList(key, 3);
      const { z, labels } = drawBatch(gen, kBatch, o.batch);
      const [kg, kd] = splitKeyList(kDrop, 2);
      // Same dropout key for teacher and fake, as the reference restores the RNG state between them.
      const withKey = (d: Denoiser): Denoiser => (p, x, s, l) => d(p, x, s, l, { key: kd.ref, train });
      const phiT = phiTree(phi);
      const lossFn = (theta: Params) => {
        const x0 = gen.apply(theta, z.ref, labels ? labels.ref : null, { key: kg.ref, train });
        return generatorLoss(o.loss, withKey(teacher), teacherParams, withKey(fake), phiT, x0, labels ? labels.ref : null, kLoss).mean();
      };
      const [loss, grads0] = valueAndGrad(lossFn)(thetaTree(tree.ref<Stored<Params>>(state.theta)));
      z.dispose();
      labels?.dispose();
      kg.dispose();
      kd.dispose();
      const { params: theta, opt, stats } = guardedAdam(grads0 as Params, loss, state.theta, state.opt, o.adamGen, o.clipGen, lrScale);
      const ema = emaUpdate(state.ema, tree.ref(theta), emaBeta);
      return [{ theta, opt, ema }, stats];
    },
  );

  return { fakeStep, genStep } as DistillSteps<P>;
}
