/**
 * Inception Score analogue from our classifier's logits (Salimans et al. 2016, "Improved Techniques for
 * Training GANs", §4: IS = exp(E_x KL(p(y|x) ‖ p(y))), computed over 10 splits and reported as mean ±
 * std), and the class accuracy of conditional generators: the fraction of images the classifier assigns
 * to the class they were generated for (used for class-conditional Diff-Instruct generators).
 *
 * Because the classifier is ours, the score ranges from 1 (uninformative or collapsed) to 10 (every
 * image confidently classified and all 10 classes equally frequent); it is not comparable with
 * Inception-v3 IS numbers. Computed on the host in float64 from [N, C] logits.
 */

export interface InceptionScore {
  /** mean over splits of exp(mean_x KL(p(y|x) ‖ p̂(y))) */
  is: number;
  /** standard deviation over splits (0 with one split) */
  std: number;
  splits: number;
}

/** log-softmax of each row of logits [n, c] (float64). */
export function logSoftmaxRows(logits: ArrayLike<number>, n: number, c: number): Float64Array {
  if (logits.length !== n * c) throw new Error(`logits: ${logits.length} values is not [${n}, ${c}]`);
  const out = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, logits[i * c + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(logits[i * c + j] - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < c; j++) out[i * c + j] = logits[i * c + j] - lse;
  }
  return out;
}

/**
 * IS over `splits` contiguous chunks of the n rows (the original protocol uses 10 splits of 5,000; we
 * default to 10 when n ≥ 1,000, else 1, so each chunk estimates p(y) from ≥ 100 images).
 */
export function inceptionScore(logits: ArrayLike<number>, n: number, c: number, splits = n >= 1000 ? 10 : 1): InceptionScore {
  if (!Number.isInteger(splits) || splits < 1 || splits > n) throw new Error(`inceptionScore: splits must be an integer in [1, ${n}], got ${splits}`);
  const logp = logSoftmaxRows(logits, n, c);
  const scores: number[] = [];
  for (let s = 0; s < splits; s++) {
    const a = Math.floor((s * n) / splits);
    const b = Math.floor(((s + 1) * n) / splits);
    const py = new Float64Array(c);
    for (let i = a; i < b; i++) for (let j = 0; j < c; j++) py[j] += Math.exp(logp[i * c + j]);
    for (let j = 0; j < c; j++) py[j] /= b - a;
    let kl = 0;
    for (let i = a; i < b; i++) {
      for (let j = 0; j < c; j++) {
        const lp = logp[i * c + j];
        const p = Math.exp(lp);
        if (p > 0) kl += p * (lp - Math.log(py[j]));
      }
    }
    scores.push(Math.exp(kl / (b - a)));
  }
  const mean = scores.reduce((x, y) => x + y, 0) / splits;
  const std = splits > 1 ? Math.sqrt(scores.reduce((x, v) => x + (v - mean) ** 2, 0) / splits) : 0;
  return { is: mean, std, splits };
}

/** Fraction of rows whose arg-max logit equals the label (labels in [0, c)). */
export function classAccuracy(logits: ArrayLike<number>, n: number, c: number, labels: ArrayLike<number>): number {
  if (logits.length !== n * c) throw new Error(`logits: ${logits.length} values is not [${n}, ${c}]`);
  if (labels.length !== n) throw new Error(`class accuracy: ${labels.length} labels for ${n} images`);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= c) throw new Error(`class accuracy: label ${y} of image ${i} is not in [0, ${c})`);
    let best = 0;
    for (let j = 1; j < c; j++) if (logits[i * c + j] > logits[i * c + best]) best = j;
    if (best === y) correct++;
  }
  return correct / n;
}
