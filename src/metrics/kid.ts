/**
 * Kernel Inception Distance analogue (Bińkowski, Sutherland, Arbel & Gretton 2018, "Demystifying MMD
 * GANs", §3 and App. D): the unbiased estimator of the squared MMD with the cubic polynomial kernel
 *
 *   k(x, y) = (xᵀy / d + 1)³,
 *   MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m−1)) Σ_{i≠j} k(y_i, y_j) − 2/m² Σ_{i,j} k(x_i, y_j),
 *
 * averaged over random subsets of size m drawn from each set (100 subsets of 1000 as in the paper's
 * code and torch-fidelity; fewer / smaller when the sets are small). Unlike FD it is unbiased, so its
 * expectation is exactly 0 when both sets come from one distribution.
 *
 * Kernel matrices are built with jax-js matmuls on the default device; each returns only its row sums
 * (m values), which are added up in float64 on the host, so the small difference of large kernel means
 * does not suffer float32 accumulation error.
 *
 * Spread: `std` is the standard deviation of the subset estimates (what torch-fidelity reports as
 * kid_std). Subsets overlap, so std/√S would overstate the precision of the mean; `se` divides by
 * √min(S, ⌊N/m⌋) instead, the number of disjoint subsets the data holds — exact for the
 * non-degenerate case (different distributions) and conservative when the distributions are equal
 * (where the U-statistic's variance falls as 1/N² instead of 1/N).
 */
import { defaultDevice, jit, numpy as np, type OwnedFunction } from '@jax-js/jax';
import { seededUniform } from '../data/prng.js';

export interface KidOptions {
  /** number of subsets (default 100) */
  subsets?: number;
  /** subset size m (default 1000, capped at the smaller set size) */
  subsetSize?: number;
  /** seed of the subset draws (default 0) */
  seed?: number;
}

export interface KidResult {
  /** mean of the subset MMD² estimates */
  kid: number;
  /** standard deviation of the subset estimates */
  std: number;
  /** standard error of `kid` (see the file header) */
  se: number;
  subsets: number;
  subsetSize: number;
}

type RowSums = OwnedFunction<(x: np.Array, y: np.Array) => np.Array>;
const rowSumFns = new Map<string, RowSums>();

/**
 * jit'd (X [m,d], Y [m,d]) → [5, m]: row sums of K_XX, K_YY, K_XY and the diagonals of K_XX and K_YY.
 * One compiled function per device and feature dimension (jit itself caches per shape).
 */
function rowSums(d: number): RowSums {
  const key = `${defaultDevice()}:${d}`;
  let f = rowSumFns.get(key);
  if (!f) {
    // t³ as t²·t: np.power lowers to exp/log and is ~6× slower than the matmul itself on Wasm
    const cube = (t: np.Array) => np.square(t.ref).mul(t);
    const k = (a: np.Array, b: np.Array) => cube(np.matmul(a, b.transpose()).mul(1 / d).add(1));
    const diagK = (a: np.Array) => cube(np.square(a).sum(1).mul(1 / d).add(1));
    f = jit((x: np.Array, y: np.Array) =>
      np.stack([k(x.ref, x.ref).sum(1), k(y.ref, y.ref).sum(1), k(x.ref, y.ref).sum(1), diagK(x), diagK(y)], 0),
    );
    rowSumFns.set(key, f);
  }
  return f;
}

/** m distinct indices in [0, n) (partial Fisher–Yates), driven by `rand`. */
function sampleWithoutReplacement(n: number, m: number, rand: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p.subarray(0, m);
}

function gather(x: ArrayLike<number>, d: number, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length * d);
  for (let r = 0; r < idx.length; r++) {
    const base = idx[r] * d;
    for (let j = 0; j < d; j++) out[r * d + j] = x[base + j];
  }
  return out;
}

/** Unbiased MMD² of one pair of equal-size sets from the [5, m] row sums. */
function mmdFromRowSums(s: Float32Array, m: number): number {
  let kxx = 0, kyy = 0, kxy = 0, dx = 0, dy = 0;
  for (let i = 0; i < m; i++) {
    kxx += s[i];
    kyy += s[m + i];
    kxy += s[2 * m + i];
    dx += s[3 * m + i];
    dy += s[4 * m + i];
  }
  return (kxx - dx) / (m * (m - 1)) + (kyy - dy) / (m * (m - 1)) - (2 * kxy) / (m * m);
}

/**
 * KID between feature sets x [nx, d] and y [ny, d] (row-major float arrays on the host); kernel sums
 * run on jax-js's default device.
 */
export async function kernelInceptionDistance(x: ArrayLike<number>, nx: number, y: ArrayLike<number>, ny: number, d: number, opts: KidOptions = {}): Promise<KidResult> {
  if (x.length !== nx * d || y.length !== ny * d) throw new Error(`KID: feature arrays are not [${nx}, ${d}] and [${ny}, ${d}]`);
  const m = Math.min(opts.subsetSize ?? 1000, nx, ny);
  if (m < 2) throw new Error(`KID: need at least 2 samples in each set, got ${nx} and ${ny}`);
  const S = opts.subsets ?? 100;
  if (!Number.isInteger(S) || S < 1) throw new Error(`KID: subsets must be a positive integer, got ${S}`);
  const rand = seededUniform(opts.seed ?? 0, 0x4b4944); // stream "KID"
  const f = rowSums(d);
  const est: number[] = [];
  for (let s = 0; s < S; s++) {
    const xs = np.array(gather(x, d, sampleWithoutReplacement(nx, m, rand)), { shape: [m, d] });
    const ys = np.array(gather(y, d, sampleWithoutReplacement(ny, m, rand)), { shape: [m, d] });
    est.push(mmdFromRowSums((await f(xs, ys).data()) as Float32Array, m));
  }
  const kid = est.reduce((a, b) => a + b, 0) / S;
  const std = S > 1 ? Math.sqrt(est.reduce((a, v) => a + (v - kid) ** 2, 0) / (S - 1)) : 0;
  const disjoint = Math.max(1, Math.min(S, Math.floor(Math.min(nx, ny) / m)));
  return { kid, std, se: std / Math.sqrt(disjoint), subsets: S, subsetSize: m };
}
