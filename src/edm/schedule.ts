/**
 * Noise-level discretisations for sampling. `karrasSigmas` is EDM's (Karras et al. 2022, Eq. 5;
 * NVlabs/edm generate.py `edm_sampler`):
 *
 *   σ_i = (σ_max^(1/ρ) + i/(N−1)·(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ,  i < N,   σ_N = 0.
 *
 * Computed in float64 on the host; the sampler uploads each step's σ as a scalar.
 */

/** N noise levels from σ_max down to σ_min (ρ-warped), plus the trailing σ_N = 0: length N + 1. */
export function karrasSigmas(n: number, sigmaMin = 0.002, sigmaMax = 80, rho = 7): number[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`karrasSigmas: number of steps must be a positive integer, got ${n}`);
  if (!(sigmaMin > 0 && sigmaMax >= sigmaMin)) throw new Error(`karrasSigmas: need 0 < sigmaMin <= sigmaMax, got ${sigmaMin}, ${sigmaMax}`);
  if (!(rho > 0)) throw new Error(`karrasSigmas: rho must be positive, got ${rho}`);
  const a = Math.pow(sigmaMax, 1 / rho);
  const b = Math.pow(sigmaMin, 1 / rho);
  const out: number[] = [];
  // EDM divides by N−1, which is 0/0 for one step; a single step starts at σ_max.
  for (let i = 0; i < n; i++) out.push(Math.pow(a + (n === 1 ? 0 : i / (n - 1)) * (b - a), rho));
  out.push(0);
  return out;
}
