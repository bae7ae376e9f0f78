/**
 * Network preconditioning (Karras et al. 2022, EDM, Table 1 and Eq. 7; NVlabs/edm training/networks.py
 * `EDMPrecond`, `VPPrecond`, `VEPrecond`): wraps a raw network F into a denoiser
 *
 *   D(x; σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; c_noise(σ)).
 *
 * The raw network sees c_noise, never σ. The `Denoiser` type defined here is the one interface of
 * every role: the teacher, the fake score and the one-step generator (the teacher's D at fixed σ_init).
 */
import { numpy as np } from '@jax-js/jax';
import type { NetOpts, Params } from '../nets/layers.js';

export type { NetOpts, Params } from '../nets/layers.js';

/** A raw network F(x_in, c_noise, labels). Consumes every array argument (params included). */
export type RawNet = (params: Params, x: np.Array, noiseLabels: np.Array, classLabels: np.Array | null, opts?: NetOpts) => np.Array;

/**
 * A denoiser D(x; σ): x [N, ...], σ [N], labels [N, C] one-hot or null → D(x) shaped like x.
 * Consumes every array argument (params included): pass `tree.ref(params)` to keep them.
 */
export type Denoiser = (params: Params, x: np.Array, sigma: np.Array, labels: np.Array | null, opts?: NetOpts) => np.Array;

export const PRECOND_KINDS = ['edm', 'vp', 've'] as const;
export type PrecondKind = (typeof PRECOND_KINDS)[number];

/** VP constants of EDM's `VPPrecond` (Song et al. 2021): β_d, β_min, M. */
export const VP = { betaD: 19.9, betaMin: 0.1, M: 1000 } as const;

/**
 * The σ range each EDM wrapper supports (its `sigma_min`, `sigma_max`): EDMPrecond [0, ∞), VPPrecond
 * [σ(ε_t = 1e-5), σ(1)], VEPrecond [0.02, 100]. EDM's `edm_sampler` clamps its schedule to it. VP's
 * values are the ones EDM computes (in float32: σ(1e-5) = 0.0009765625, σ(1) = 152.16697692871094 with
 * PyTorch 1.13; float64 gives 0.0010005 and 152.16697028): either way the clamp keeps [0.002, 80].
 */
export function precondSigmaRange(kind: PrecondKind): { min: number; max: number } {
  switch (kind) {
    case 'edm':
      return { min: 0, max: Infinity };
    case 'vp':
      return { min: 0.0009765625, max: 152.16697692871094 };
    case 've':
      return { min: 0.02, max: 100 };
    default:
      throw new Error(`unknown preconditioning '${kind}' (expected ${PRECOND_KINDS.join(', ')})`);
  }
}

export interface Scalings {
  cSkip: np.Array;
  cOut: np.Array;
  cIn: np.Array;
  cNoise: np.Array;
}

/**
 * The four scalings of Table 1 for σ [N] (each returned as [N]). Consumes `sigma`.
 *  - edm: c_skip = σd²/(σ²+σd²), c_out = σ·σd/√(σ²+σd²), c_in = 1/√(σ²+σd²), c_noise = ln(σ)/4
 *  - vp:  c_skip = 1, c_out = −σ, c_in = 1/√(σ²+1), c_noise = (M−1)·σ⁻¹(σ),
 *         σ⁻¹(σ) = (√(β_min² + 2β_d·ln(1+σ²)) − β_min)/β_d
 *  - ve:  c_skip = 1, c_out = σ, c_in = 1, c_noise = ln(σ/2)
 */
export function preconditionScalings(kind: PrecondKind, sigma: np.Array, { sigmaData = 0.5 } = {}): Scalings {
  const s2 = np.square(sigma.ref);
  switch (kind) {
    case 'edm': {
      const sd2 = sigmaData * sigmaData;
      const denom = s2.add(sd2); // σ² + σd²
      const rs = np.sqrt(denom.ref);
      return {
        cSkip: np.reciprocal(denom).mul(sd2),
        cOut: sigma.ref.mul(sigmaData).div(rs.ref),
        cIn: np.reciprocal(rs),
        cNoise: np.log(sigma).mul(0.25),
      };
    }
    case 'vp': {
      const { betaD, betaMin, M } = VP;
      // log1p: EDM's float32 `(1 + σ²).log()` loses ~3% of c_noise at σ = 0.002.
      const tInv = np.sqrt(np.log1p(s2.ref).mul(2 * betaD).add(betaMin * betaMin)).sub(betaMin).div(betaD);
      return {
        cSkip: np.onesLike(sigma.ref),
        cOut: sigma.neg(),
        cIn: np.reciprocal(np.sqrt(s2.add(1))),
        cNoise: tInv.mul(M - 1),
      };
    }
    case 've':
      s2.dispose();
      return {
        cSkip: np.onesLike(sigma.ref),
        cOut: sigma.ref,
        cIn: np.onesLike(sigma.ref),
        cNoise: np.log(sigma.mul(0.5)),
      };
    default:
      sigma.dispose();
      s2.dispose();
      throw new Error(`unknown preconditioning '${kind}' (expected ${PRECOND_KINDS.join(', ')})`);
  }
}

/** σ [N] reshaped to broadcast against x [N, ...] (e.g. [N,1,1,1] for images, [N,1] for 2-D points). */
export function perSample(v: np.Array, ndim: number): np.Array {
  return v.reshape([-1, ...Array(ndim - 1).fill(1)]);
}

/**
 * Wraps a raw network into a preconditioned denoiser D(x; σ) = c_skip·x + c_out·F(c_in·x; c_noise).
 * `sigmaData` is the data standard deviation the EDM scalings assume (0.5 for images in [−1, 1]).
 */
export function precondition(kind: PrecondKind, net: RawNet, { sigmaData = 0.5 }: { sigmaData?: number } = {}): Denoiser {
  if (!(PRECOND_KINDS as readonly string[]).includes(kind)) throw new Error(`unknown preconditioning '${kind}' (expected ${PRECOND_KINDS.join(', ')})`);
  return (params, x, sigma, labels, opts) => {
    if (sigma.ndim !== 1 || sigma.shape[0] !== x.shape[0]) {
      throw new Error(`denoiser: sigma has shape [${sigma.shape}], expected [${x.shape[0]}] (one σ per sample)`);
    }
    const { cSkip, cOut, cIn, cNoise } = preconditionScalings(kind, sigma, { sigmaData });
    const nd = x.ndim;
    const F = net(params, x.ref.mul(perSample(cIn, nd)), cNoise, labels, opts);
    return x.mul(perSample(cSkip, nd)).add(F.mul(perSample(cOut, nd)));
  };
}
