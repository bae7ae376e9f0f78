/**
 * EDM's stochastic sampler (Karras et al. 2022, Algorithm 2; NVlabs/edm generate.py `edm_sampler`):
 * Euler or Heun (2nd order) steps of the probability-flow ODE dx/dσ = (x − D(x; σ))/σ, with optional
 * "churn" that raises σ_i to σ̂_i = σ_i + γ_i·σ_i and adds matching fresh noise.
 *
 * Each denoiser evaluation is one jitted call (the step is jitted, not the loop), cached per denoiser.
 * Randomness is per image seed (src/random/seeds.ts): latents come from each seed's latent stream and
 * the churn noise of step i from stream CHURN_STREAM + i, so image k is the same at any batch size.
 */
import { jit, numpy as np, tree, type OwnedFunction } from '@jax-js/jax';
import { normalForSeeds } from '../random/seeds.js';
import type { Denoiser, Params } from './precond.js';

export type Solver = 'heun' | 'euler';

/** EDM's S_churn, S_tmin, S_tmax, S_noise (Algorithm 2; all-zero churn = deterministic sampler). */
export interface ChurnOptions {
  SChurn: number;
  SMin: number;
  SMax: number;
  SNoise: number;
}

export interface SampleOptions {
  /** 'heun' (EDM's default: 2N−1 evaluations for N steps) or 'euler' (N evaluations). */
  solver?: Solver;
  /** Stochasticity; omitted or SChurn = 0 gives the deterministic ODE sampler. */
  churn?: Partial<ChurnOptions>;
  /** One seed per row of `latents`; required when churn adds noise (the noise is drawn per seed). */
  seeds?: readonly number[];
  /** Called after each solver step with the steps done and the total (a progress display). */
  onStep?: (done: number, total: number) => void;
  /** Checked before each step: once aborted, sampling stops with the error 'sampling cancelled'. */
  signal?: AbortSignal;
}

/** First seed stream used for churn noise; step i uses stream CHURN_STREAM + i. */
export const CHURN_STREAM = 0x100;

type StepFns = {
  euler: OwnedFunction<(p: Params, xHat: np.Array, tHat: np.Array, tNext: np.Array, labels: np.Array[]) => np.Array[]>;
  heun: OwnedFunction<(p: Params, xHat: np.Array, xNext: np.Array, dCur: np.Array, tHat: np.Array, tNext: np.Array, labels: np.Array[]) => np.Array>;
};
const stepCache = new WeakMap<Denoiser, StepFns>();

function stepFns(denoiser: Denoiser): StepFns {
  let fns = stepCache.get(denoiser);
  if (fns) return fns;
  const full = (t: np.Array, x: np.Array) => np.broadcastTo(t, [x.shape[0]]);
  fns = {
    // Algorithm 2, lines 7–8: d_i = (x̂_i − D(x̂_i; σ̂_i))/σ̂_i;  x_{i+1} = x̂_i + (σ_{i+1} − σ̂_i)·d_i.
    euler: jit((p: Params, xHat: np.Array, tHat: np.Array, tNext: np.Array, labels: np.Array[]) => {
      const denoised = denoiser(p, xHat.ref, full(tHat.ref, xHat), labels[0] ?? null);
      const dCur = xHat.ref.sub(denoised).div(tHat.ref);
      const xNext = xHat.add(dCur.ref.mul(tNext.sub(tHat)));
      return [xNext, dCur];
    }),
    // Lines 9–11: d'_i = (x_{i+1} − D(x_{i+1}; σ_{i+1}))/σ_{i+1};  x_{i+1} = x̂_i + (σ_{i+1} − σ̂_i)(½d_i + ½d'_i).
    heun: jit((p: Params, xHat: np.Array, xNext: np.Array, dCur: np.Array, tHat: np.Array, tNext: np.Array, labels: np.Array[]) => {
      const denoised = denoiser(p, xNext.ref, full(tNext.ref, xNext), labels[0] ?? null);
      const dPrime = xNext.sub(denoised).div(tNext.ref);
      return xHat.add(dCur.add(dPrime).mul(tNext.sub(tHat).mul(0.5)));
    }),
  };
  stepCache.set(denoiser, fns);
  return fns;
}

/** Number of denoiser evaluations for `steps` steps ending at σ = 0: Heun 2·steps − 1, Euler steps. */
export function evaluationsPerSample(steps: number, solver: Solver): number {
  return solver === 'heun' ? 2 * steps - 1 : steps;
}

/**
 * Algorithm 2 for one batch. `latents` [N, ...] are unit normal (x_0 = latents·σ_0, line 1), `sigmas`
 * is a decreasing schedule ending in 0 (e.g. `karrasSigmas`), labels [N, C] one-hot or null.
 * Consumes params, latents and labels; returns x_N.
 */
export async function edmSample(
  denoiser: Denoiser,
  params: Params,
  latents: np.Array,
  sigmas: readonly number[],
  labels: np.Array | null,
  opts: SampleOptions = {},
): Promise<np.Array> {
  const solver = opts.solver ?? 'heun';
  if (solver !== 'heun' && solver !== 'euler') throw new Error(`edmSample: unknown solver '${solver}' (expected heun or euler)`);
  const numSteps = sigmas.length - 1;
  if (numSteps < 1) throw new Error('edmSample: sigmas needs at least two entries (σ_0 … σ_N = 0)');
  const churn: ChurnOptions = { SChurn: 0, SMin: 0, SMax: Infinity, SNoise: 1, ...opts.churn };
  const n = latents.shape[0];
  if (churn.SChurn > 0 && (!opts.seeds || opts.seeds.length !== n)) {
    throw new Error(`edmSample: churn needs one seed per latent (${n} latents, ${opts.seeds?.length ?? 0} seeds)`);
  }
  const fns = stepFns(denoiser);
  const labelArg = labels ? [labels] : [];
  const sampleShape = latents.shape.slice(1);
  // Line 1: x_0 = latents · σ_0 (the latents are N(0, I)).
  let x = latents.mul(sigmas[0]);
  try {
    for (let i = 0; i < numSteps; i++) {
      if (opts.signal?.aborted) {
        x.dispose();
        throw new Error('sampling cancelled');
      }
      const tCur = sigmas[i];
      const tNext = sigmas[i + 1];
      // Lines 4–6: γ_i = min(S_churn/N, √2 − 1) if σ_i ∈ [S_tmin, S_tmax]; σ̂_i = σ_i + γ_i σ_i;
      // x̂_i = x_i + √(σ̂_i² − σ_i²)·ε_i, ε_i ~ N(0, S_noise² I).
      const gamma = churn.SChurn > 0 && churn.SMin <= tCur && tCur <= churn.SMax ? Math.min(churn.SChurn / numSteps, Math.SQRT2 - 1) : 0;
      const tHat = tCur + gamma * tCur;
      if (gamma > 0) {
        const eps = normalForSeeds(opts.seeds!, sampleShape, CHURN_STREAM + i);
        x = x.add(eps.mul(Math.sqrt(tHat * tHat - tCur * tCur) * churn.SNoise));
      }
      const [xNext, dCur] = fns.euler(tree.ref(params), x.ref, np.array(tHat), np.array(tNext), tree.ref(labelArg));
      // Line 9: the 2nd-order correction, except into σ = 0 where d' is undefined (EDM: i < N − 1).
      let out: np.Array;
      if (solver === 'heun' && tNext > 0) {
        out = fns.heun(tree.ref(params), x, xNext, dCur, np.array(tHat), np.array(tNext), tree.ref(labelArg));
      } else {
        x.dispose();
        dCur.dispose();
        out = xNext;
      }
      x = await out.blockUntilReady();
      opts.onStep?.(i + 1, numSteps);
    }
    return x;
  } finally {
    tree.dispose(params);
    tree.dispose(labelArg);
  }
}

export interface SeedSampleOptions extends Omit<SampleOptions, 'seeds'> {
  /** Images per denoiser call (the last batch is padded with repeats so no new shape compiles). */
  batchSize?: number;
  /** Called after each batch with the number of images done so far, e.g. for a progress bar. */
  onBatch?: (done: number, total: number) => void;
}

/**
 * Samples one image per seed, in batches: latents from `normalForSeeds(seeds, sampleShape)`, labels
 * from `labelsFor(batchSeeds)` (null = unconditional). Image k depends only on seeds[k]. Returns
 * [seeds.length, ...sampleShape]. Consumes `params`.
 */
export async function edmSampleSeeds(
  denoiser: Denoiser,
  params: Params,
  seeds: readonly number[],
  sampleShape: number[],
  sigmas: readonly number[],
  labelsFor: ((seeds: number[]) => np.Array) | null,
  opts: SeedSampleOptions = {},
): Promise<np.Array> {
  const bs = Math.max(1, Math.min(opts.batchSize ?? 64, seeds.length));
  const outs: np.Array[] = [];
  try {
    for (let start = 0; start < seeds.length; start += bs) {
      const real = seeds.slice(start, start + bs);
      const batch = [...real];
      while (batch.length < bs) batch.push(real[real.length - 1]);
      const latents = normalForSeeds(batch, sampleShape);
      const labels = labelsFor ? labelsFor(batch) : null;
      let x = await edmSample(denoiser, tree.ref(params), latents, sigmas, labels, { ...opts, seeds: batch });
      if (real.length < bs) x = x.slice([0, real.length]);
      outs.push(x);
      opts.onBatch?.(start + real.length, seeds.length);
    }
    return outs.length === 1 ? outs[0] : np.concatenate(outs, 0);
  } catch (e) {
    for (const o of outs) o.dispose();
    throw e;
  } finally {
    tree.dispose(params);
  }
}
