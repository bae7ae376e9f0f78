/**
 * 2-D toy scores against closed forms: sliced W₂ of a translated set, 1-D W₂ between unequal empirical
 * distributions, population MMD² between two Gaussians with the RBF-sum kernel, and mode coverage /
 * high-quality fraction / log-likelihood of exact ring8 samples.
 */
import '../platform/node.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { random } from '@jax-js/jax';
import { seededUniform } from '../data/prng.js';
import { TOYS } from '../data/toy2d.js';
import { testOnBackends } from '../testing/backends.js';
import { MMD_BANDWIDTHS, mmdRbf, modeStats, slicedWasserstein, swdDirections, toy2dMetrics, wasserstein2Squared1d } from './toy2d.js';

function gauss2d(n: number, mean: [number, number], s: number, seed: number): Float64Array {
  const r = seededUniform(seed);
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const rad = Math.sqrt(-2 * Math.log(1 - r()));
    const a = 2 * Math.PI * r();
    out[2 * i] = mean[0] + s * rad * Math.cos(a);
    out[2 * i + 1] = mean[1] + s * rad * Math.sin(a);
  }
  return out;
}

test('1-D W₂² between {0, 1} and {0, ½, 1} is 1/12', () => {
  // quantile functions: F⁻¹ = 0 on [0,½), 1 on [½,1); G⁻¹ = 0, ½, 1 on thirds →
  // (½)²·(½ − ⅓) + (½)²·(⅔ − ½) = 1/24 + 1/24
  assert.ok(Math.abs(wasserstein2Squared1d(Float64Array.of(0, 1), Float64Array.of(0.5, 0, 1)) - 1 / 12) < 1e-15);
  assert.equal(wasserstein2Squared1d(Float64Array.of(3, 1, 2), Float64Array.of(2, 3, 1)), 0);
});

test('sliced W₂ of a set and its translate by t: √(mean_θ (θᵀt)²) → |t|/√2', () => {
  const x = gauss2d(500, [0, 0], 1, 1);
  const t = [0.3, -0.4];
  const y = x.map((v, i) => v + t[i % 2]);
  const L = 64;
  const dirs = swdDirections(L, 0);
  let s = 0;
  for (let l = 0; l < L; l++) s += (dirs[2 * l] * t[0] + dirs[2 * l + 1] * t[1]) ** 2;
  const exact = Math.sqrt(s / L); // a translation shifts every sorted projection by θᵀt
  assert.ok(Math.abs(slicedWasserstein(x, y, L) - exact) < 1e-12, 'exact for the chosen directions');
  // uniform directions: E(θᵀt)² = |t|²/2
  assert.ok(Math.abs(slicedWasserstein(x, y, 4096) - 0.5 / Math.SQRT2) < 0.01);
});

testOnBackends('MMD² (RBF sum) of N((0,0), ½²I) vs N((½,0), ½²I) samples matches the population value', async () => {
  // For x − y ~ N(Δ, 2s²I₂): E exp(−‖x−y‖²/(2h²)) = h²/(h²+2s²) · exp(−|Δ|²/(2(h²+2s²))), so
  // MMD² = (1/|H|) Σ_h 2·h²/(h²+2s²)·(1 − exp(−|Δ|²/(2(h²+2s²)))) ≈ 0.0593.
  const s = 0.5, delta2 = 0.25;
  const pop = MMD_BANDWIDTHS.reduce((acc, h) => acc + (2 * h * h) / (h * h + 2 * s * s) * (1 - Math.exp(-delta2 / (2 * (h * h + 2 * s * s)))), 0) / MMD_BANDWIDTHS.length;
  const est = await mmdRbf(gauss2d(2000, [0, 0], s, 2), gauss2d(2000, [0.5, 0], s, 3));
  assert.ok(Math.abs(est - pop) < 0.1 * pop, `MMD² ${est}, population ${pop}`);
  const same = await mmdRbf(gauss2d(2000, [0, 0], s, 4), gauss2d(2000, [0, 0], s, 5));
  assert.ok(Math.abs(same) < 0.1 * pop, `same-distribution MMD² ${same}`);
}, { only: ['wasm'] });

testOnBackends('ring8: exact samples cover 8/8 modes with 1 − e^{−4.5} within 3σ; one-mode samples cover 1', async () => {
  const n = 4000;
  const x = (await TOYS.ring8.sample(random.key(7), n).data()) as Float32Array;
  const m = await toy2dMetrics(x, 'ring8');
  assert.equal(m.modesCovered, 8);
  assert.equal(m.modesTotal, 8);
  // P(‖z‖ ≤ 3) for a 2-D standard normal = 1 − e^{−9/2} = 0.98889
  const p = 1 - Math.exp(-4.5);
  assert.ok(Math.abs(m.highQuality - p) < 3 * Math.sqrt((p * (1 - p)) / n), `high quality ${m.highQuality}`);
  // E log p = −H = −(ln 8 + ln(2πe·0.1²)) for 8 well-separated equal modes (std of log p per sample is 1)
  const negH = -(Math.log(8) + Math.log(2 * Math.PI * Math.E * 0.01));
  assert.ok(Math.abs(m.logLikelihood - negH) < 3 / Math.sqrt(n), `log-likelihood ${m.logLikelihood}, expected ${negH}`);
  assert.ok(m.mmd < 0.005 && m.swd < 0.2, `mmd ${m.mmd}, swd ${m.swd} vs the reference sample`);
  // all mass on mode 0 (centre (2, 0)): 1 mode covered, mmd and swd large
  const one = gauss2d(1000, [2, 0], 0.1, 9);
  const c = modeStats(one, [[2, 0], [0, 2], [-2, 0], [0, -2]], 0.1);
  assert.equal(c.modesCovered, 1);
  const m1 = await toy2dMetrics(one, 'ring8');
  assert.equal(m1.modesCovered, 1);
  assert.ok(m1.mmd > 20 * m.mmd && m1.swd > 5 * m.swd, `collapsed: mmd ${m1.mmd}, swd ${m1.swd}`);
}, { only: ['wasm'] });

test('mode coverage rule: a mode needs ≥ ¼ of its fair share n/K', () => {
  // 2 modes, n = 100: a mode needs ≥ 12.5 samples; 90/10 → 1 covered, 80/20 → 2.
  const pts = (a: number, b: number) => Float64Array.from([...Array(a).fill([0, 0]), ...Array(b).fill([10, 0])].flat());
  assert.equal(modeStats(pts(90, 10), [[0, 0], [10, 0]], 1).modesCovered, 1);
  assert.equal(modeStats(pts(80, 20), [[0, 0], [10, 0]], 1).modesCovered, 2);
});

testOnBackends('toy2dMetrics: moons has no modes; unknown toy and bad shapes are one-line errors', async () => {
  const x = (await TOYS.moons.sample(random.key(3), 500).data()) as Float32Array;
  const m = await toy2dMetrics(x, 'moons');
  assert.deepEqual(Object.keys(m).sort(), ['mmd', 'n', 'swd']);
  await assert.rejects(toy2dMetrics(x, 'nope'), /^Error: unknown toy distribution 'nope'/);
  await assert.rejects(toy2dMetrics(new Float32Array(3), 'ring8'), /expected \[n, 2\] points/);
}, { only: ['wasm'] });
