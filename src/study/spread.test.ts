/**
 * spreadStats against values known in closed form: seeded samples of isotropic Gaussians at known
 * centres give modeDist ≈ s·√(π/2) and spread ≈ s·√2 (Rayleigh mean and RMS radius in 2-D); points
 * collapsed onto single locations give spread 0 whatever the locations.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededUniform } from '../data/prng.js';
import { spreadStats, teacherSpread } from './spread.js';

function gaussianCloud(centers: number[][], std: number, n: number, seed: number): number[] {
  const u = seededUniform(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = centers[i % centers.length];
    const r = Math.sqrt(-2 * Math.log(1 - u())), a = 2 * Math.PI * u();
    out.push(c[0] + std * r * Math.cos(a), c[1] + std * r * Math.sin(a));
  }
  return out;
}

test('spreadStats of teacher-like samples matches s·√(π/2) and s·√2', () => {
  const centers = Array.from({ length: 8 }, (_, k) => [2 * Math.cos((2 * Math.PI * k) / 8), 2 * Math.sin((2 * Math.PI * k) / 8)]);
  const s = 0.1;
  const got = spreadStats(gaussianCloud(centers, s, 40_000, 1), centers);
  const want = teacherSpread(s);
  // 40k samples: relative standard error of both means below 0.5%; 2% leaves room
  assert.ok(Math.abs(got.modeDist / want.modeDist - 1) < 0.02, `modeDist ${got.modeDist} vs ${want.modeDist}`);
  assert.ok(Math.abs(got.spread / want.spread - 1) < 0.02, `spread ${got.spread} vs ${want.spread}`);
});

test('spreadStats: points collapsed onto one location per mode have spread 0 and modeDist = their offset', () => {
  const centers = [[-3, 0], [3, 0]];
  const pts = [-2.5, 0, -2.5, 0, 3, 0.2, 3, 0.2, 3, 0.2];
  const got = spreadStats(pts, centers);
  assert.ok(got.spread < 1e-12, `spread ${got.spread}`);
  assert.ok(Math.abs(got.modeDist - (2 * 0.5 + 3 * 0.2) / 5) < 1e-12, `modeDist ${got.modeDist}`);
  assert.throws(() => spreadStats([], centers), /no points/);
});
