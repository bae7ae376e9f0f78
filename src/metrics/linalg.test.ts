/** Tests of the float64 host linear algebra against closed forms and defining identities. */
import '../platform/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eigh, matmulSquare, meanCov, sqrtmPsd, trace } from './linalg.js';
import { seededUniform } from '../data/prng.js';

function randomMatrix(n: number, seed: number): Float64Array {
  const r = seededUniform(seed);
  return Float64Array.from({ length: n * n }, () => 2 * r() - 1);
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('meanCov: hand-computed 3×2 example, unbiased (n − 1)', () => {
  // centred rows: (−2,−3), (0,−1), (2,4) → Σxx = 8/2, Σxy = 14/2, Σyy = 26/2
  const m = meanCov([1, 2, 3, 4, 5, 9], 3, 2);
  assert.deepEqual([...m.mu], [3, 5]);
  assert.deepEqual([...m.sigma], [4, 7, 7, 13]);
});

test('meanCov: two-pass stays exact under a 1e6 offset (one-pass Σxxᵀ − nμμᵀ would not)', () => {
  const r = seededUniform(7);
  const n = 1000, d = 3;
  const x = Float64Array.from({ length: n * d }, () => r());
  const shifted = x.map((v) => v + 1e6);
  const a = meanCov(x, n, d), b = meanCov(shifted, n, d);
  assert.ok(maxAbsDiff(a.sigma, b.sigma) < 1e-9, `cov changed by ${maxAbsDiff(a.sigma, b.sigma)}`);
  // Var of U(0,1) = 1/12; covariances ≈ 0 (sampling error ~ 1/(12·√n))
  for (let j = 0; j < d; j++) assert.ok(Math.abs(a.sigma[j * d + j] - 1 / 12) < 0.01);
});

test('eigh: eigenvalues of the tridiagonal Toeplitz matrix (2, −1) are 2 − 2cos(kπ/(n+1))', () => {
  const n = 60;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = 2;
    if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
  }
  const { values } = eigh(a, n);
  for (let k = 1; k <= n; k++) {
    const exact = 2 - 2 * Math.cos((k * Math.PI) / (n + 1));
    assert.ok(Math.abs(values[k - 1] - exact) < 1e-12, `λ_${k} = ${values[k - 1]}, expected ${exact}`);
  }
});

test('eigh: random symmetric 128×128 → V orthogonal and V diag(λ) Vᵀ = A to 1e-11', () => {
  const n = 128;
  const b = randomMatrix(n, 1);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
  const { values, vectors } = eigh(a, n);
  for (let i = 1; i < n; i++) assert.ok(values[i] >= values[i - 1], 'eigenvalues ascending');
  const vtv = matmulSquare(transpose(vectors, n), vectors, n);
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  assert.ok(maxAbsDiff(vtv, eye) < 1e-12, `VᵀV − I = ${maxAbsDiff(vtv, eye)}`);
  const vl = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vl[i * n + j] = vectors[i * n + j] * values[j];
  const recon = matmulSquare(vl, transpose(vectors, n), n);
  assert.ok(maxAbsDiff(recon, a) < 1e-11, `reconstruction error ${maxAbsDiff(recon, a)}`);
  // tr A = Σ λ
  assert.ok(Math.abs(trace(a, n) - values.reduce((s, v) => s + v, 0)) < 1e-10);
});

test('eigh: one-line error for NaN entries', () => {
  assert.throws(() => eigh([1, NaN, NaN, 1], 2), /^Error: eigh: matrix entry \(0, 1\) is NaN$/);
});

test('sqrtmPsd: S·S = A for A = BBᵀ (full rank and rank-deficient)', () => {
  const n = 40;
  const b = randomMatrix(n, 3);
  for (const rank of [n, 10]) {
    const br = b.map((v, i) => ((i % n) < rank ? v : 0)); // zero columns → rank `rank`
    const a = matmulSquare(br, transpose(br, n), n);
    const s = sqrtmPsd(a, n);
    const s2 = matmulSquare(s, s, n);
    assert.ok(maxAbsDiff(s2, a) < 1e-10, `rank ${rank}: ‖S² − A‖∞ = ${maxAbsDiff(s2, a)}`);
    assert.ok(maxAbsDiff(s, transpose(s, n)) < 1e-12, 'S symmetric');
  }
  // diagonal closed form
  const d = sqrtmPsd([4, 0, 0, 9], 2);
  assert.ok(maxAbsDiff(d, [2, 0, 0, 3]) < 1e-15);
});
