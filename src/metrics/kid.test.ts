/**
 * KID: the subset estimator equals the plain unbiased MMD² formula; matches the population MMD² of two
 * 1-D Gaussians in closed form; and is within two standard errors of 0 for two samples of one
 * distribution (where the biased V-statistic would sit many standard errors above 0).
 */
import '../platform/node.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededUniform } from '../data/prng.js';
import { testOnBackends } from '../testing/backends.js';
import { kernelInceptionDistance } from './kid.js';

function gaussians(n: number, mean: number, seed: number): Float32Array {
  const r = seededUniform(seed);
  return Float32Array.from({ length: n }, () => mean + Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

/** Direct float64 unbiased MMD² with k(x,y) = (xᵀy/d + 1)³ (all rows, no subsets). */
function mmdDirect(x: ArrayLike<number>, nx: number, y: ArrayLike<number>, ny: number, d: number): number {
  const k = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number) => {
    let s = 0;
    for (let t = 0; t < d; t++) s += a[i * d + t] * b[j * d + t];
    return (s / d + 1) ** 3;
  };
  let xx = 0, yy = 0, xy = 0;
  for (let i = 0; i < nx; i++) for (let j = 0; j < nx; j++) if (i !== j) xx += k(x, i, x, j);
  for (let i = 0; i < ny; i++) for (let j = 0; j < ny; j++) if (i !== j) yy += k(y, i, y, j);
  for (let i = 0; i < nx; i++) for (let j = 0; j < ny; j++) xy += k(x, i, y, j);
  return xx / (nx * (nx - 1)) + yy / (ny * (ny - 1)) - (2 * xy) / (nx * ny);
}

testOnBackends('KID with one subset holding every row = the unbiased MMD² formula', async () => {
  const d = 3, n = 7;
  const r = seededUniform(3);
  const x = Float32Array.from({ length: n * d }, () => r() * 2);
  const y = Float32Array.from({ length: n * d }, () => r() * 2 - 0.5);
  const res = await kernelInceptionDistance(x, n, y, n, d, { subsets: 1 });
  const expected = mmdDirect(x, n, y, n, d);
  assert.equal(res.subsetSize, n);
  assert.ok(Math.abs(res.kid - expected) <= 1e-5 * Math.abs(expected), `KID ${res.kid}, direct ${expected}`);
});

test('KID of N(0,1) vs N(0.5,1) features (d = 1) matches the population MMD² 3.578125', async () => {
  // For independent x ~ N(a,1), y ~ N(b,1) and k = (xy + 1)³:
  //   E k = E[x³]E[y³] + 3E[x²]E[y²] + 3E[x]E[y] + 1 = (a³+3a)(b³+3b) + 3(1+a²)(1+b²) + 3ab + 1 =: g(a, b).
  // g(0,0) = 4, g(.5,.5) = 1.625² + 3·1.25² + 0.75 + 1 = 9.078125, g(0,.5) = 3·1.25 + 1 = 4.75,
  // MMD² = g(0,0) + g(.5,.5) − 2g(0,.5) = 3.578125.
  const n = 20000;
  const res = await kernelInceptionDistance(gaussians(n, 0, 1), n, gaussians(n, 0.5, 2), n, 1, { subsets: 100 });
  assert.ok(Math.abs(res.kid - 3.578125) < 4 * res.se, `KID ${res.kid} ± ${res.se}, expected 3.578125`);
  assert.ok(res.se < 0.3, `standard error ${res.se} too large to make the comparison meaningful`);
});

test('KID of two samples of one distribution is within 2 standard errors of 0', async () => {
  const n = 20000;
  const res = await kernelInceptionDistance(gaussians(n, 0, 5), n, gaussians(n, 0, 6), n, 1, { subsets: 100, seed: 1 });
  assert.ok(Math.abs(res.kid) <= 2 * res.se, `KID ${res.kid} ± ${res.se}`);
  // The biased V-statistic (diagonals included) would add 2(E k(x,x) − E k(x,x'))/m = 2(28 − 4)/1000 =
  // 0.048 here (E(x²+1)³ = 15 + 9 + 3 + 1 = 28 for x ~ N(0,1)): the test can tell the two apart.
  assert.ok(0.048 > 4 * res.se, `standard error ${res.se} too large to detect a biased estimator`);
});

test('KID: one-line errors for bad shapes and tiny sets', async () => {
  await assert.rejects(kernelInceptionDistance(new Float32Array(6), 3, new Float32Array(5), 3, 2), /^Error: KID: feature arrays are not \[3, 2\] and \[3, 2\]$/);
  await assert.rejects(kernelInceptionDistance(new Float32Array(2), 1, new Float32Array(4), 2, 2), /at least 2 samples/);
});
