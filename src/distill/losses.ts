/**
 * Generator losses for distilling a diffusion teacher D_p into a generator x0 = g_θ(z), given a fake
 * score D_φ that tracks the generator's own distribution. All return per-sample surrogate values [N]
 * whose gradient w.r.t. θ (through x0) is the method's update direction; none reduces, calls grad
 * or touches an optimizer.
 *
 * Diff-Instruct (Luo et al. 2023, Theorem 3.1): with x_σ = x0 + σε and D = x + σ²·∇log p,
 *   ∇θ IKL = E_{σ,z,ε}[ w̃(σ)·(s_φ(x_σ) − s_p(x_σ))·∂x_σ/∂θ ],
 * and since ∂x_σ/∂θ = ∂x0/∂θ and s_φ − s_p = (D_φ − D_p)/σ², the surrogate
 *   L(θ) = Σ_pixels sg(w(σ)·(D_φ(x_σ) − D_p(x_σ))) · x0,    w = w̃/σ²,
 * has exactly that gradient. The reference code (pkulwj1994/diff_instruct, `DI_EDMLoss.gloss`) uses
 * w = 1 on the denoiser difference and EDM's lognormal σ.
 *
 * SDS (DreamFusion) is the Dirac-generator special case: the fake distribution is a point mass at x0, whose
 * posterior mean is x0 itself, so D_φ is replaced by x0 (see docs/sds-as-diff-instruct.md).
 * DMD (Yin et al. 2024) is the same direction normalised per sample by mean|x0 − D_p(x_σ)|.
 * SiD (Zhou et al. 2024) differentiates through both denoisers:
 *   L = Σ (D_p − D_φ)·((D_p − x0) − α(D_p − D_φ)) / sg(mean|x0 − D_p|)   (sid_loss.py, α = 1.2).
 */
import { numpy as np, lax, random } from '@jax-js/jax';
import { splitKeyList } from '../random/seeds.js';
import type { Denoiser } from '../edm/precond.js';
import { perSample } from '../edm/precond.js';
import { meanPerSample, sampleSigma, sumPerSample, type SigmaDist } from './sigma.js';

export const GENERATOR_LOSSES = ['ikl', 'sid', 'dmd', 'sds'] as const;
export type GeneratorLossKind = (typeof GENERATOR_LOSSES)[number];

/**
 * w(σ) applied to the denoiser difference D_φ − D_p:
 *  - 'reference': w = 1 (Diff-Instruct's code; equals weight σ² on the score difference),
 *  - 'score-uniform': w = 1/σ² (uniform weight on the score difference s_φ − s_p),
 *  - 'normalized': w = 1/mean|x0 − D_p(x_σ)| per sample (DMD/SiD's normalisation; stop-gradient).
 */
export const WEIGHTINGS = ['reference', 'score-uniform', 'normalized'] as const;
export type Weighting = (typeof WEIGHTINGS)[number];

export interface GeneratorLossOpts {
  kind: GeneratorLossKind;
  weighting: Weighting;
  sigma: SigmaDist;
  /** SiD's α (its paper's recommended 1.2). */
  sidAlpha: number;
}

type Params = Record<string, np.Array>;

/** Per-sample weight w [N] for `weighting`, from σ [N] and (for 'normalized') x0 and D_p. Consumes its arrays. */
function weightFor(weighting: Weighting, sigma: np.Array, x0: np.Array, dp: np.Array): np.Array {
  if (weighting === 'reference') {
    x0.dispose();
    dp.dispose();
    return np.onesLike(sigma);
  }
  if (weighting === 'score-uniform') {
    x0.dispose();
    dp.dispose();
    return np.reciprocal(np.square(sigma));
  }
  sigma.dispose();
  return np.reciprocal(np.maximum(meanPerSample(np.abs(x0.sub(dp))), 1e-5));
}

/**
 * The generator's per-sample surrogate loss [N]. `x0` carries the generator's gradient; the teacher and
 * fake denoisers are frozen (their params are not differentiated). `fake` is unused for 'sds'.
 * Consumes every array argument (pass `.ref`/`tree.ref` to keep them).
 */
export function generatorLoss(
  opts: GeneratorLossOpts,
  teacher: Denoiser,
  teacherParams: Params,
  fake: Denoiser | null,
  fakeParams: Params | null,
  x0: np.Array,
  labels: np.Array | null,
  key: np.Array,
): np.Array {
  const n = x0.shape[0];
  const rank = x0.ndim;
  const [kSigma, kNoise] = splitKeyList(key, 2);
  const sigma = sampleSigma(opts.sigma, kSigma, n); // [N]
  const eps = random.normal(kNoise, x0.shape);
  const lab = () => (labels ? labels.ref : null);

  if (opts.kind === 'sid') {
    if (!fake || !fakeParams) throw new Error("loss 'sid' needs a fake score network");
    // SiD backpropagates through both denoisers' inputs x_σ = x0 + σε.
    const xs = x0.ref.add(eps.mul(perSample(sigma.ref, rank)));
    const dp = teacher(teacherParams, xs.ref, sigma.ref, lab());
    const dq = fake(fakeParams, xs, sigma, lab());
    labels?.dispose();
    const norm = lax.stopGradient(np.maximum(meanPerSample(np.abs(x0.ref.sub(dp.ref))), 1e-5));
    const gap = dp.ref.sub(dq); // D_p − D_φ
    const term = gap.ref.mul(dp.sub(x0).sub(gap.mul(opts.sidAlpha)));
    return sumPerSample(term).div(norm);
  }

  // IKL, DMD and SDS: denoisers see a stopped-gradient x_σ; the gradient flows only through x0.
  const xs = lax.stopGradient(x0.ref.add(eps.mul(perSample(sigma.ref, rank))));
  const dp = lax.stopGradient(teacher(teacherParams, xs.ref, sigma.ref, lab()));
  let dq: np.Array;
  if (opts.kind === 'sds') {
    // A Dirac generator's posterior mean E[x0 | x_σ] is x0 itself.
    dq = lax.stopGradient(x0.ref);
    xs.dispose();
    fakeParams && Object.values(fakeParams).forEach((p) => p.dispose());
  } else {
    if (!fake || !fakeParams) throw new Error(`loss '${opts.kind}' needs a fake score network`);
    dq = lax.stopGradient(fake(fakeParams, xs, sigma.ref, lab()));
  }
  labels?.dispose();
  const weighting: Weighting = opts.kind === 'dmd' ? 'normalized' : opts.weighting;
  const w = lax.stopGradient(weightFor(weighting, sigma, lax.stopGradient(x0.ref), dp.ref));
  const direction = lax.stopGradient(perSample(w, rank).mul(dq.sub(dp)));
  return sumPerSample(direction.mul(x0));
}
