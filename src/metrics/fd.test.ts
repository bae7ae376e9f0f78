/** Fréchet distance against closed forms for Gaussian statistics with known means and covariances. */
import '../platform/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frechetDistance, frechetDistanceParts, fdFromFeatures } from './fd.js';
import { matmulSquare, trace } from './linalg.js';
import { seededUniform } from '../data/prng.js';

const relClose = (a: number, b: number, rtol = 1e-6, what = 'FD') => assert.ok(Math.abs(a - b) <= rtol * Math.abs(b), `${what} = ${a}, expected ${b}`);

function diag(v: number[]): Float64Array {
  const n = v.length;
  const m = new Float64Array(n * n);
  v.forEach((x, i) => (m[i * n + i] = x));
  return m;
}

function randomSpd(n: number, seed: number): Float64Array {
  const r = seededUniform(seed);
  const b = Float64Array.from({ length: n * n }, () => 2 * r() - 1);
  const bt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) bt[j * n + i] = b[i * n + j];
  const a = matmulSquare(b, bt, n);
  for (let i = 0; i < n; i++) a[i * n + i] += 0.1;
  return a;
}

test('FD, diagonal covariances: ‖μ1−μ2‖² + Σ(√a_i − √b_i)²', () => {
  const r = seededUniform(11);
  const d = 32;
  const mu1 = Float64Array.from({ length: d }, () => r() * 4 - 2);
  const mu2 = Float64Array.from({ length: d }, () => r() * 4 - 2);
  const a = Array.from({ length: d }, () => 0.01 + r() * 3);
  const b = Array.from({ length: d }, () => 0.01 + r() * 3);
  let expected = 0;
  for (let i = 0; i < d; i++) expected += (mu1[i] - mu2[i]) ** 2 + (Math.sqrt(a[i]) - Math.sqrt(b[i])) ** 2;
  relClose(frechetDistance({ d, mu: mu1, sigma: diag(a) }, { d, mu: mu2, sigma: diag(b) }), expected);
});

test('FD, non-commuting 2×2 covariances: closed form', () => {
  // Σ1 = [[2,1],[1,2]], Σ2 = diag(1,4) do not commute (Σ1Σ2 = [[2,4],[1,8]] ≠ Σ2Σ1 = [[2,1],[4,8]]).
  // For a 2×2 matrix with eigenvalues λ1, λ2 ≥ 0: (√λ1 + √λ2)² = tr + 2√det, so
  // tr sqrtm(Σ1Σ2) = √(tr(Σ1Σ2) + 2√(det Σ1 · det Σ2)) = √(10 + 2√(3·4)) = √(10 + 4√3).
  // With μ1 = (1, 0), μ2 = (0, 2): FD = 1 + 4 + tr Σ1 + tr Σ2 − 2√(10 + 4√3) = 14 − 2√(10 + 4√3) ≈ 0.5153.
  const expected = 14 - 2 * Math.sqrt(10 + 4 * Math.sqrt(3));
  const a = { d: 2, mu: Float64Array.of(1, 0), sigma: Float64Array.of(2, 1, 1, 2) };
  const b = { d: 2, mu: Float64Array.of(0, 2), sigma: Float64Array.of(1, 0, 0, 4) };
  relClose(frechetDistance(a, b), expected, 1e-12);
  relClose(frechetDistance(b, a), expected, 1e-12, 'FD (swapped)');
  // a naive tr Σ1 + tr Σ2 − 2 tr(Σ1^{1/2} Σ2^{1/2}) (wrong when Σ1Σ2 ≠ Σ2Σ1) would differ clearly
  const parts = frechetDistanceParts(a, b);
  relClose(parts.meanTerm, 5, 1e-15, 'mean term');
});

test('FD, Σ2 = c²Σ1 with a full random 64×64 Σ1: ‖Δμ‖² + (1 − c)² tr Σ1', () => {
  // (Σ1^{1/2} c²Σ1 Σ1^{1/2})^{1/2} = cΣ1, so the covariance term is tr Σ1 (1 + c² − 2c).
  const d = 64, c = 0.7;
  const s1 = randomSpd(d, 5);
  const s2 = s1.map((v) => v * c * c);
  const mu1 = new Float64Array(d).fill(0.5);
  const mu2 = new Float64Array(d).fill(-0.25);
  const expected = d * 0.75 ** 2 + (1 - c) ** 2 * trace(s1, d);
  relClose(frechetDistance({ d, mu: mu1, sigma: s1 }, { d, mu: mu2, sigma: s2 }), expected);
  // identical statistics → 0 (up to round-off relative to tr Σ)
  assert.ok(Math.abs(frechetDistance({ d, mu: mu1, sigma: s1 }, { d, mu: mu1, sigma: s1 })) < 1e-9 * trace(s1, d));
});

test('FD, singular covariances (dead ReLU units): diag(1,0) vs diag(0,1) = 2', () => {
  const z = new Float64Array(2);
  relClose(frechetDistance({ d: 2, mu: z, sigma: diag([1, 0]) }, { d: 2, mu: z, sigma: diag([0, 1]) }), 2, 1e-12);
});

test('fdFromFeatures: two samples of the same Gaussian are close; shifted sample gives ‖shift‖²', () => {
  const r = seededUniform(21);
  const n = 4000, d = 4;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const x = Float32Array.from({ length: n * d }, gauss);
  const y = Float32Array.from({ length: n * d }, gauss);
  const same = fdFromFeatures(x, n, y, n, d);
  assert.ok(same < 0.02, `FD of two N(0, I) samples = ${same}`);
  // shifting every feature of x by 3 adds exactly 9·d to the FD of x with itself (= 0)
  const xs = x.map((v) => v + 3);
  relClose(fdFromFeatures(x, n, xs, n, d), 9 * d, 1e-5);
  assert.throws(() => frechetDistance({ d: 2, mu: new Float64Array(2), sigma: new Float64Array(4) }, { d: 3, mu: new Float64Array(3), sigma: new Float64Array(9) }), /dimensions differ/);
});
