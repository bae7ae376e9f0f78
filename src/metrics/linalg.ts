/**
 * Float64 linear algebra on the host for the metrics: feature mean and covariance (two-pass), the
 * symmetric eigendecomposition (Householder tridiagonalisation + implicit QL, the EISPACK tred2/tql2
 * pair as in JAMA), and the PSD matrix square root. Feature dimensions are small (F ≤ 256), so O(F³)
 * in JavaScript takes milliseconds, and float64 keeps the Fréchet distance (src/metrics/fd.ts) free of
 * the cancellation that float32 suffers when two nearly equal covariances are compared.
 *
 * Matrices are dense row-major Float64Arrays of n·n entries.
 */

/** Mean and covariance of n samples of dimension d. */
export interface Moments {
  n: number;
  d: number;
  /** [d] */
  mu: Float64Array;
  /** [d·d] row-major, unbiased (divides by n − 1), as `numpy.cov(rowvar=False)` in the FID code. */
  sigma: Float64Array;
}

/**
 * Mean and unbiased covariance of the rows of `x` ([n, d] row-major, float32 or float64), in two passes:
 * first the mean, then the products of centred values (one pass Σxxᵀ − nμμᵀ loses digits when |μ| ≫ σ).
 */
export function meanCov(x: ArrayLike<number>, n: number, d: number): Moments {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 2 || d < 1) throw new Error(`meanCov: need n ≥ 2 samples of dimension d ≥ 1, got n=${n}, d=${d}`);
  if (x.length !== n * d) throw new Error(`meanCov: ${x.length} values is not n·d = ${n}·${d}`);
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mu[j] /= n;
  const sigma = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) c[j] = x[i * d + j] - mu[j];
    // upper triangle only; mirrored below
    for (let a = 0; a < d; a++) {
      const ca = c[a];
      if (ca === 0) continue; // ReLU features are often exactly zero
      const row = a * d;
      for (let b = a; b < d; b++) sigma[row + b] += ca * c[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = sigma[a * d + b] / (n - 1);
      sigma[a * d + b] = v;
      sigma[b * d + a] = v;
    }
  }
  return { n, d, mu, sigma };
}

/** Eigenvalues (ascending) and eigenvectors (columns of `vectors`, row-major n×n) of a symmetric matrix. */
export interface Eigh {
  values: Float64Array;
  vectors: Float64Array;
}

/**
 * Symmetric eigendecomposition A = V diag(λ) Vᵀ. Only the lower triangle of `a` is read. Eigenvalues
 * come out ascending; V is orthogonal. Householder reduction to tridiagonal form (tred2) followed by the
 * implicit QL algorithm with Wilkinson-style shifts (tql2), after Bowdler, Martin, Reinsch & Wilkinson
 * (Handbook for Automatic Computation II, 1971) as transcribed in JAMA.
 */
export function eigh(a: ArrayLike<number>, n: number): Eigh {
  if (a.length !== n * n) throw new Error(`eigh: ${a.length} values is not ${n}×${n}`);
  for (let i = 0; i < n * n; i++) if (!Number.isFinite(a[i])) throw new Error(`eigh: matrix entry (${Math.floor(i / n)}, ${i % n}) is ${a[i]}`);
  const V: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    V.push(new Float64Array(n));
    for (let j = 0; j < n; j++) V[i][j] = a[i * n + j];
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(n, V, d, e);
  tql2(n, V, d, e);
  const vectors = new Float64Array(n * n);
  for (let i = 0; i < n; i++) vectors.set(V[i], i * n);
  return { values: d, vectors };
}

/** Householder tridiagonalisation: on exit d = diagonal, e = sub-diagonal (e[0] = 0), V = the transform. */
function tred2(n: number, V: Float64Array[], d: Float64Array, e: Float64Array): void {
  for (let j = 0; j < n; j++) d[j] = V[n - 1][j];
  for (let i = n - 1; i > 0; i--) {
    // scale to avoid under/overflow
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[i - 1][j];
        V[i][j] = 0;
        V[j][i] = 0;
      }
    } else {
      // generate the Householder vector
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // apply the similarity transformation to the remaining columns
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j][i] = f;
        g = e[j] + V[j][j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k][j] * d[k];
          e[k] += V[k][j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k][j] -= f * e[k] + g * d[k];
        d[j] = V[i - 1][j];
        V[i][j] = 0;
      }
    }
    d[i] = h;
  }
  // accumulate the transformations
  for (let i = 0; i < n - 1; i++) {
    V[n - 1][i] = V[i][i];
    V[i][i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k][i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k][i + 1] * V[k][j];
        for (let k = 0; k <= i; k++) V[k][j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k][i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[n - 1][j];
    V[n - 1][j] = 0;
  }
  V[n - 1][n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL iterations on the tridiagonal (d, e), accumulating into V; sorts ascending at the end. */
function tql2(n: number, V: Float64Array[], d: Float64Array, e: Float64Array): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    // find a small sub-diagonal element
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    // if m == l, d[l] is already an eigenvalue; otherwise iterate
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 300) throw new Error(`eigh: QL iteration did not converge for eigenvalue ${l} of ${n}`);
        // compute the implicit shift
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        // implicit QL transformation
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (let k = 0; k < n; k++) {
            h = V[k][i + 1];
            V[k][i + 1] = s * V[k][i] + c * h;
            V[k][i] = c * V[k][i] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  // selection sort of eigenvalues and vectors, ascending
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const t = V[j][i];
        V[j][i] = V[j][k];
        V[j][k] = t;
      }
    }
  }
}

/**
 * V diag(f(λ)) Vᵀ for the eigendecomposition of a symmetric matrix: applies a scalar function to
 * its spectrum.
 */
export function spectralMap(eig: Eigh, n: number, f: (lambda: number) => number): Float64Array {
  const { values, vectors } = eig;
  const fl = Float64Array.from(values, f);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k] * fl[k] * vectors[j * n + k];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/**
 * Principal square root of a symmetric positive semi-definite matrix: V diag(√max(λ, 0)) Vᵀ. Eigenvalues
 * that round-off made slightly negative are clipped to 0 (the matrix is PSD by construction).
 */
export function sqrtmPsd(a: ArrayLike<number>, n: number): Float64Array {
  return spectralMap(eigh(a, n), n, (l) => Math.sqrt(Math.max(l, 0)));
}

/** C = A·B for n×n row-major matrices. */
export function matmulSquare(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      const bRow = k * n;
      const cRow = i * n;
      for (let j = 0; j < n; j++) c[cRow + j] += aik * b[bRow + j];
    }
  }
  return c;
}

/** tr(A) of an n×n row-major matrix. */
export function trace(a: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i * n + i];
  return s;
}
