/**
 * Tests for the 2D toys (toy2d.ts): sample statistics against values known in closed form for each
 * sampler's definition, exact invariants (checkerboard parity, disjoint supports), mode tables, and
 * one-line errors for unknown names.
 */
import '../platform/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jit, numpy as np, random } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { TOYS, sampleToy, toyModes } from './toy2d.js';

async function points(name: string, seed: number, n: number): Promise<Float32Array> {
  return (await sampleToy(name, random.key(seed), n).data()) as Float32Array;
}

function mean(xs: Float32Array, f: (x: number, y: number) => number): number {
  let s = 0;
  for (let i = 0; i < xs.length; i += 2) s += f(xs[i], xs[i + 1]);
  return s / (xs.length / 2);
}

testOnBackends('ring8 samples: mean, variance, radius and per-mode mass match the definition', async (backend) => {
  const n = backend === 'wasm' ? 16000 : 4000;
  const p = await points('ring8', 1, n);
  // radius r = 2, std s = 0.1: mean 0; per-coordinate variance r²/2 + s² = 2.01; E|x| ≈ r + s²/(2r) = 2.0025
  const se = 1 / Math.sqrt(n);
  assertClose([mean(p, (x) => x), mean(p, (_, y) => y)], [0, 0], { atol: 6 * se, what: 'mean' });
  assertClose([mean(p, (x) => x * x), mean(p, (_, y) => y * y)], [2.01, 2.01], { atol: 8 * se, what: 'variance' });
  assertClose([mean(p, (x, y) => Math.hypot(x, y))], [2.0025], { atol: 0.5 * se, what: 'mean radius' });
  // nearest-centre mass 1/8 each; within 3 stds of its centre: P(|z| < 3) in 2D = 1 − e^{−4.5} = 0.98889
  const { centers, std } = toyModes('ring8')!;
  const counts = new Array(8).fill(0);
  let within = 0;
  for (let i = 0; i < p.length; i += 2) {
    const d = centers.map(([cx, cy]) => Math.hypot(p[i] - cx, p[i + 1] - cy));
    const k = d.indexOf(Math.min(...d));
    counts[k]++;
    if (d[k] < 3 * std) within++;
  }
  assertClose(counts.map((c) => c / n), new Array(8).fill(1 / 8), { atol: 5 * Math.sqrt((1 / 8) * (7 / 8) / n), what: 'mode mass' });
  assertClose([within / n], [1 - Math.exp(-4.5)], { atol: 5 * Math.sqrt(0.011 / n), what: 'mass within 3 std' });
});

test('checkerboard, moons and swissroll statistics match their definitions', async () => {
  const n = 16000;
  const se = 1 / Math.sqrt(n);
  const cb = await points('checkerboard', 2, n);
  const squares = new Map<string, number>();
  for (let i = 0; i < cb.length; i += 2) {
    const fx = Math.floor(cb[i] / 2), fy = Math.floor(cb[i + 1] / 2);
    assert.ok(cb[i] >= -4 && cb[i] < 4 && cb[i + 1] >= -4 && cb[i + 1] < 4, `checkerboard point ${cb[i]}, ${cb[i + 1]} outside [-4, 4)²`);
    assert.equal((((fx + fy) % 2) + 2) % 2, 0, `checkerboard point ${cb[i]}, ${cb[i + 1]} on a white square`);
    squares.set(`${fx},${fy}`, (squares.get(`${fx},${fy}`) ?? 0) + 1);
  }
  assert.equal(squares.size, 8);
  for (const c of squares.values()) assert.ok(Math.abs(c / n - 1 / 8) < 5 * Math.sqrt((1 / 8) * (7 / 8) / n), `square mass ${c / n}`);

  // moons: outer arc mean (0, 2/π), inner (1, 0.5 − 2/π), so the mixture mean is (0.5, 0.25); ·2 + (−1, −0.2) → (0, 0.3)
  const mo = await points('moons', 3, n);
  assertClose([mean(mo, (x) => x), mean(mo, (_, y) => y)], [0, 0.3], { atol: 8 * se, what: 'moons mean' });

  // swiss roll: 25·E|x|² = E t² + 2 with t ~ U[a, b], E t² = (a² + ab + b²)/3, a = 1.5π, b = 4.5π
  const a = 1.5 * Math.PI, b = 4.5 * Math.PI;
  const sr = await points('swissroll', 4, n);
  const et2 = (a * a + a * b + b * b) / 3;
  assertClose([mean(sr, (x, y) => x * x + y * y)], [(et2 + 2) / 25], { rtol: 0.02, what: 'swissroll E|x|²' });
});

test('disjoint pairs: left/right blobs have KL 288 nats; ring8 and ring8-shifted do not overlap', async () => {
  const n = 4000;
  const left = TOYS['left-blob'].mixture!, right = TOYS['right-blob'].mixture!;
  // Monte Carlo KL(left ‖ right) = E_left[log p_left − log p_right]; exact |Δμ|²/(2s²) = 36/(2·0.0625) = 288,
  // estimator std |Δμ|/s = 24 per sample
  const x = sampleToy('left-blob', random.key(5), n);
  const lp = await left.logDensity(x.ref).data();
  const lq = await right.logDensity(x).data();
  let kl = 0;
  for (let i = 0; i < n; i++) kl += (lp[i] - lq[i]) / n;
  assert.ok(Math.abs(kl - 288) < 5 * (24 / Math.sqrt(n)), `KL estimate ${kl}`);
  const ring = await points('ring8', 6, n);
  const shifted = await points('ring8-shifted', 7, n);
  let maxX = -Infinity, minX = Infinity;
  for (let i = 0; i < ring.length; i += 2) maxX = Math.max(maxX, ring[i]);
  for (let i = 0; i < shifted.length; i += 2) minX = Math.min(minX, shifted[i]);
  assert.ok(maxX < 2.6 && minX > 3.4, `ring8 reaches x=${maxX}, ring8-shifted starts at x=${minX}`);
});

testOnBackends('every toy samples [n, 2] finite points under jit, deterministically per key', async () => {
  for (const [name, toy] of Object.entries(TOYS)) {
    const f = jit((key: np.Array) => toy.sample(key, 64));
    try {
      const a = await f(random.key(11)).data();
      const b = await f(random.key(11)).data();
      const c = await f(random.key(12)).data();
      assert.equal(a.length, 128, name);
      assert.ok(a.every(Number.isFinite), `${name}: non-finite sample`);
      assert.deepEqual(a, b, `${name}: same key, different samples`);
      assert.notDeepEqual(a, c, `${name}: different keys, same samples`);
    } finally {
      f.dispose();
    }
  }
});

test('mode tables and unknown names', () => {
  const ring = toyModes('ring8')!;
  assert.equal(ring.std, 0.1);
  assertClose(ring.centers.flat(), Array.from({ length: 8 }, (_, k) => [2 * Math.cos((k * Math.PI) / 4), 2 * Math.sin((k * Math.PI) / 4)]).flat(), { atol: 1e-12 });
  const grid = toyModes('grid25')!;
  assert.equal(grid.centers.length, 25);
  assert.deepEqual(new Set(grid.centers.map((c) => c.join(','))).size, 25);
  assert.ok(grid.centers.every(([x, y]) => [-4, -2, 0, 2, 4].includes(x) && [-4, -2, 0, 2, 4].includes(y)));
  assert.deepEqual(toyModes('ring8-shifted')!.centers[0], [8, 0]);
  assert.equal(toyModes('swissroll'), null);
  for (const name of Object.keys(TOYS)) assert.equal(!!toyModes(name), !!TOYS[name].mixture, name);
  assert.throws(() => sampleToy('spiral', random.key(0), 4), (e: Error) => /unknown toy distribution 'spiral': expected one of ring8, grid25, swissroll, moons, checkerboard/.test(e.message) && !e.message.includes('\n'));
  assert.throws(() => toyModes('nope'), /unknown toy distribution 'nope'/);
});
