/**
 * The two alternating phases of GAN training, each one jitted function with state in and state out
 * (StyleGAN2's loop):
 *  1. D step: descend mean(softplus(D(G(z))) + softplus(−D(x))) over real x and fresh, stopped-gradient
 *     fakes; every k-th step (`dStepR1`) also + k·γ/2·mean‖∇ₓD(x)‖² — StyleGAN2's lazy R1, folded into
 *     the D step so the expected gradient is that of γ/2·R1 every step, with no extra optimizer step;
 *  2. G step: descend mean(softplus(−D(G(z)))) with D frozen, then update G's EMA.
 * Latents and fake labels come from an explicit key; real images and their labels are arguments.
 */
import { defaultDevice, jit, lax, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import { sampleLabels, type GeneratorModel, type Params } from '../distill/generator.js';
import { splitKeyList } from '../random/seeds.js';
import { adamUpdateFlat, type AdamConfig, type AdamState } from '../train/adam.js';
import { emaUpdate } from '../train/ema.js';
import { concatLeaves, flatSumOfSquares } from '../train/tree.js';
import { paramTree, type Stored, type TreeLayout } from '../train/flat-params.js';
import { discriminatorLoss, generatorLoss, r1Penalty } from './losses.js';

/** D(params, x [N, ...], one-hot labels or null) → logits [N]; consumes every argument. */
export type Discriminator = (params: Params, x: np.Array, labels: np.Array | null) => np.Array;

export interface GanModels {
  generator: GeneratorModel;
  discriminator: Discriminator;
  /** The same D for the R1 pass, if it should be computed differently (dcgan: through lax.conv). */
  discriminatorR1?: Discriminator;
}

export interface GanStepOptions {
  batch: number;
  /** R1 weight γ (0: off). */
  r1Gamma: number;
  /** Lazy R1: `dStepR1` (every r1Interval-th D step) weighs R1 by r1Interval·γ/2. */
  r1Interval: number;
  adamG: AdamConfig;
  adamD: AdamConfig;
}

/** D's training state; `d` is a tree or, with its layout given to `makeGanSteps`, flat (src/train/flat-params.ts). */
export type DState<P extends Stored<Params> = Params> = { d: P; opt: AdamState<P> };
/** G's training state; `g` and `ema` both trees or both flat, as `d`. */
export type GState<P extends Stored<Params> = Params> = { g: P; opt: AdamState<P>; ema: P };
/** The param trees' layouts, for params held flat in the states (the trainer's way: Adam and the EMA one kernel each). */
export interface GanLayouts {
  g: TreeLayout;
  d: TreeLayout;
}

/** Per-step scalars returned to the host (read a few steps late). */
export type DStats = { loss: np.Array; r1: np.Array; realLogit: np.Array; fakeLogit: np.Array; gradNorm: np.Array; finite: np.Array };
export type GStats = { loss: np.Array; gradNorm: np.Array; finite: np.Array };

/** Latents and (uniform, one-hot) labels of n fakes from `key` (consumed). */
function drawFakes(gen: GeneratorModel, key: np.Array, n: number): { z: np.Array; labels: np.Array | null } {
  const [kz, kl] = splitKeyList(key, 2);
  const z = gen.sampleLatent(kz, n);
  if (gen.labelDim > 0) return { z, labels: sampleLabels(kl, n, gen.labelDim) };
  kl.dispose();
  return { z, labels: null };
}

/** R1 and its gradient w.r.t. D's params: `value` = mean_n ‖∇ₓD(xₙ)‖², `grads` = ∂value/∂φ. */
export type R1Grad = { value: np.Array; grads: Params };

/**
 * Builds the phase functions for fixed models and options: `dStep` (jitted), `r1Grad` and `gStep`
 * (jitted). With `layouts`, the states and the params passed across (`g` to the D step, `d` to the G
 * step and `r1Grad`) may be flat vectors. A lazy-R1 step calls `r1Grad` first and passes its result to `dStep`, which adds it with
 * weight r1Interval·γ/2. `r1Grad` is jitted except on Wasm: jax-js 0.1.25's Wasm backend miscompiles
 * this grad-of-grad under jit (wrong ∂R1/∂φ whenever a conv has a multiple of 4 channels, while the
 * first-order gradients, the eager computation and WebGPU's jitted one all agree with finite
 * differences; src/gan/dcgan.test.ts keeps a check of it), and eagerly it is also faster there.
 */
export function makeGanSteps<P extends Stored<Params> = Params>(models: GanModels, o: GanStepOptions, layouts?: GanLayouts) {
  const { generator: gen, discriminator: D } = models;
  // the param trees the networks read: the trees themselves, or views of the flat vectors (consume `p`)
  const gTree = (p: Stored<Params>) => paramTree<Params>(p, layouts?.g, 'generator params');
  const dTree = (p: Stored<Params>) => paramTree<Params>(p, layouts?.d, 'discriminator params');
  const DR1 = models.discriminatorR1 ?? D;
  const lab = (l: np.Array | null) => (l ? l.ref : null);
  const r1Weight = (o.r1Interval * o.r1Gamma) / 2;

  /** ∇_φ mean R1 on the real batch. Consumes every argument (`yReal`: [] or [one-hot labels]). */
  const r1GradFn = (d: P, xReal: np.Array, yReal: np.Array[]): R1Grad => {
    const yr = yReal[0] ?? null;
    const [value, grads] = valueAndGrad((q: Params) => {
      const r1 = r1Penalty((x) => DR1(tree.ref(q), x, lab(yr)), xReal.ref).mean();
      tree.dispose(q);
      return r1;
    })(dTree(d));
    xReal.dispose();
    yr?.dispose();
    return { value, grads: grads as Params };
  };
  const r1GradJit = jit(r1GradFn);
  const r1Grad = (d: P, xReal: np.Array, yReal: np.Array[]): R1Grad => (defaultDevice() === 'wasm' ? r1GradFn(d, xReal, yReal) : (r1GradJit as unknown as typeof r1GradFn)(d, xReal, yReal));

  /**
   * Phase 1: non-saturating D loss on reals and fresh fakes, plus (lazy-R1 steps) r1Weight × the R1
   * gradient given in `r1` ([] or [r1Grad(...)]). Consumes every argument (`yReal` is [] or [one-hot
   * labels]: jit rejects null).
   */
  const makeDStep = (withR1: boolean) =>
    jit((s: DState<P>, g: P, xReal: np.Array, yReal: np.Array[], key: np.Array, r1: R1Grad[]): [DState<P>, DStats] => {
      const yr = yReal[0] ?? null;
      const { z, labels: yf } = drawFakes(gen, key, o.batch);
      const xFake = lax.stopGradient(gen.apply(gTree(g), z, lab(yf), { train: false }));
      const lossFn = (d: Params): [np.Array, { real: np.Array; fake: np.Array }] => {
        const real = D(tree.ref(d), xReal.ref, lab(yr));
        const fake = D(d, xFake.ref, lab(yf));
        const loss = discriminatorLoss(real.ref, fake.ref).mean();
        return [loss, { real: lax.stopGradient(real.mean()), fake: lax.stopGradient(fake.mean()) }];
      };
      const [[adv, aux], advGrads] = valueAndGrad(lossFn, { hasAux: true })(dTree(tree.ref<Stored<Params>>(s.d)));
      xReal.dispose();
      xFake.dispose();
      yr?.dispose();
      yf?.dispose();
      let grads = advGrads as Params;
      let loss = adv;
      let r1Value: np.Array;
      if (withR1) {
        const { value, grads: rg } = r1[0];
        grads = tree.map((a: np.Array, b: np.Array) => a.add(b.mul(r1Weight)), grads, rg) as Params;
        loss = loss.add(value.ref.mul(r1Weight));
        r1Value = value;
      } else r1Value = np.zeros([]);
      const gFlat = concatLeaves(grads);
      const gradNorm = np.sqrt(flatSumOfSquares(gFlat.ref));
      const finite = np.logicalAnd(np.isfinite(gradNorm.ref), np.isfinite(loss.ref)); // a NaN/Inf gradient makes ‖g‖ non-finite
      const { params: d, state: opt } = adamUpdateFlat(gFlat, s.opt, s.d, o.adamD, undefined, finite.ref);
      return [{ d, opt }, { loss, r1: r1Value, realLogit: aux.real, fakeLogit: aux.fake, gradNorm, finite }];
    });
  const dStep = makeDStep(false);
  const dStepR1 = o.r1Gamma > 0 ? makeDStep(true) : null;

  /** Phase 2. Consumes every argument; returns the new generator state (EMA updated) and stats. */
  const gStep = jit((s: GState<P>, d: P, key: np.Array, emaBeta: np.Array): [GState<P>, GStats] => {
    const { z, labels } = drawFakes(gen, key, o.batch);
    const dT = dTree(d);
    const lossFn = (g: Params) => {
      const x = gen.apply(g, z.ref, lab(labels), { train: true });
      return generatorLoss(D(tree.ref(dT), x, lab(labels))).mean();
    };
    const [loss, grads] = valueAndGrad(lossFn)(gTree(tree.ref<Stored<Params>>(s.g)));
    z.dispose();
    labels?.dispose();
    tree.dispose(dT);
    const gFlat = concatLeaves(grads as Params);
    const gradNorm = np.sqrt(flatSumOfSquares(gFlat.ref));
    const finite = np.logicalAnd(np.isfinite(gradNorm.ref), np.isfinite(loss.ref));
    const { params: g, state: opt } = adamUpdateFlat(gFlat, s.opt, s.g, o.adamG, undefined, finite.ref);
    const ema = emaUpdate(s.ema, tree.ref(g), emaBeta);
    return [{ g, opt, ema }, { loss, gradNorm, finite }];
  });

  return { dStep, dStepR1, r1Grad, r1GradJit, gStep };
}
