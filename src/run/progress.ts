/**
 * A one-line progress bar for long loops (sampling, feature extraction, training kimg). It draws on
 * stderr only when stderr is a terminal, so logs, pipes and CI output stay clean: with a file or pipe
 * it writes nothing at all. Redraws are throttled; the line is rewritten in place with `\r`. While the
 * main thread is busy for seconds (a Wasm step), a worker thread redraws it (./heartbeat.ts), saying
 * what runs and for how long (`working`).
 */
import { ELAPSED, heartbeat, SINCE, type Heartbeat, type HeartbeatOptions } from './heartbeat.js';

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
  /**
   * The worker-thread redraw while the main thread is busy: on by default for the real stderr on a
   * terminal (fd 2, after 2 s without a draw, then every second); false turns it off; a stream of
   * one's own needs its file descriptor here.
   */
  heartbeat?: HeartbeatOptions | false;
}

/** Columns a template reserves for a time the heartbeat fills in (`1:23`; a longer one that does not fit drops the elapsed time). */
const TIME_WIDTH = 4;

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
  private readonly hb: Heartbeat | null;
  /** What the main thread is busy with (`working`, `during`) and since when: the heartbeat's text. */
  private activity: { text: string; since: number; phase?: boolean } | null = null;

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
    const hbOpts = opts.heartbeat ?? (typeof process !== 'undefined' && this.stream === process.stderr ? { fd: 2 } : false);
    this.hb = this.active && hbOpts ? heartbeat(hbOpts) : null;
  }

  /**
   * Says what the main thread starts now (e.g. `running step 17`): should it stay busy past the
   * heartbeat's delay, the line shows it with the time it has taken so far (`running step 17 (0:12)`).
   * Null: nothing in particular. `shown`: the main thread's own draws show it too (with its time) in
   * place of the info, as during a phase; otherwise only the heartbeat's do. Draws nothing itself.
   */
  working(text: string | null, shown = false): void {
    if (this.finished) return;
    this.activity = text === null ? null : { text, since: this.now(), phase: shown };
    if (this.active && this.lastDraw !== -Infinity) this.armHeartbeat(false);
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
    const activity = this.activity;
    this.activity = { text: `${what}…`, since: this.now(), phase: true };
    this.draw(this.now());
    const timer = setInterval(() => this.draw(this.now()), Math.max(this.minInterval, 250));
    timer.unref?.();
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      this.activity = activity;
    }
  }

  /** Erases the bar's line (before other output is printed); the next tick draws it again. */
  clear(): void {
    if (!this.active || this.finished || this.lastDraw === -Infinity) return;
    this.hb?.disarm(); // before the erase: the worker must not draw the line again behind it
    this.stream.write('\r\x1b[K');
    this.lastDraw = -Infinity;
  }

  /** Draws the final state and ends the line. Further ticks are ignored. */
  done(info?: string): void {
    if (this.finished) return;
    if (info !== undefined) this.info = info;
    this.finished = true;
    if (!this.active) return;
    this.hb?.disarm(); // nothing after the final line
    this.activity = null;
    this.write(this.render(this.now(), this.info, false));
    this.stream.write('\n');
  }

  private draw(t: number): void {
    this.lastDraw = t;
    // a phase (`during`) shows itself and its time; a step's activity only shows when the heartbeat draws
    const a = this.activity;
    this.write(this.render(t, a?.phase ? `${a.text} (${fmtTime((t - a.since) / 1000)})` : this.info, false));
    if (!this.finished) this.armHeartbeat(true);
  }

  private write(line: string): void {
    this.stream.write(`\r${line}\x1b[K`);
  }

  /** Hands the worker the line as it would be drawn now, with the activity and its time in place of the info. */
  private armHeartbeat(drawn: boolean): void {
    if (!this.hb) return;
    const info = this.activity ? `${this.activity.text} (${SINCE.repeat(TIME_WIDTH)})` : this.info;
    this.hb.arm(this.render(this.now(), info, true), this.room(), this.start, this.activity?.since ?? this.start, drawn);
  }

  private room(): number {
    const cols = this.stream.columns || 80; // 0 when the terminal does not say (e.g. under script)
    return Math.max(1, cols - 1); // the last column would wrap on some terminals
  }

  /** The line at time `t` with `info` at its end; `template`: the elapsed time as a placeholder (heartbeat). */
  private render(t: number, info: string, template: boolean): string {
    const elapsed = (t - this.start) / 1000;
    const rate = elapsed > 0 ? (this.count - this.initial) / elapsed : 0;
    const known = this.total > 0;
    const frac = known ? Math.min(1, this.count / this.total) : 0;
    const counts = known ? `${this.fmtCount(this.count)}/${this.fmtCount(this.total)} ${Math.floor(frac * 100)}%` : this.fmtCount(this.count);
    const eta = known && rate > 0 && this.count < this.total ? ` eta ${fmtTime((this.total - this.count) / rate)}` : '';
    const rateText = `${rate >= 10 ? rate.toFixed(0) : rate.toFixed(2)}${this.rateUnit}`;
    const room = this.room();
    // What fits, in order of use: the count and ETA, then the info (losses), the rate, the elapsed time
    // and last the bar; a part that does not fit is left out whole, never cut mid-number.
    const parts = { counts, elapsed: template ? ELAPSED.repeat(TIME_WIDTH) : fmtTime(elapsed), eta: eta.trim(), rate: rateText, info };
    const line = (p: typeof parts, bar: string) => [this.label + bar, p.counts, p.elapsed, p.eta, p.rate, p.info].filter(Boolean).join(' ');
    const shown = { ...parts };
    for (const drop of ['elapsed', 'rate'] as const) if (line(shown, '').length > room) shown[drop] = '';
    if (line(shown, '').length > room && shown.info) {
      // the info's leading words that fit, never a name without its number (`gen -0.2233 fake 1.548` → `gen -0.2233`)
      const words = shown.info.split(/ +/);
      const num = /[\d\u0001\u0002]/; // a time placeholder counts as a number
      const numeric = num.test(shown.info);
      while (words.length && (line({ ...shown, info: words.join(' ') }, '').length > room || (numeric && !num.test(words.at(-1)!)))) words.pop();
      shown.info = words.join(' ');
    }
    let bar = '';
    const free = room - line(shown, '').length - 3;
    if (known && free >= 10) {
      const width = Math.min(40, free);
      const fill = Math.round(frac * width);
      bar = ` [${'#'.repeat(fill)}${'.'.repeat(width - fill)}]`;
    }
    const out = line(shown, bar);
    // a template is cut by the worker, once its times are filled in
    return template ? out : out.slice(0, room);
  }
}
