/**
 * Sample-quality scores for 2-D toy distributions (src/data/toy2d.ts), used to evaluate one-step
 * generators distilled from analytic Gaussian-mixture teachers:
 *
 *  - MMD² (Gretton et al. 2012, "A kernel two-sample test", Eq. 3, unbiased U-statistic) with a sum of
 *    RBF kernels k(x, y) = (1/|H|) Σ_{h∈H} exp(−‖x − y‖² / (2h²)), H = {0.1, 0.2, 0.5, 1, 2}: one
 *    bandwidth per length scale in the toys (mode std 0.1 up to ring radius 2).
 *  - Sliced Wasserstein-2 (Rabin et al. 2011; Bonneel et al. 2015): SW₂² = mean over L fixed, seeded
 *    unit directions θ of W₂²(θᵀX, θᵀY); each 1-D W₂² matches sorted projections (quantiles).
 *  - For Gaussian mixtures with a common std s (toyModes):
 *      a sample is "high quality" if it lies within 3s of some mode centre (Srivastava et al. 2017,
 *      VEEGAN, §5.1 use the same 3σ rule); it is assigned to the nearest such centre.
 *      A mode is COVERED if it receives at least a quarter of its fair share of samples, i.e.
 *      ≥ max(1, 0.25·n/K) high-quality samples (K modes, n samples): a mode visited by a handful of
 *      stray samples is not covered; a generator that drops modes is caught at any n.
 *      Average log-likelihood of the samples under the true mixture density (exact, src/data/gmm.ts).
 *
 * SWD and the mode scores are float64 on the host; MMD's n×n kernel matrices run on the jax-js device
 * (subsampled to `maxPoints` per set to keep O(n²) bounded).
 */
import { defaultDevice, jit, numpy as np, random, type OwnedFunction } from '@jax-js/jax';
import { TOYS, toyModes } from '../data/toy2d.js';
import { seededUniform } from '../data/prng.js';
import { squaredDistances } from './prdc.js';

export const MMD_BANDWIDTHS = [0.1, 0.2, 0.5, 1, 2];

function check2d(x: ArrayLike<number>, what: string): number {
  if (x.length % 2 !== 0 || x.length < 4) throw new Error(`${what}: expected [n, 2] points with n ≥ 2, got ${x.length} values`);
  return x.length / 2;
}

/** The first `max` points of x (2-D), or all of them. */
function head(x: ArrayLike<number>, max: number): ArrayLike<number> {
  const n = x.length / 2;
  return n <= max ? x : Array.prototype.slice.call(x, 0, 2 * max);
}

const mmdFns = new Map<string, OwnedFunction<(x: np.Array, y: np.Array) => np.Array>>();

/** jit'd (x [n,2], y [m,2]) → [3, ·] row sums of K_xx, K_yy, K_xy, compiled per device and bandwidth set. */
function mmdRowSums(bandwidths: number[]): OwnedFunction<(x: np.Array, y: np.Array) => np.Array> {
  const key = `${defaultDevice()}:${bandwidths.join(',')}`;
  let f = mmdFns.get(key);
  if (!f) {
    const k = (d2: np.Array) => {
      let s: np.Array | null = null;
      for (const h of bandwidths) {
        const e = np.exp(d2.ref.mul(-1 / (2 * h * h)));
        s = s ? s.add(e) : e;
      }
      d2.dispose();
      return s!.mul(1 / bandwidths.length);
    };
    f = jit((x: np.Array, y: np.Array) => {
      const n = x.shape[0], m = y.shape[0];
      // pad the shorter row-sum vector so the three stack into one array (one read back)
      const pad = (v: np.Array, len: number) => (len === Math.max(n, m) ? v : np.pad(v, [[0, Math.max(n, m) - len]]));
      return np.stack([
        pad(k(squaredDistances(x.ref, x.ref)).sum(1), n),
        pad(k(squaredDistances(y.ref, y.ref)).sum(1), m),
        pad(k(squaredDistances(x, y)).sum(1), n),
      ]);
    });
    mmdFns.set(key, f);
  }
  return f;
}

/**
 * Unbiased MMD² between point sets x and y ([n, 2] row-major) with the averaged RBF kernel over
 * `bandwidths` (formula in the file header). Uses at most `maxPoints` points of each set. Kernel
 * matrices are evaluated on the default jax-js device; their row sums are added in float64.
 */
export async function mmdRbf(xIn: ArrayLike<number>, yIn: ArrayLike<number>, bandwidths: number[] = MMD_BANDWIDTHS, maxPoints = 2000): Promise<number> {
  check2d(xIn, 'mmdRbf (x)');
  check2d(yIn, 'mmdRbf (y)');
  const x = Float32Array.from(head(xIn, maxPoints));
  const y = Float32Array.from(head(yIn, maxPoints));
  const nx = x.length / 2, ny = y.length / 2;
  const rs = (await mmdRowSums(bandwidths)(np.array(x, { shape: [nx, 2] }), np.array(y, { shape: [ny, 2] })).data()) as Float32Array;
  const L = Math.max(nx, ny);
  let sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < nx; i++) sxx += rs[i];
  for (let i = 0; i < ny; i++) syy += rs[L + i];
  for (let i = 0; i < nx; i++) sxy += rs[2 * L + i];
  // k(x, x) = 1 exactly: remove the diagonal for the unbiased within-set means
  return (sxx - nx) / (nx * (nx - 1)) + (syy - ny) / (ny * (ny - 1)) - (2 * sxy) / (nx * ny);
}

/** The L unit directions (cos α, sin α) of the sliced Wasserstein distance, α seeded uniform in [0, π). */
export function swdDirections(L: number, seed = 0): Float64Array {
  const r = seededUniform(seed, 0x535744); // stream "SWD"
  const out = new Float64Array(2 * L);
  for (let l = 0; l < L; l++) {
    const a = Math.PI * r();
    out[2 * l] = Math.cos(a);
    out[2 * l + 1] = Math.sin(a);
  }
  return out;
}

/** W₂² between two 1-D empirical distributions: ∫₀¹ (F⁻¹(t) − G⁻¹(t))² dt, exact for step quantile functions. */
export function wasserstein2Squared1d(a: Float64Array, b: Float64Array): number {
  const sa = Float64Array.from(a).sort();
  const sb = Float64Array.from(b).sort();
  const na = sa.length, nb = sb.length;
  // merge the breakpoints i/na and j/nb of both quantile step functions
  let i = 0, j = 0, t = 0, total = 0;
  while (i < na && j < nb) {
    const ta = (i + 1) / na, tb = (j + 1) / nb;
    const next = Math.min(ta, tb);
    total += (next - t) * (sa[i] - sb[j]) ** 2;
    t = next;
    if (ta <= next) i++;
    if (tb <= next) j++;
  }
  return total;
}

/** Sliced Wasserstein-2 distance √(mean_θ W₂²(θᵀx, θᵀy)) over `L` seeded directions. */
export function slicedWasserstein(x: ArrayLike<number>, y: ArrayLike<number>, L = 128, seed = 0): number {
  const nx = check2d(x, 'slicedWasserstein (x)');
  const ny = check2d(y, 'slicedWasserstein (y)');
  const dirs = swdDirections(L, seed);
  const px = new Float64Array(nx), py = new Float64Array(ny);
  let s = 0;
  for (let l = 0; l < L; l++) {
    const c = dirs[2 * l], sn = dirs[2 * l + 1];
    for (let i = 0; i < nx; i++) px[i] = c * x[2 * i] + sn * x[2 * i + 1];
    for (let i = 0; i < ny; i++) py[i] = c * y[2 * i] + sn * y[2 * i + 1];
    s += wasserstein2Squared1d(px, py);
  }
  return Math.sqrt(s / L);
}

export interface ModeStats {
  /** modes with ≥ max(1, 0.25·n/K) high-quality samples */
  modesCovered: number;
  modesTotal: number;
  /** fraction of samples within 3 std of some mode centre */
  highQuality: number;
  /** high-quality samples per mode */
  counts: number[];
}

/** Mode coverage and the high-quality fraction (rules in the file header). */
export function modeStats(x: ArrayLike<number>, centers: number[][], std: number): ModeStats {
  const n = check2d(x, 'modeStats');
  const K = centers.length;
  const counts = new Array<number>(K).fill(0);
  const r2 = (3 * std) ** 2;
  let hq = 0;
  for (let i = 0; i < n; i++) {
    let best = -1, bestD = Infinity;
    for (let k = 0; k < K; k++) {
      const d2 = (x[2 * i] - centers[k][0]) ** 2 + (x[2 * i + 1] - centers[k][1]) ** 2;
      if (d2 < bestD) {
        bestD = d2;
        best = k;
      }
    }
    if (bestD <= r2) {
      hq++;
      counts[best]++;
    }
  }
  const need = Math.max(1, (0.25 * n) / K);
  return { modesCovered: counts.filter((c) => c >= need).length, modesTotal: K, highQuality: hq / n, counts };
}

async function toHost(x: np.Array | ArrayLike<number>): Promise<ArrayLike<number>> {
  if (x instanceof np.Array) {
    if (x.ndim !== 2 || x.shape[1] !== 2) {
      const shape = x.shape;
      x.dispose();
      throw new Error(`toy2d metrics: samples must have shape [n, 2], got [${shape}]`);
    }
    return (await x.data()) as Float32Array;
  }
  return x;
}

/** Number of reference points drawn from the toy for MMD and SWD. */
export const TOY_REFERENCE_POINTS = 2000;
/** Fixed seed of the reference sample, so scores of different runs compare. */
export const TOY_REFERENCE_SEED = 20231;

/**
 * All 2-D scores of generated samples `x` ([n, 2]; a jax-js array is consumed) against the named toy:
 * `mmd`, `swd` versus a fixed seeded reference sample of the toy, and for Gaussian-mixture toys
 * `modesCovered`, `modesTotal`, `highQuality`, `logLikelihood` (mean log p(x) under the true density).
 */
export async function toy2dMetrics(x: np.Array | ArrayLike<number>, toyName: string): Promise<Record<string, number>> {
  const toy = Object.hasOwn(TOYS, toyName) ? TOYS[toyName] : undefined;
  if (!toy) {
    if (x instanceof np.Array) x.dispose();
    throw new Error(`unknown toy distribution '${toyName}': expected one of ${Object.keys(TOYS).join(', ')}`);
  }
  const pts = await toHost(x);
  const n = check2d(pts, 'toy2d metrics');
  const ref = (await toy.sample(random.key(TOY_REFERENCE_SEED), TOY_REFERENCE_POINTS).data()) as Float32Array;
  const out: Record<string, number> = { n, mmd: await mmdRbf(pts, ref), swd: slicedWasserstein(pts, ref) };
  const modes = toyModes(toyName);
  if (modes && toy.mixture) {
    const m = modeStats(pts, modes.centers, modes.std);
    out.modesCovered = m.modesCovered;
    out.modesTotal = m.modesTotal;
    out.highQuality = m.highQuality;
    let ll = 0;
    for (let i = 0; i < n; i++) ll += toy.mixture.logDensityJS([pts[2 * i], pts[2 * i + 1]]);
    out.logLikelihood = ll / n;
  }
  return out;
}
