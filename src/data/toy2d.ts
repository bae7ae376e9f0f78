/**
 * 2D toy distributions for distillation experiments: Gaussian-mixture toys with exact densities,
 * scores and denoisers (src/data/gmm.ts) that serve as analytic teachers, sample-only shapes, and
 * pairs with (numerically) disjoint supports for the IKL-vs-KL study: Diff-Instruct's integral KL
 * (Luo et al. 2023, Def. 3.1) stays finite and informative between such pairs because diffusion
 * makes the supports overlap, while the plain KL between them is huge (or infinite for truly
 * disjoint supports).
 *
 * Conventions (chosen here; see docs/datasets.md):
 *  - ring8: 8 equal Gaussians at radius 2, angles 2πk/8, std 0.1. GAN mode-collapse benchmarks often
 *    use tighter modes; 0.1 keeps the modes resolvable for one-step generators at EDM's σ_min.
 *  - grid25: 25 equal Gaussians at {−4, −2, 0, 2, 4}², std 0.1 (PacGAN/VEEGAN's grid geometry).
 *  - swissroll, moons, checkerboard: the sampling recipes of FFJORD's `toy_data.py` (Grathwohl et al.
 *    2019), which most diffusion toy code reuses: swiss roll = sklearn `make_swiss_roll(noise=1)`
 *    columns (x, z) / 5; moons = sklearn `make_moons(noise=0.1)`·2 + (−1, −0.2); checkerboard = 8
 *    black squares of side 2 on [−4, 4]².
 *  - left-blob / right-blob: N((∓3, 0), 0.25² I). KL between them = |Δμ|²/(2s²) = 36/0.125 = 288 nats.
 *  - ring8-shifted: ring8 translated by (+6, 0); nearest modes of ring8 and ring8-shifted are 2 apart
 *    (20 stds), so the supports do not overlap at any practical precision.
 */
import { numpy as np, random } from '@jax-js/jax';
import { GaussianMixture } from './gmm.js';

export interface Toy {
  description: string;
  /** n iid samples [n, 2]. Consumes `key`. */
  sample(key: np.Array, n: number): np.Array;
  /** Present for Gaussian-mixture toys: exact density, score and denoiser. */
  mixture?: GaussianMixture;
}

/** Splits `key` into `k` keys (slices, so no zero-size remainder is left alive). */
function splitKey(key: np.Array, k: number): np.Array[] {
  const ks = random.split(key, k);
  const out: np.Array[] = [];
  for (let i = 0; i < k - 1; i++) out.push(ks.ref.slice(i));
  out.push(ks.slice(k - 1));
  return out;
}

function checkN(n: number, name: string): void {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`toy '${name}': n must be a positive integer, got ${n}`);
}

function ring(n: number, radius: number, offset: [number, number] = [0, 0]): number[][] {
  return Array.from({ length: n }, (_, k) => [offset[0] + radius * Math.cos((2 * Math.PI * k) / n), offset[1] + radius * Math.sin((2 * Math.PI * k) / n)]);
}

function mixtureToy(description: string, mixture: GaussianMixture): Toy {
  return { description, mixture, sample: (key, n) => mixture.sample(key, n) };
}

const GRID = [-4, -2, 0, 2, 4];

/** Swiss roll: t ~ U[1.5π, 4.5π], (t cos t, t sin t) + N(0, I), all / 5. */
function swissroll(key: np.Array, n: number): np.Array {
  checkN(n, 'swissroll');
  const [kt, kz] = splitKey(key, 2);
  const t = random.uniform(kt, [n], { minval: 1.5 * Math.PI, maxval: 4.5 * Math.PI });
  const x = t.ref.mul(np.cos(t.ref));
  const y = t.ref.mul(np.sin(t));
  return np.stack([x, y], 1).add(random.normal(kz, [n, 2])).mul(0.2);
}

/** Two moons: outer (cos θ, sin θ), inner (1 − cos θ, 0.5 − sin θ), θ ~ U[0, π], + N(0, 0.1²); ·2 + (−1, −0.2). */
function moons(key: np.Array, n: number): np.Array {
  checkN(n, 'moons');
  const [kt, kb, kz] = splitKey(key, 3);
  const theta = random.uniform(kt, [n], { minval: 0, maxval: Math.PI });
  const c = np.cos(theta.ref);
  const s = np.sin(theta);
  const inner = random.uniform(kb, [n]).less(0.5);
  const x = np.where(inner.ref, np.subtract(1, c.ref), c);
  const y = np.where(inner, np.subtract(0.5, s.ref), s);
  return np
    .stack([x, y], 1)
    .add(random.normal(kz, [n, 2]).mul(0.1))
    .mul(2)
    .add(np.array([-1, -0.2]).reshape([1, 2]));
}

/**
 * Checkerboard: x1 ~ U[−2, 2), x2 = u − 2b + (⌊x1⌋ mod 2) with u ~ U[0, 1), b ∈ {0, 1}; then ·2.
 * Every sample has ⌊x/2⌋ + ⌊y/2⌋ even (the "black" squares).
 */
function checkerboard(key: np.Array, n: number): np.Array {
  checkN(n, 'checkerboard');
  const [k1, kb, k2] = splitKey(key, 3);
  const x1 = random.uniform(k1, [n], { minval: -2, maxval: 2 });
  const f = np.floor(x1.ref);
  const parity = f.ref.sub(np.floor(f.mul(0.5)).mul(2)); // ⌊x1⌋ mod 2 in {0, 1}, also for negative x1
  const b = random.uniform(kb, [n]).less(0.5).astype(np.float32);
  const x2 = random.uniform(k2, [n]).sub(b.mul(2)).add(parity);
  return np.stack([x1, x2], 1).mul(2);
}

const RING8 = new GaussianMixture(ring(8, 2), 0.1);
const RING8_SHIFTED = new GaussianMixture(ring(8, 2, [6, 0]), 0.1);
const GRID25 = new GaussianMixture(GRID.flatMap((x) => GRID.map((y) => [x, y])), 0.1);
const LEFT_BLOB = new GaussianMixture([[-3, 0]], 0.25);
const RIGHT_BLOB = new GaussianMixture([[3, 0]], 0.25);

export const TOYS: Record<string, Toy> = {
  ring8: mixtureToy('8 equal Gaussians on a circle of radius 2 (angles 2πk/8), std 0.1', RING8),
  grid25: mixtureToy('25 equal Gaussians at {-4,-2,0,2,4}², std 0.1', GRID25),
  swissroll: { description: 'swiss roll: (t cos t, t sin t)/5 + N(0, 0.2²), t ~ U[1.5π, 4.5π] (FFJORD)', sample: swissroll },
  moons: { description: 'two interleaved half circles, noise 0.1, scaled ·2 and shifted by (-1, -0.2) (FFJORD)', sample: moons },
  checkerboard: { description: '8 uniform 2×2 squares of a checkerboard on [-4, 4]² (FFJORD)', sample: checkerboard },
  'left-blob': mixtureToy('one Gaussian at (-3, 0), std 0.25 (disjoint from right-blob)', LEFT_BLOB),
  'right-blob': mixtureToy('one Gaussian at (3, 0), std 0.25 (disjoint from left-blob)', RIGHT_BLOB),
  'ring8-shifted': mixtureToy('ring8 translated by (+6, 0): support disjoint from ring8', RING8_SHIFTED),
};

function getToy(name: string): Toy {
  const toy = Object.hasOwn(TOYS, name) ? TOYS[name] : undefined;
  if (!toy) throw new Error(`unknown toy distribution '${name}': expected one of ${Object.keys(TOYS).join(', ')}`);
  return toy;
}

/**
 * Mode centres and their (shared) std for mixture toys, for "modes covered" metrics; null for toys
 * without discrete modes (swissroll, moons, checkerboard).
 */
export function toyModes(name: string): { centers: number[][]; std: number } | null {
  const m = getToy(name).mixture;
  if (!m) return null;
  return { centers: m.means.map((c) => [...c]), std: Math.max(...m.stds) };
}

/** n samples [n, 2] from the named toy. Consumes `key`; unknown names give a one-line error. */
export function sampleToy(name: string, key: np.Array, n: number): np.Array {
  let toy: Toy;
  try {
    toy = getToy(name);
  } catch (e) {
    key.dispose();
    throw e;
  }
  return toy.sample(key, n);
}
