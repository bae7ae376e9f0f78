/**
 * Explicit random keys, one per image seed (EDM's `StackedRandomGenerator`, `generate.py`): row k of
 * every per-seed draw depends only on seeds[k], so image k is identical at any batch size and a run
 * can be extended or re-sampled seed by seed.
 *
 * jax-js keys are uint32 pairs and `random.key(seed)` is [0, seed]. We use the first word as a stream
 * id: `keyForSeed(seed, stream)` = [stream, seed]. Threefry2x32 is keyed by both words, so streams of
 * one seed are independent; latents use stream 0 (= `random.key(seed)`), class labels stream 1. (Not
 * `split(key(seed))`: jax-js's `normal(key)` splits its key internally, so a sibling split key would
 * reuse the latent's own bits.)
 */
import { jit, numpy as np, random, vmap, type OwnedFunction } from '@jax-js/jax';

/** Stream of the initial latents / noise images. */
export const LATENT_STREAM = 0;
/** Stream of the per-image class labels. */
export const LABEL_STREAM = 1;

const MAX_U32 = 0xffffffff;

/**
 * Parses a seed list like EDM's `--seeds`: comma-separated integers and inclusive ranges `a-b`
 * ('0-63,100,200-203' → 0..63, 100, 200..203), in the order given. Throws a one-line error naming the
 * bad item.
 */
export function parseSeeds(spec: string): number[] {
  const out: number[] = [];
  const parts = spec.split(',').map((s) => s.trim());
  if (spec.trim() === '') throw new Error(`seeds: empty seed list`);
  for (const p of parts) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(p);
    if (!m) throw new Error(`seeds: bad item '${p}' in '${spec}': expected N or A-B with non-negative integers`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b > MAX_U32) throw new Error(`seeds: '${p}' in '${spec}' exceeds the largest seed ${MAX_U32}`);
    if (b < a) throw new Error(`seeds: range '${p}' in '${spec}' is descending`);
    if (b - a >= 1 << 24) throw new Error(`seeds: range '${p}' in '${spec}' has more than 2^24 seeds`);
    for (let s = a; s <= b; s++) out.push(s);
  }
  return out;
}

function checkSeeds(seeds: readonly number[], what: string): void {
  if (seeds.length === 0) throw new Error(`${what}: no seeds`);
  for (const s of seeds) {
    if (!Number.isInteger(s) || s < 0 || s > MAX_U32) throw new Error(`${what}: seed ${s} is not an integer in [0, ${MAX_U32}]`);
  }
}

/** The uint32 [N, 2] array of keys [stream, seed_k], built on the host and uploaded once. */
function keysForSeeds(seeds: readonly number[], stream: number): np.Array {
  if (!Number.isInteger(stream) || stream < 0 || stream > MAX_U32) throw new Error(`random stream ${stream} is not an integer in [0, ${MAX_U32}]`);
  const buf = new Uint32Array(seeds.length * 2);
  seeds.forEach((s, k) => {
    buf[2 * k] = stream;
    buf[2 * k + 1] = s;
  });
  return np.array(buf, { dtype: np.uint32, shape: [seeds.length, 2] });
}

/** The key of one seed on one stream: uint32 [stream, seed]; stream 0 equals `random.key(seed)`. */
export function keyForSeed(seed: number, stream = LATENT_STREAM): np.Array {
  checkSeeds([seed], 'keyForSeed');
  return keysForSeeds([seed], stream).reshape([2]);
}

// One jitted vmap per sample shape (jit itself caches per batch size), reused across calls.
const normalFns = new Map<string, OwnedFunction<(keys: np.Array) => np.Array>>();
const intFns = new Map<number, OwnedFunction<(keys: np.Array) => np.Array>>();

/**
 * Standard normal draws [N, ...shape], row k = `random.normal(keyForSeed(seeds[k], stream), shape)`:
 * one vmapped, jitted call for the whole batch.
 */
export function normalForSeeds(seeds: readonly number[], shape: number[], stream = LATENT_STREAM): np.Array {
  checkSeeds(seeds, 'normalForSeeds');
  const id = shape.join('x');
  let fn = normalFns.get(id);
  if (!fn) {
    fn = jit(vmap((k: np.Array) => random.normal(k, shape)));
    normalFns.set(id, fn);
  }
  return fn(keysForSeeds(seeds, stream));
}

/**
 * Uniform integers in [0, maxExclusive), int32 [N], row k from `keyForSeed(seeds[k], stream)` (default
 * the label stream), e.g. EDM's random class label per image seed. Equals `random.randint(key, {minval: 0,
 * maxval})` row by row: `bits mod n`, whose bias is below n / 2^32.
 */
export function uniformIntForSeeds(seeds: readonly number[], maxExclusive: number, stream = LABEL_STREAM): np.Array {
  checkSeeds(seeds, 'uniformIntForSeeds');
  if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 0x7fffffff) {
    throw new Error(`uniformIntForSeeds: maxExclusive must be an integer in [1, 2^31), got ${maxExclusive}`);
  }
  let fn = intFns.get(maxExclusive);
  if (!fn) {
    // `random.randint`'s own recipe, bits mod n, written out: jax-js 0.1.25 returns zeros for
    // vmap(randint) (vmap over a jitted uint32 `mod` by a literal), while jit(vmap(bits mod n)) is right.
    fn = jit(vmap((k: np.Array) => random.bits(k).mod(maxExclusive).astype(np.int32)));
    intFns.set(maxExclusive, fn);
  }
  return fn(keysForSeeds(seeds, stream));
}

/** `n` independent child keys [n, 2] of `key` (`random.split`). Consumes `key`. */
export function splitKeys(key: np.Array, n: number): np.Array {
  if (!Number.isInteger(n) || n < 1) {
    key.dispose();
    throw new Error(`splitKeys: n must be a positive integer, got ${n}`);
  }
  return random.split(key, n);
}

/**
 * `n` child keys of `key` as separate arrays, for `const [k1, k2] = splitKeyList(key, 2)`. Destructuring
 * the jax-js array `random.split(key, 2)` directly leaks its buffer in 0.1.25 (the array iterator frees
 * its residual only when run to the end), so this spreads it fully. Consumes `key`.
 */
export function splitKeyList(key: np.Array, n: number): np.Array[] {
  return [...splitKeys(key, n)];
}

