/** Canvas drawing for the playground: the 2-D scatter of teacher vs generator samples and line charts. */

export const TEACHER_COLOR = 'rgba(120, 120, 120, 0.45)';
export const GENERATOR_COLOR = 'rgba(214, 39, 40, 0.75)';

/** Sizes a canvas's backing store for the device pixel ratio; returns a context in CSS pixels. */
export function setupCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const dpr = Math.max(1, Math.min(3, globalThis.devicePixelRatio || 1));
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  // at most the width of its container (phones), keeping its aspect ratio
  canvas.style.width = `${width}px`;
  canvas.style.maxWidth = '100%';
  canvas.style.height = 'auto';
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** A square plot range [−r, r] covering the points with a margin (as the CLI's scatter PNGs). */
export function rangeFor(points: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < points.length; i++) if (Number.isFinite(points[i])) m = Math.max(m, Math.abs(points[i]));
  return Math.ceil(m * 1.25 + 0.5);
}

/** Teacher and generator point clouds ([n·2] interleaved) on [−r, r]²; points outside sit on the border. */
export function drawScatter(ctx: CanvasRenderingContext2D, size: number, r: number, teacher: ArrayLike<number>, gen: ArrayLike<number> | null, caption: string): void {
  ctx.clearRect(0, 0, size, size);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, size, size);
  const px = (v: number) => ((v + r) / (2 * r)) * size;
  const py = (v: number) => size - ((v + r) / (2 * r)) * size;
  ctx.strokeStyle = '#eee';
  ctx.lineWidth = 1;
  for (let g = -r; g <= r; g++) {
    ctx.beginPath();
    ctx.moveTo(px(g), 0);
    ctx.lineTo(px(g), size);
    ctx.moveTo(0, py(g));
    ctx.lineTo(size, py(g));
    ctx.stroke();
  }
  ctx.strokeStyle = '#ccc';
  ctx.beginPath();
  ctx.moveTo(px(0), 0);
  ctx.lineTo(px(0), size);
  ctx.moveTo(0, py(0));
  ctx.lineTo(size, py(0));
  ctx.stroke();
  const dots = (p: ArrayLike<number>, color: string, rad: number) => {
    ctx.fillStyle = color;
    for (let i = 0; i + 1 < p.length; i += 2) {
      if (!Number.isFinite(p[i]) || !Number.isFinite(p[i + 1])) continue;
      const x = Math.min(size - 1, Math.max(1, px(p[i])));
      const y = Math.min(size - 1, Math.max(1, py(p[i + 1])));
      ctx.beginPath();
      ctx.arc(x, y, rad, 0, 2 * Math.PI);
      ctx.fill();
    }
  };
  dots(teacher, TEACHER_COLOR, 2.2);
  if (gen) dots(gen, GENERATOR_COLOR, 1.8);
  ctx.fillStyle = '#333';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText(caption, 8, 16);
  ctx.fillStyle = TEACHER_COLOR;
  ctx.fillRect(8, size - 34, 10, 10);
  ctx.fillStyle = GENERATOR_COLOR;
  ctx.fillRect(8, size - 18, 10, 10);
  ctx.fillStyle = '#333';
  ctx.fillText('teacher samples', 22, size - 25);
  ctx.fillText('generator samples', 22, size - 9);
}

export interface Series {
  xs: number[];
  ys: number[];
  color: string;
  label: string;
}

/**
 * Line chart of series over shared x. The y-range covers the 2nd–98th percentile (a few wild early
 * values should not flatten the rest); `log` plots log10 of positive values.
 */
export function drawLines(ctx: CanvasRenderingContext2D, w: number, hgt: number, title: string, series: Series[], { log = false, xLabel = 'generator steps' } = {}): void {
  ctx.clearRect(0, 0, w, hgt);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, hgt);
  const pad = { l: 52, r: 8, t: 20, b: 18 };
  const tf = (y: number) => (log ? (y > 0 ? Math.log10(y) : NaN) : y);
  const all = series.flatMap((s) => s.ys.map(tf)).filter(Number.isFinite).sort((a, b) => a - b);
  const xsAll = series.flatMap((s) => s.xs);
  ctx.fillStyle = '#333';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText(title, pad.l, 13);
  // one point is drawn too (a marker): the first evaluation shows at once
  if (all.length === 0) {
    ctx.fillStyle = '#666';
    ctx.fillText('waiting for data…', pad.l, hgt / 2);
    return;
  }
  let lo = all[Math.floor(0.02 * (all.length - 1))], hi = all[Math.ceil(0.98 * (all.length - 1))];
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  const m = 0.05 * (hi - lo);
  lo -= m;
  hi += m;
  const x0 = Math.min(...xsAll), x1 = Math.max(...xsAll, x0 + 1);
  const X = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (y: number) => pad.t + (1 - (Math.min(hi, Math.max(lo, y)) - lo) / (hi - lo)) * (hgt - pad.t - pad.b);
  ctx.strokeStyle = '#ddd';
  ctx.strokeRect(pad.l, pad.t, w - pad.l - pad.r, hgt - pad.t - pad.b);
  ctx.fillStyle = '#666';
  ctx.font = '10px system-ui, sans-serif';
  // log axes: a whole decade reads 1e-2; between decades the value itself, 2.5e-2 (never "1e-1.8")
  const tick = (v: number) => (log ? (Math.abs(v - Math.round(v)) < 1e-9 ? `1e${Math.round(v)}` : (10 ** v).toExponential(1)) : Math.abs(v) >= 1e3 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : v.toPrecision(3));
  ctx.fillText(tick(hi), 2, pad.t + 8);
  ctx.fillText(tick(lo), 2, hgt - pad.b);
  ctx.fillText(String(Math.round(x0)), pad.l, hgt - 4);
  const xl = `${Math.round(x1)} ${xLabel}`;
  ctx.fillText(xl, w - pad.r - ctx.measureText(xl).width, hgt - 4);
  let lx = w - pad.r;
  for (const s of [...series].reverse()) {
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = s.color;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < s.xs.length; i++) {
      const y = tf(s.ys[i]);
      if (!Number.isFinite(y)) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(X(s.xs[i]), Y(y));
      else ctx.moveTo(X(s.xs[i]), Y(y));
      pen = true;
    }
    ctx.stroke();
    // markers where points are few, so a lone point (or a gap between two) is seen
    if (s.xs.length <= 40) {
      ctx.fillStyle = s.color;
      for (let i = 0; i < s.xs.length; i++) {
        const y = tf(s.ys[i]);
        if (!Number.isFinite(y)) continue;
        ctx.beginPath();
        ctx.arc(X(s.xs[i]), Y(y), 2.5, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    ctx.font = '11px system-ui, sans-serif';
    lx -= ctx.measureText(s.label).width + 14;
    ctx.fillStyle = s.color;
    ctx.fillRect(lx, 5, 10, 8);
    ctx.fillStyle = '#333';
    ctx.fillText(s.label, lx + 12, 13);
  }
}

/** Draws `n` NCHW images ([C, H, W] each, in [−1, 1], 1 or 3 channels) as a grid of `cols` columns, each pixel `scale`×`scale`. */
export function drawImageGrid(canvas: HTMLCanvasElement, x: Float32Array, n: number, [c, hh, ww]: number[], cols: number, scale: number): void {
  const rows = Math.ceil(n / cols);
  const gap = 2;
  const W = cols * (ww * scale + gap) + gap, H = rows * (hh * scale + gap) + gap;
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(W, H);
  img.data.fill(255);
  const to8 = (v: number) => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
  for (let k = 0; k < n; k++) {
    const ox = gap + (k % cols) * (ww * scale + gap), oy = gap + Math.floor(k / cols) * (hh * scale + gap);
    for (let yy = 0; yy < hh * scale; yy++) {
      for (let xx = 0; xx < ww * scale; xx++) {
        const i = Math.floor(yy / scale) * ww + Math.floor(xx / scale);
        const base = k * c * hh * ww;
        const r = to8(x[base + i]);
        const g = c === 3 ? to8(x[base + hh * ww + i]) : r;
        const b = c === 3 ? to8(x[base + 2 * hh * ww + i]) : r;
        const o = 4 * ((oy + yy) * W + ox + xx);
        img.data[o] = r;
        img.data[o + 1] = g;
        img.data[o + 2] = b;
        img.data[o + 3] = 255;
      }
    }
  }
  ctx.putImageData(img, 0, 0);
}
