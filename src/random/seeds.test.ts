// Tests for per-seed keys: seed-list parsing, and per-seed draws checked against a host reference
// (Threefry2x32 written here from the Random123 spec and pinned by its known-answer vectors, then
// jax-js's bits→uniform→Box-Muller recipe in float64), bitwise batch-size invariance, both backends.
import '../platform/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numpy as np, random } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { keyForSeed, normalForSeeds, parseSeeds, splitKeys, uniformIntForSeeds } from './seeds.js';

// --- host reference -------------------------------------------------------------------------------
const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
/** Threefry-2x32 with 20 rounds (Salmon et al. 2011, Random123 `threefry2x32_R(20, ...)`). */
function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  const R = [13, 15, 26, 6, 17, 29, 16, 24];
  let x0 = (c0 + ks[0]) >>> 0;
  let x1 = (c1 + ks[1]) >>> 0;
  for (let i = 0; i < 20; i++) {
    x0 = (x0 + x1) >>> 0;
    x1 = (rotl(x1, R[i % 8]) ^ x0) >>> 0;
    if (i % 4 === 3) {
      const s = (i + 1) / 4; // key injection s after every 4 rounds
      x0 = (x0 + ks[s % 3]) >>> 0;
      x1 = (x1 + ks[(s + 1) % 3] + s) >>> 0;
    }
  }
  return [x0, x1];
}
/** jax-js `bits(key, shape)[i]` = x0 ^ x1 of threefry(key, counter (0, i)). */
const bitsRef = (k: [number, number], i: number) => {
  const [a, b] = threefry2x32(k[0], k[1], 0, i);
  return (a ^ b) >>> 0;
};
/** jax-js `split(key, n)[j]` = both words of threefry(key, counter (0, j)). */
const splitRef = (k: [number, number], j: number) => threefry2x32(k[0], k[1], 0, j);
/** jax-js `uniform`: the top 23 bits as a mantissa in [1, 2), minus 1. */
const uniformRef = (k: [number, number], i: number) => (bitsRef(k, i) >>> 9) / 2 ** 23;
/** jax-js `normal(key, shape)[i]`: Box-Muller, radius from split child 0, angle from child 1. */
function normalRef(k: [number, number], size: number): number[] {
  const k1 = splitRef(k, 0), k2 = splitRef(k, 1);
  return Array.from({ length: size }, (_, i) => Math.sqrt(-2 * Math.log1p(-uniformRef(k1, i))) * Math.cos(2 * Math.PI * uniformRef(k2, i)));
}

test('reference Threefry2x32 matches the Random123 known-answer vectors (as in JAX random_test.py)', () => {
  const hex = (p: [number, number]) => p.map((x) => x.toString(16).padStart(8, '0'));
  assert.deepEqual(hex(threefry2x32(0, 0, 0, 0)), ['6b200159', '99ba4efe']);
  assert.deepEqual(hex(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)), ['1cb996fc', 'bb002be7']);
  assert.deepEqual(hex(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3)), ['c4923a9c', '483df7a0']);
});

// --- parseSeeds -----------------------------------------------------------------------------------
test('parseSeeds expands ranges inclusively, in order', () => {
  const s = parseSeeds('0-63,100,200-203');
  assert.equal(s.length, 64 + 1 + 4);
  assert.deepEqual(s.slice(0, 3), [0, 1, 2]);
  assert.deepEqual(s.slice(62), [62, 63, 100, 200, 201, 202, 203]);
  assert.deepEqual(parseSeeds(' 5 , 3-3,4294967295'), [5, 3, 4294967295]);
});

test('parseSeeds rejects bad lists with one-line errors naming the item', () => {
  for (const [spec, bad] of [['5-3', '5-3'], ['1,,2', "''"], ['a', 'a'], ['-1', '-1'], ['1-2-3', '1-2-3'], ['4294967296', '4294967296'], ['1.5', '1.5']]) {
    assert.throws(() => parseSeeds(spec), (e: Error) => e.message.includes(bad) && !e.message.includes('\n'), spec);
  }
  assert.throws(() => parseSeeds(''), /empty/);
});

// --- per-seed draws on each backend ---------------------------------------------------------------
const SEEDS = [7, 0, 123456, 42, 4294967295, 5, 99];
const SHAPE = [2, 3];

testOnBackends('normalForSeeds: row k depends only on seeds[k] (batch sizes 1, 4, 7) and matches the host reference', async () => {
  const size = SHAPE[0] * SHAPE[1];
  const rows: Float32Array[] = [];
  for (const n of [1, 4, 7]) {
    const x = normalForSeeds(SEEDS.slice(0, n), SHAPE);
    assert.deepEqual(x.shape, [n, ...SHAPE]);
    const d = (await x.data()) as Float32Array;
    rows.push(d);
  }
  for (let k = 0; k < 7; k++) {
    const row7 = rows[2].slice(k * size, (k + 1) * size);
    // bitwise identical at every batch size that contains seed k
    if (k < 1) assert.deepEqual(rows[0].slice(0, size), row7);
    if (k < 4) assert.deepEqual(rows[1].slice(k * size, (k + 1) * size), row7);
    // and identical to an unbatched draw from the seed's own key
    const single = (await random.normal(random.key(SEEDS[k]), SHAPE).data()) as Float32Array;
    assert.deepEqual(single, row7);
    // float32 log/cos on the device vs float64 here
    assertClose(row7, normalRef([0, SEEDS[k]], size), { rtol: 1e-4, atol: 2e-5, what: `seed ${SEEDS[k]}` });
  }
});

testOnBackends('uniformIntForSeeds and splitKeys match the host Threefry reference exactly', async () => {
  const labels = (await uniformIntForSeeds(SEEDS, 10).data()) as Int32Array;
  assert.deepEqual([...labels], SEEDS.map((s) => bitsRef([1, s], 0) % 10)); // label stream = 1
  const first3 = (await uniformIntForSeeds(SEEDS.slice(0, 3), 10).data()) as Int32Array;
  assert.deepEqual([...first3], [...labels.slice(0, 3)]);
  const single = await random.randint(keyForSeed(SEEDS[2], 1), { minval: 0, maxval: 10 }).data();
  assert.equal(single[0], labels[2]);

  const kids = (await splitKeys(keyForSeed(42, 3), 4).data()) as Uint32Array;
  assert.deepEqual([...kids], [0, 1, 2, 3].flatMap((j) => splitRef([3, 42], j)));

  // stream 0 is exactly jax-js's own random.key(seed)
  assert.deepEqual([...((await keyForSeed(99).data()) as Uint32Array)], [...((await random.key(99).data()) as Uint32Array)]);
  // different streams of one seed give different draws
  const a = (await normalForSeeds([3], [4], 0).data()) as Float32Array;
  const b = (await normalForSeeds([3], [4], 2).data()) as Float32Array;
  assert.notDeepEqual([...a], [...b]);
});

test('per-seed functions reject bad seeds and counts', () => {
  assert.throws(() => normalForSeeds([], [2]), /no seeds/);
  assert.throws(() => normalForSeeds([1.5], [2]), /seed 1.5/);
  assert.throws(() => uniformIntForSeeds([1], 0), /maxExclusive/);
  assert.throws(() => splitKeys(np.array([0, 1], { dtype: np.uint32 }), 0), /positive integer/);
});
