/**
 * 2-D scatter plots as PNG (for run folders, TensorBoard and the toy studies): each point set is drawn
 * as 2×2-pixel dots in its own colour over a white square, reference set first. Axis limits are fixed
 * by the caller so frames of one run line up.
 */
import { encode } from 'fast-png';
import { writeFileAtomic } from './atomic.js';

export interface PointSet {
  /** Interleaved x, y pairs. */
  points: Float32Array | number[];
  /** RGB, 0..255. */
  color: [number, number, number];
}

export interface ScatterOptions {
  /** Plot range [lo, hi] on both axes (data units). */
  range: [number, number];
  /** Image side in pixels (default 256). */
  size?: number;
}

/** Rasterises point sets into PNG bytes (RGB). Points outside the range are clipped away. */
export function scatterPng(sets: PointSet[], opts: ScatterOptions): Uint8Array {
  const size = opts.size ?? 256;
  const [lo, hi] = opts.range;
  if (!(hi > lo)) throw new Error(`scatterPng: range [${lo}, ${hi}] is empty`);
  const img = new Uint8Array(size * size * 3).fill(255);
  // light axes through the origin, when it is in range
  const px = (v: number) => Math.floor(((v - lo) / (hi - lo)) * (size - 1));
  if (lo < 0 && hi > 0) {
    const o = px(0);
    for (let i = 0; i < size; i++) {
      for (const [x, y] of [[o, i], [i, size - 1 - o]]) img.fill(225, (y * size + x) * 3, (y * size + x) * 3 + 3);
    }
  }
  for (const { points, color } of sets) {
    for (let k = 0; k + 1 < points.length; k += 2) {
      const x = px(points[k]), y = size - 1 - px(points[k + 1]);
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= size || yy >= size || !Number.isFinite(xx + yy)) continue;
          img.set(color, (yy * size + xx) * 3);
        }
      }
    }
  }
  return encode({ width: size, height: size, data: img, channels: 3, depth: 8 });
}

/** Writes `scatterPng(sets, opts)` to `path` atomically. */
export function saveScatter(path: string, sets: PointSet[], opts: ScatterOptions): void {
  writeFileAtomic(path, scatterPng(sets, opts));
}

export const TEACHER_COLOR: [number, number, number] = [170, 170, 170];
export const GENERATOR_COLOR: [number, number, number] = [214, 39, 40];
