/**
 * Small hand-written SVG line charts for the study pages (no plotting dependency): panels side by side,
 * each with axes, ticks, gridlines, one polyline (with dots) per series, optional dashed reference
 * lines and one shared legend. Linear or log10 y axis. Output is plain SVG 1.1 text.
 */

export interface Series {
  name: string;
  /** CSS colour. */
  color: string;
  /** [x, y] points; non-finite y are skipped (and, on a log axis, y ≤ 0). */
  points: [number, number][];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
  /** Horizontal dashed reference lines (e.g. the teacher-vs-teacher noise floor). */
  refs?: { y: number; label: string }[];
  /** Fixed y range (data units); default: the data's range. */
  yRange?: [number, number];
}

const W = 300, H = 220, M = { l: 52, r: 10, t: 26, b: 40 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A short label for a tick value. */
function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

/** About `n` round tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function panelSvg(p: Panel, ox: number): string {
  const ok = (y: number) => Number.isFinite(y) && (!p.logY || y > 0);
  const pts = p.series.flatMap((s) => s.points.filter(([, y]) => ok(y)));
  const xs = pts.map(([x]) => x);
  const ys = [...pts.map(([, y]) => y), ...(p.refs ?? []).map((r) => r.y).filter(ok)];
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (!(x1 > x0)) (x0 = (x0 || 0) - 1), (x1 = x0 + 2);
  let [y0, y1] = p.yRange ?? [Math.min(...ys), Math.max(...ys)];
  const ty = (v: number) => (p.logY ? Math.log10(v) : v);
  let a = ty(y0), b = ty(y1);
  if (!Number.isFinite(a) || !Number.isFinite(b)) (a = 0), (b = 1);
  if (!(b > a)) (a -= 0.5), (b += 0.5);
  if (!p.yRange) {
    const pad = (b - a) * 0.06;
    (a -= pad), (b += pad);
  }
  const iw = W - M.l - M.r, ih = H - M.t - M.b;
  const X = (x: number) => ox + M.l + ((x - x0) / (x1 - x0)) * iw;
  const Y = (y: number) => M.t + (1 - (ty(y) - a) / (b - a)) * ih;
  const out: string[] = [];
  out.push(`<text x="${ox + M.l + iw / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
  // y ticks: decades (and 2×, 5× when few) on a log axis, round numbers otherwise
  let yt: number[];
  if (p.logY) {
    yt = [];
    for (let k = Math.floor(a); k <= Math.ceil(b); k++) for (const m of b - a < 2 ? [1, 2, 5] : [1]) yt.push(m * 10 ** k);
    yt = yt.filter((v) => Math.log10(v) >= a && Math.log10(v) <= b);
  } else yt = niceTicks(a, b);
  for (const v of yt) {
    const y = Y(v).toFixed(1);
    out.push(`<line x1="${ox + M.l}" x2="${ox + M.l + iw}" y1="${y}" y2="${y}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${ox + M.l - 4}" y="${y}" dy="0.32em" text-anchor="end" font-size="10">${fmt(v)}</text>`);
  }
  for (const v of niceTicks(x0, x1, 4)) {
    const x = X(v).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${M.t + ih}" y2="${M.t + ih + 4}" stroke="#444"/>`);
    out.push(`<text x="${x}" y="${M.t + ih + 15}" text-anchor="middle" font-size="10">${fmt(v)}</text>`);
  }
  out.push(`<rect x="${ox + M.l}" y="${M.t}" width="${iw}" height="${ih}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${ox + M.l + iw / 2}" y="${H - 6}" text-anchor="middle" font-size="11">${esc(p.xLabel)}</text>`);
  out.push(`<text transform="translate(${ox + 13} ${M.t + ih / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(p.yLabel)}</text>`);
  for (const r of p.refs ?? []) {
    if (!ok(r.y)) continue;
    const y = Y(r.y).toFixed(1);
    out.push(`<line x1="${ox + M.l}" x2="${ox + M.l + iw}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${ox + M.l + iw - 3}" y="${y}" dy="-0.35em" text-anchor="end" font-size="9" fill="#666">${esc(r.label)}</text>`);
  }
  out.push(`<g clip-path="url(#c${ox})">`);
  for (const s of p.series) {
    const q = s.points.filter(([, y]) => ok(y));
    if (!q.length) continue;
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${q.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of q) out.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2" fill="${s.color}"/>`);
  }
  out.push('</g>');
  out.push(`<clipPath id="c${ox}"><rect x="${ox + M.l}" y="${M.t - 3}" width="${iw}" height="${ih + 6}"/></clipPath>`);
  return out.join('\n');
}

/** Panels in one row with a legend of the first panel's series underneath; returns SVG text. */
export function linePlotsSvg(panels: Panel[]): string {
  const legend = panels[0]?.series ?? [];
  const width = W * panels.length, height = H + 22;
  const body = panels.map((p, i) => panelSvg(p, i * W)).join('\n');
  let lx = M.l;
  const leg = legend
    .map((s) => {
      const g = `<line x1="${lx}" x2="${lx + 18}" y1="${H + 10}" y2="${H + 10}" stroke="${s.color}" stroke-width="2.5"/><text x="${lx + 22}" y="${H + 10}" dy="0.32em" font-size="11">${esc(s.name)}</text>`;
      lx += 30 + 7 * s.name.length;
      return g;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n${leg}\n</svg>\n`;
}
