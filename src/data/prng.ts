/**
 * A small seeded JS PRNG for host-side choices that must be reproducible and resumable without a
 * device: dataset split permutations (src/data/fashion-mnist.ts) and epoch shuffles (`Batcher` in
 * src/data/images.ts). Device-side randomness uses jax-js `random` keys instead.
 *
 * Generator: mulberry32 (Tommy Ettinger's 32-bit state generator; period 2^32, which is plenty for
 * shuffling at most a few hundred thousand items). Its state is seeded from (seed, stream) through
 * Chris Wellons' `lowbias32` integer hash, so nearby seeds and streams (epoch 0, 1, 2…) give
 * unrelated sequences. Changing anything here changes the Fashion-MNIST split: the pinned split
 * fingerprints in src/data/fashion-mnist.test.ts guard against that.
 */

/** lowbias32 (Wellons, "Prospecting for Hash Functions"): a well-mixed 32-bit integer hash. */
export function mix32(x: number): number {
  x >>>= 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Checks that `seed` is a non-negative safe integer (seeds go into JSON run state). */
export function checkSeed(seed: number, what = 'seed'): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${what} must be a non-negative integer, got ${seed}`);
}

/**
 * Uniform doubles in [0, 1) with 53 random bits, from mulberry32 seeded by (seed, stream).
 * `seed` may use all 53 bits of a safe integer: its high and low words are both hashed in.
 */
export function seededUniform(seed: number, stream = 0): () => number {
  checkSeed(seed);
  checkSeed(stream, 'stream');
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
  let a = mix32(lo ^ mix32(hi ^ mix32(stream ^ mix32(Math.floor(stream / 0x1_0000_0000)))));
  const next32 = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  // 53-bit double: 27 high bits + 26 low bits, so multiplying by the range is unbiased enough for any n < 2^31
  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}

/** A Fisher–Yates permutation of 0..n-1 driven by `rand` (values in [0, 1)). */
export function permutation(n: number, rand: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
