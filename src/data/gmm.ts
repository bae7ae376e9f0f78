/**
 * Isotropic Gaussian mixtures p(x) = Σ_k w_k N(x; μ_k, s_k² I): analytic teachers and test oracles for
 * Diff-Instruct (Luo et al. 2023). Under the VE/EDM forward process x_σ = x_0 + σ ε (Karras et al. 2022,
 * eq. 1) a mixture stays a mixture with inflated variances,
 *
 *   p_σ(x) = Σ_k w_k N(x; μ_k, (s_k² + σ²) I),
 *
 * so the diffused score ∇ log p_σ (the teacher score s_{p_t} in Diff-Instruct's IKL gradient, eq. 3.5)
 * and the ideal denoiser D(x; σ) = E[x_0 | x_σ = x] (Tweedie: D = x + σ² ∇ log p_σ) are exact:
 *
 *   r_k(x)  = softmax_k( log w_k − d/2·log(2π v_k) − |x − μ_k|² / (2 v_k) ),   v_k = s_k² + σ²
 *   D(x; σ) = Σ_k r_k(x) (s_k² x + σ² μ_k) / v_k
 *   ∇ log p_σ(x) = Σ_k r_k(x) (μ_k − x) / v_k  = (D − x) / σ².
 *
 * The score is computed in the last form, not as (D − x)/σ², because that difference cancels
 * catastrophically in float32 at small σ (and is 0/0 at σ = 0). Everything is jax-js float32, jittable
 * and differentiable; the `…JS` methods are float64 host references for tests.
 */
import { numpy as np, nn, random } from '@jax-js/jax';

/** The project's denoiser signature (teacher, fake score, generator): D(x) for x [N, …], σ [N]. */
export type Denoiser = (params: Record<string, np.Array>, x: np.Array, sigma: np.Array, labels: np.Array | null) => np.Array;

const LOG_2PI = Math.log(2 * Math.PI);

/** Splits a key in two without leaving the iterator's zero-size remainder alive. */
function split2(key: np.Array): [np.Array, np.Array] {
  const ks = random.split(key, 2);
  return [ks.ref.slice(0), ks.slice(1)];
}

export class GaussianMixture {
  /** Dimension d of each point. */
  readonly dim: number;
  /** Number of components K. */
  readonly numComponents: number;
  readonly means: number[][];
  /** Per-component standard deviation s_k. */
  readonly stds: number[];
  /** Normalised mixture weights w_k (sum to 1). */
  readonly weights: number[];
  readonly #means32: Float32Array;
  readonly #vars32: Float32Array;
  readonly #stds32: Float32Array;
  readonly #logw32: Float32Array;
  readonly #cumLo32: Float32Array;
  readonly #cumHi32: Float32Array;

  /**
   * @param means  K component means, each of length d
   * @param stds   per-component standard deviations (length K), or one shared value
   * @param weights unnormalised positive weights (length K); default uniform
   */
  constructor(means: number[][], stds: number[] | number, weights?: number[]) {
    if (!Array.isArray(means) || means.length === 0) throw new Error('GaussianMixture: means must be a non-empty array of points');
    const K = means.length;
    const d = means[0].length;
    if (d === 0) throw new Error('GaussianMixture: means must have at least one coordinate');
    means.forEach((m, k) => {
      if (m.length !== d) throw new Error(`GaussianMixture: mean ${k} has ${m.length} coordinates, expected ${d}`);
      if (!m.every(Number.isFinite)) throw new Error(`GaussianMixture: mean ${k} has a non-finite coordinate`);
    });
    const s = typeof stds === 'number' ? new Array<number>(K).fill(stds) : stds;
    if (s.length !== K) throw new Error(`GaussianMixture: ${s.length} stds for ${K} components`);
    s.forEach((v, k) => {
      if (!(v > 0 && Number.isFinite(v))) throw new Error(`GaussianMixture: std ${k} is ${v}, expected a positive number`);
    });
    const w = weights ?? new Array<number>(K).fill(1);
    if (w.length !== K) throw new Error(`GaussianMixture: ${w.length} weights for ${K} components`);
    w.forEach((v, k) => {
      if (!(v > 0 && Number.isFinite(v))) throw new Error(`GaussianMixture: weight ${k} is ${v}, expected a positive number`);
    });
    const total = w.reduce((a, b) => a + b, 0);
    this.dim = d;
    this.numComponents = K;
    this.means = means.map((m) => [...m]);
    this.stds = [...s];
    this.weights = w.map((v) => v / total);
    this.#means32 = Float32Array.from(means.flat());
    this.#vars32 = Float32Array.from(s.map((v) => v * v));
    this.#stds32 = Float32Array.from(s);
    this.#logw32 = Float32Array.from(this.weights.map(Math.log));
    let c = 0;
    const cum = this.weights.map((v) => (c += v));
    this.#cumLo32 = Float32Array.from([0, ...cum.slice(0, -1)]);
    this.#cumHi32 = Float32Array.from([...cum.slice(0, -1), 2]);
  }

  /** The mixture mean Σ_k w_k μ_k (the denoiser's limit as σ → ∞). */
  mean(): number[] {
    const m = new Array<number>(this.dim).fill(0);
    this.means.forEach((mu, k) => mu.forEach((v, j) => (m[j] += this.weights[k] * v)));
    return m;
  }

  #checkX(x: np.Array, what: string): number {
    if (x.ndim !== 2 || x.shape[1] !== this.dim) throw new Error(`GaussianMixture.${what}: x has shape [${x.shape.join(', ')}], expected [n, ${this.dim}]`);
    return x.shape[0];
  }

  /** σ² as [n, 1] (or [1, 1] for a number or a scalar array). Consumes `sigma`. */
  #sigma2(sigma: np.Array | number, n: number, what: string): np.Array {
    if (typeof sigma === 'number') {
      if (!(sigma >= 0 && Number.isFinite(sigma))) throw new Error(`GaussianMixture.${what}: sigma is ${sigma}, expected a finite number >= 0`);
      return np.full([1, 1], sigma * sigma);
    }
    if (!(sigma.ndim === 0 || (sigma.ndim === 1 && sigma.shape[0] === n))) {
      throw new Error(`GaussianMixture.${what}: sigma has shape [${sigma.shape.join(', ')}], expected [${n}] or a number`);
    }
    return np.square(sigma.reshape([-1, 1]));
  }

  /**
   * Per-component log-densities logc_k = log w_k N(x; μ_k, v_k I) [n, K], variances v [n, K] and σ²
   * [n, 1] (or [1, 1]) of the diffused mixture. Borrows `x`, consumes `sigma`.
   */
  #posterior(x: np.Array, sigma: np.Array | number, what: string): { logc: np.Array; v: np.Array; sig2: np.Array } {
    const n = this.#checkX(x, what);
    const { dim: d, numComponents: K } = this;
    const sig2 = this.#sigma2(sigma, n, what);
    const v = np.array(this.#vars32, { shape: [1, K] }).add(sig2.ref); // [n, K]
    const mu = np.array(this.#means32, { shape: [1, K, d] });
    const sq = np.square(x.ref.reshape([n, 1, d]).sub(mu)).sum(2); // |x − μ_k|², [n, K]
    const logc = np.array(this.#logw32, { shape: [1, K] })
      .sub(np.log(v.ref).mul(0.5 * d))
      .sub(sq.div(v.ref.mul(2)))
      .sub(0.5 * d * LOG_2PI);
    return { logc, v, sig2 };
  }

  /** log p_σ(x) [n] for x [n, d], σ [n] or a number (σ = 0: the mixture itself). Consumes x, sigma. */
  diffusedLogDensity(x: np.Array, sigma: np.Array | number): np.Array {
    const { logc, v, sig2 } = this.#posterior(x, sigma, 'diffusedLogDensity');
    x.dispose();
    v.dispose();
    sig2.dispose();
    return nn.logsumexp(logc, 1);
  }

  /** log p(x) [n] of the undiffused mixture. Consumes x. */
  logDensity(x: np.Array): np.Array {
    return this.diffusedLogDensity(x, 0);
  }

  /** E[x_0 | x_σ = x] [n, d] = Σ_k r_k (s_k² x + σ² μ_k)/(s_k² + σ²). Consumes x, sigma. */
  denoise(x: np.Array, sigma: np.Array | number): np.Array {
    const { logc, v, sig2 } = this.#posterior(x, sigma, 'denoise');
    const K = this.numComponents;
    const r = nn.softmax(logc, 1);
    const ra = r.ref.mul(np.array(this.#vars32, { shape: [1, K] }).div(v.ref)); // r_k s_k²/v_k
    const rb = r.mul(sig2.div(v)); // r_k σ²/v_k
    const mu = np.array(this.#means32, { shape: [K, this.dim] });
    return x.mul(ra.sum(1, { keepdims: true })).add(np.matmul(rb, mu));
  }

  /** ∇_x log p_σ(x) [n, d] = Σ_k r_k (μ_k − x)/v_k = (denoise − x)/σ². Consumes x, sigma. */
  score(x: np.Array, sigma: np.Array | number): np.Array {
    const { logc, v, sig2 } = this.#posterior(x, sigma, 'score');
    sig2.dispose();
    const rv = nn.softmax(logc, 1).div(v); // r_k / v_k
    const mu = np.array(this.#means32, { shape: [this.numComponents, this.dim] });
    return np.matmul(rv.ref, mu).sub(x.mul(rv.sum(1, { keepdims: true })));
  }

  /** n iid samples [n, d]. Consumes `key`. */
  sample(key: np.Array, n: number): np.Array {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`GaussianMixture.sample: n must be a positive integer, got ${n}`);
    const { dim: d, numComponents: K } = this;
    const [kc, kz] = split2(key);
    // component k when u ∈ [c_{k−1}, c_k) for the cumulative weights c (the last interval is open
    // above, against rounding); one-hot by comparison, not gather or random.categorical (which keeps
    // a device buffer alive per new shape in jax-js 0.1.25)
    const u = random.uniform(kc, [n, 1]);
    const onehot = u.ref.greaterEqual(np.array(this.#cumLo32, { shape: [1, K] }))
      .astype(np.float32)
      .mul(u.less(np.array(this.#cumHi32, { shape: [1, K] })).astype(np.float32));
    const mu = np.matmul(onehot.ref, np.array(this.#means32, { shape: [K, d] }));
    const sd = np.matmul(onehot, np.array(this.#stds32, { shape: [K, 1] }));
    return mu.add(sd.mul(random.normal(kz, [n, d])));
  }

  /**
   * The mixture's ideal denoiser in the project's signature, for use as an exact teacher.
   * `params` (empty) and `labels` are ignored and disposed, per the ownership convention.
   */
  asDenoiser(): Denoiser {
    return (params, x, sigma, labels) => {
      for (const p of Object.values(params)) p.dispose();
      labels?.dispose();
      return this.denoise(x, sigma);
    };
  }

  // ---- float64 host references (tests) ----

  #checkPoint(point: ArrayLike<number>, sigma: number): void {
    if (point.length !== this.dim) throw new Error(`GaussianMixture: point has ${point.length} coordinates, expected ${this.dim}`);
    if (!(sigma >= 0 && Number.isFinite(sigma))) throw new Error(`GaussianMixture: sigma is ${sigma}, expected a finite number >= 0`);
  }

  /** Per-component log w_k N(point; μ_k, v_k I) in float64. */
  #logComponentsJS(point: ArrayLike<number>, sigma: number): { logc: number[]; v: number[] } {
    this.#checkPoint(point, sigma);
    const d = this.dim;
    const v = this.stds.map((s) => s * s + sigma * sigma);
    const logc = this.means.map((mu, k) => {
      let sq = 0;
      for (let j = 0; j < d; j++) sq += (point[j] - mu[j]) ** 2;
      return Math.log(this.weights[k]) - 0.5 * d * Math.log(2 * Math.PI * v[k]) - sq / (2 * v[k]);
    });
    return { logc, v };
  }

  #responsibilitiesJS(logc: number[]): number[] {
    const m = Math.max(...logc);
    const e = logc.map((l) => Math.exp(l - m));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / z);
  }

  /** log p_σ(point) in float64 (σ = 0 by default). */
  logDensityJS(point: ArrayLike<number>, sigma = 0): number {
    const { logc } = this.#logComponentsJS(point, sigma);
    const m = Math.max(...logc);
    return m + Math.log(logc.reduce((a, l) => a + Math.exp(l - m), 0));
  }

  /** ∇ log p_σ(point) in float64. */
  scoreJS(point: ArrayLike<number>, sigma = 0): number[] {
    const { logc, v } = this.#logComponentsJS(point, sigma);
    const r = this.#responsibilitiesJS(logc);
    const g = new Array<number>(this.dim).fill(0);
    this.means.forEach((mu, k) => mu.forEach((m, j) => (g[j] += (r[k] * (m - point[j])) / v[k])));
    return g;
  }

  /** E[x_0 | x_σ = point] in float64. */
  denoiseJS(point: ArrayLike<number>, sigma = 0): number[] {
    const { logc, v } = this.#logComponentsJS(point, sigma);
    const r = this.#responsibilitiesJS(logc);
    const out = new Array<number>(this.dim).fill(0);
    this.means.forEach((mu, k) => {
      const s2 = this.stds[k] ** 2;
      mu.forEach((m, j) => (out[j] += (r[k] * (s2 * point[j] + sigma * sigma * m)) / v[k]));
    });
    return out;
  }
}
