/**
 * Improved precision and recall (Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019, "Improved Precision
 * and Recall Metric for Assessing Generative Models", §2, Eq. 1–2) in a feature space:
 *
 *   manifold(Φ) = ∪_{φ∈Φ} B(φ, NN_k(φ, Φ)),   NN_k = distance to the k-th nearest neighbour in Φ (k = 3)
 *   precision = |{g ∈ Φ_g : g ∈ manifold(Φ_r)}| / |Φ_g|   (how many generated samples look real)
 *   recall    = |{r ∈ Φ_r : r ∈ manifold(Φ_g)}| / |Φ_r|   (how much of the real data is covered)
 *
 * Squared distances ‖a‖² + ‖b‖² − 2aᵀb come from jax-js matmuls in row blocks (fast on a GPU, and
 * ~20 GFLOP/s on Wasm). The k-NN radii are selected on the host from each block (jax-js 0.1.25's
 * `lax.topK` on a 1000×10000 block is ~30× slower than reading the block back); the membership tests
 * reduce on the device, so only vectors come back.
 */
import { defaultDevice, jit, numpy as np, type OwnedFunction } from '@jax-js/jax';

export interface PrecisionRecall {
  precision: number;
  recall: number;
  k: number;
}

const fns = new Map<string, OwnedFunction<any>>();

/** Cached jit per device and purpose (jit itself caches per shape). */
function cached<F extends (...a: any[]) => any>(name: string, make: () => F): F {
  const key = `${defaultDevice()}:${name}`;
  let f = fns.get(key);
  if (!f) {
    f = jit(make()) as OwnedFunction<any>;
    fns.set(key, f);
  }
  return f as unknown as F;
}

/** Squared Euclidean distances [a, b] between the rows of a [a, d] and b [b, d], clamped at 0. Consumes both. */
export function squaredDistances(a: np.Array, b: np.Array): np.Array {
  const aa = np.square(a.ref).sum(1, { keepdims: true });
  const bb = np.square(b.ref).sum(1).reshape([1, -1]);
  return np.maximum(aa.add(bb).sub(np.matmul(a, b.transpose()).mul(2)), 0);
}

function rows(x: ArrayLike<number>, d: number, start: number, end: number): Float32Array {
  if (x instanceof Float32Array) return x.subarray(start * d, end * d);
  return Float32Array.from({ length: (end - start) * d }, (_, i) => x[start * d + i]);
}

function checkShape(x: ArrayLike<number>, n: number, d: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || x.length !== n * d) throw new Error(`${what}: ${x.length} values is not [${n}, ${d}]`);
}

/**
 * Distance from each row of x [n, d] to its k-th nearest OTHER row (the point itself excluded by index,
 * so exact duplicates count as neighbours at distance 0). Returns n distances (not squared).
 */
export async function knnRadii(x: ArrayLike<number>, n: number, d: number, k = 3, batch = 1000): Promise<Float32Array> {
  checkShape(x, n, d, 'knnRadii');
  if (!Number.isInteger(k) || k < 1 || k >= n) throw new Error(`knnRadii: k must be an integer in [1, ${n - 1}], got ${k}`);
  const f = cached('sqdist', () => squaredDistances);
  const all = np.array(rows(x, d, 0, n), { shape: [n, d] });
  const out = new Float32Array(n);
  const best = new Float64Array(k);
  try {
    for (let i0 = 0; i0 < n; i0 += batch) {
      const b = Math.min(batch, n - i0);
      const block = (await f(np.array(rows(x, d, i0, i0 + b), { shape: [b, d] }), all.ref).data()) as Float32Array;
      for (let r = 0; r < b; r++) {
        // k smallest of the row, self excluded: insertion into a sorted buffer of length k
        best.fill(Infinity);
        const row = block.subarray(r * n, (r + 1) * n);
        const self = i0 + r;
        for (let j = 0; j < n; j++) {
          const v = row[j];
          if (v >= best[k - 1] || j === self) continue;
          let p = k - 1;
          while (p > 0 && best[p - 1] > v) {
            best[p] = best[p - 1];
            p--;
          }
          best[p] = v;
        }
        out[self] = Math.sqrt(best[k - 1]);
      }
    }
  } finally {
    all.dispose();
  }
  return out;
}

/**
 * Precision and recall of generated features `fake` [nf, d] against real features `real` [nr, d].
 * `realRadii` (k-NN radii of `real`, e.g. stored with the reference statistics) skips recomputing them.
 */
export async function precisionRecall(
  real: ArrayLike<number>,
  nr: number,
  fake: ArrayLike<number>,
  nf: number,
  d: number,
  opts: { k?: number; realRadii?: Float32Array; batch?: number } = {},
): Promise<PrecisionRecall> {
  const k = opts.k ?? 3;
  const batch = opts.batch ?? 1000;
  checkShape(real, nr, d, 'precisionRecall (real)');
  checkShape(fake, nf, d, 'precisionRecall (fake)');
  const rr = opts.realRadii ?? (await knnRadii(real, nr, d, k, batch));
  if (rr.length !== nr) throw new Error(`precisionRecall: ${rr.length} real radii for ${nr} real features`);
  const rf = await knnRadii(fake, nf, d, k, batch);
  // Block of real rows vs all fake: [b] min_j (D_ij − r_f,j²) ≤ 0  ⇔  real i inside the fake manifold;
  // [nf] min_i (D_ij − r_r,i²) ≤ 0 over this block  ⇔  fake j inside the real manifold (so far).
  const f = cached('pr', () => (a: np.Array, ra2: np.Array, b: np.Array, rb2: np.Array) => {
    const dd = squaredDistances(a, b);
    const inFake = dd.ref.sub(rb2.reshape([1, -1])).min(1);
    const inReal = dd.sub(ra2.reshape([-1, 1])).min(0);
    return [inFake, inReal];
  });
  const fakeArr = np.array(rows(fake, d, 0, nf), { shape: [nf, d] });
  const rf2 = np.array(rf.map((r) => r * r));
  const fakeMin = new Float32Array(nf).fill(Infinity);
  let recalled = 0;
  try {
    for (let i0 = 0; i0 < nr; i0 += batch) {
      const b = Math.min(batch, nr - i0);
      const ra2 = np.array(rr.subarray(i0, i0 + b).map((r) => r * r));
      const [inFake, inReal] = f(np.array(rows(real, d, i0, i0 + b), { shape: [b, d] }), ra2, fakeArr.ref, rf2.ref) as [np.Array, np.Array];
      const a = (await inFake.data()) as Float32Array;
      const c = (await inReal.data()) as Float32Array;
      for (let i = 0; i < b; i++) if (a[i] <= 0) recalled++;
      for (let j = 0; j < nf; j++) if (c[j] < fakeMin[j]) fakeMin[j] = c[j];
    }
  } finally {
    fakeArr.dispose();
    rf2.dispose();
  }
  let precise = 0;
  for (let j = 0; j < nf; j++) if (fakeMin[j] <= 0) precise++;
  return { precision: precise / nf, recall: recalled / nr, k };
}
