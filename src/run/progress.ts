/**
 * A one-line progress bar for long loops (sampling, feature extraction, training kimg). It draws on
 * stderr only when stderr is a terminal, so logs, pipes and CI output stay clean: with a file or pipe
 * it writes nothing at all. Redraws are throttled; the line is rewritten in place with `\r`.
 */

/** The part of a stream the bar uses (process.stderr, or a stand-in in tests). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Minimum time between redraws (default 100 ms); the first and final states are always drawn. */
  minIntervalMs?: number;
  /** Clock in milliseconds (tests pin it). */
  now?: () => number;
  /** Shows a count (default: as is); e.g. images as kimg. */
  fmtCount?: (n: number) => string;
  /** Rate suffix (default '/s'), e.g. ' img/s'. */
  rateUnit?: string;
  /** Count already done before this bar started (a resumed run): shown, but not in the rate. */
  initial?: number;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0'), ss = String(sec).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class Progress {
  private count = 0;
  private info = '';
  private lastDraw = -Infinity;
  private finished = false;
  private readonly start: number;
  private readonly stream: ProgressStream;
  private readonly active: boolean;
  private readonly minInterval: number;
  private readonly now: () => number;
  private readonly fmtCount: (n: number) => string;
  private readonly rateUnit: string;
  private readonly initial: number;

  /** `total` ≤ 0 means unknown: the count and rate are shown without a bar. */
  constructor(
    private readonly total: number,
    private readonly label: string,
    opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.active = !!this.stream.isTTY;
    this.minInterval = opts.minIntervalMs ?? 100;
    this.now = opts.now ?? Date.now;
    this.fmtCount = opts.fmtCount ?? String;
    this.rateUnit = opts.rateUnit ?? '/s';
    this.initial = opts.initial ?? 0;
    this.count = this.initial;
    this.start = this.now();
  }

  /** Advances by `n` and optionally replaces the trailing info text (e.g. `loss 0.123`). */
  tick(n = 1, info?: string): void {
    if (this.finished) return;
    this.count += n;
    if (info !== undefined) this.info = info;
    if (!this.active) return;
    const t = this.now();
    if (t - this.lastDraw >= this.minInterval || (this.total > 0 && this.count >= this.total)) this.draw(t);
  }

  /**
   * Runs `fn` (a phase without ticks: evaluation, a sample grid, a snapshot) with `what` in place of the
   * info text, redrawing once a second so the line keeps moving (elapsed time) while it runs.
   */
  async during<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (!this.active || this.finished) return fn();
    const info = this.info;
    this.info = `${what}…`;
    this.draw(this.now());
    const timer = setInterval(() => this.draw(this.now()), Math.max(this.minInterval, 250));
    timer.unref?.();
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      this.info = info;
    }
  }

  /** Erases the bar's line (before other output is printed); the next tick draws it again. */
  clear(): void {
    if (!this.active || this.finished || this.lastDraw === -Infinity) return;
    this.stream.write('\r\x1b[K');
    this.lastDraw = -Infinity;
  }

  /** Draws the final state and ends the line. Further ticks are ignored. */
  done(info?: string): void {
    if (this.finished) return;
    if (info !== undefined) this.info = info;
    this.finished = true;
    if (!this.active) return;
    this.draw(this.now());
    this.stream.write('\n');
  }

  private draw(t: number): void {
    this.lastDraw = t;
    const elapsed = (t - this.start) / 1000;
    const rate = elapsed > 0 ? (this.count - this.initial) / elapsed : 0;
    const known = this.total > 0;
    const frac = known ? Math.min(1, this.count / this.total) : 0;
    const counts = known ? `${this.fmtCount(this.count)}/${this.fmtCount(this.total)} ${Math.floor(frac * 100)}%` : this.fmtCount(this.count);
    const eta = known && rate > 0 && this.count < this.total ? ` eta ${fmtTime((this.total - this.count) / rate)}` : '';
    const rateText = `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(2)}${this.rateUnit}`;
    const cols = this.stream.columns || 80; // 0 when the terminal does not say (e.g. under script)
    const room = Math.max(1, cols - 1); // the last column would wrap on some terminals
    // What fits, in order of use: the count and ETA, then the info (losses), the rate, the elapsed time
    // and last the bar; a part that does not fit is left out whole, never cut mid-number.
    const parts = { counts, elapsed: fmtTime(elapsed), eta: eta.trim(), rate: rateText, info: this.info };
    const line = (p: typeof parts, bar: string) => [this.label + bar, p.counts, p.elapsed, p.eta, p.rate, p.info].filter(Boolean).join(' ');
    const shown = { ...parts };
    for (const drop of ['elapsed', 'rate'] as const) if (line(shown, '').length > room) shown[drop] = '';
    if (line(shown, '').length > room && shown.info) {
      // the info's leading words that fit, never a name without its number (`gen -0.2233 fake 1.548` → `gen -0.2233`)
      const words = shown.info.split(/ +/);
      const numeric = /\d/.test(shown.info);
      while (words.length && (line({ ...shown, info: words.join(' ') }, '').length > room || (numeric && !/\d/.test(words.at(-1)!)))) words.pop();
      shown.info = words.join(' ');
    }
    let bar = '';
    const free = room - line(shown, '').length - 3;
    if (known && free >= 10) {
      const width = Math.min(40, free);
      const fill = Math.round(frac * width);
      bar = ` [${'#'.repeat(fill)}${'.'.repeat(width - fill)}]`;
    }
    this.stream.write(`\r${line(shown, bar).slice(0, room)}\x1b[K`);
  }
}
