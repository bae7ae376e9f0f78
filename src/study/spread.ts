/**
 * How tightly a 2-D sample cloud sits on the modes of a Gaussian-mixture teacher: the measure of SDS's
 * predicted collapse (docs/sds-as-diff-instruct.md). Each sample is assigned to its nearest mode
 * centre μ_k; then
 *   modeDist = mean_i |x_i − μ_k(i)|                      (how far samples sit from mode centres),
 *   spread   = sqrt(mean_i |x_i − m_k(i)|²)               (RMS distance to their own cluster's mean m_k),
 * For samples of the teacher itself (isotropic std s per mode, d = 2) these are s·√(π/2) and s·√2;
 * a cloud collapsed onto points has spread ≈ 0 wherever those points are. Host-side float64.
 */

export interface SpreadStats {
  /** Mean distance of a sample to its nearest mode centre. */
  modeDist: number;
  /** RMS distance of a sample to the mean of the samples sharing its nearest mode. */
  spread: number;
}

/** Spread statistics of interleaved points [x0, y0, x1, y1, …] against mode centres (2-D). */
export function spreadStats(points: ArrayLike<number>, centers: number[][]): SpreadStats {
  const n = Math.floor(points.length / 2);
  if (n === 0 || centers.length === 0) throw new Error('spreadStats: no points or no mode centres');
  const K = centers.length;
  const assign = new Int32Array(n);
  const sum = new Float64Array(2 * K);
  const count = new Float64Array(K);
  let distSum = 0;
  for (let i = 0; i < n; i++) {
    const x = points[2 * i], y = points[2 * i + 1];
    let best = 0, bestD = Infinity;
    for (let k = 0; k < K; k++) {
      const d = (x - centers[k][0]) ** 2 + (y - centers[k][1]) ** 2;
      if (d < bestD) (bestD = d), (best = k);
    }
    assign[i] = best;
    distSum += Math.sqrt(bestD);
    sum[2 * best] += x;
    sum[2 * best + 1] += y;
    count[best]++;
  }
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const k = assign[i];
    sq += (points[2 * i] - sum[2 * k] / count[k]) ** 2 + (points[2 * i + 1] - sum[2 * k + 1] / count[k]) ** 2;
  }
  return { modeDist: distSum / n, spread: Math.sqrt(sq / n) };
}

/** The values `spreadStats` has in expectation for the teacher's own samples (isotropic std `std`, 2-D). */
export function teacherSpread(std: number): SpreadStats {
  return { modeDist: std * Math.sqrt(Math.PI / 2), spread: std * Math.SQRT2 };
}
