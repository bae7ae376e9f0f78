/**
 * Metric curves of a run: FD, KID, precision/recall and class accuracy against training kimg, as one
 * SVG (src/io/svg-plot.ts). The distill/refine and GAN trainers rewrite `metrics.svg` in their run
 * folder after every evaluation; `scripts/plot-metrics.ts` draws it from a finished run's stats.jsonl.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { linePlotsSvg, type Panel } from '../io/svg-plot.js';

/** One evaluation: kimg plus the keys of `evaluateImages` (fd, kid, precision, recall, classAcc, …). */
export type MetricsRow = { kimg: number } & Record<string, number>;

/** Reference lines (e.g. the teacher's FD) drawn dashed on the matching panel. */
export interface CurveRefs {
  fd?: { y: number; label: string }[];
  classAcc?: { y: number; label: string }[];
}

const pts = (rows: MetricsRow[], key: string): [number, number][] => rows.filter((r) => Number.isFinite(r[key])).map((r) => [r.kimg, r[key]]);

/** SVG text of the curves; panels without data are left out. */
export function metricsCurvesSvg(rows: MetricsRow[], refs: CurveRefs = {}, title = ''): string {
  const rs = [...rows].sort((a, b) => a.kimg - b.kimg);
  const t = (s: string) => (title ? `${title}: ${s}` : s);
  const panels: Panel[] = [];
  if (pts(rs, 'fd').length) panels.push({ title: t('FD'), xLabel: 'kimg', yLabel: 'FD (classifier features)', series: [{ name: 'FD', color: '#d62728', points: pts(rs, 'fd') }], logY: true, refs: refs.fd });
  if (pts(rs, 'kid').length) panels.push({ title: t('KID ×10³'), xLabel: 'kimg', yLabel: 'KID ×10³', series: [{ name: 'KID', color: '#9467bd', points: pts(rs, 'kid') }], logY: true });
  if (pts(rs, 'precision').length || pts(rs, 'recall').length) {
    panels.push({
      title: t('precision / recall'),
      xLabel: 'kimg',
      yLabel: 'fraction',
      series: [
        { name: 'precision', color: '#1f77b4', points: pts(rs, 'precision') },
        { name: 'recall', color: '#ff7f0e', points: pts(rs, 'recall') },
      ],
      yRange: [0, 1],
    });
  }
  if (pts(rs, 'classAcc').length) panels.push({ title: t('class accuracy'), xLabel: 'kimg', yLabel: 'fraction', series: [{ name: 'class accuracy', color: '#2ca02c', points: pts(rs, 'classAcc') }], yRange: [0, 1], refs: refs.classAcc });
  if (!panels.length) throw new Error('metricsCurvesSvg: no metric rows with fd, kid, precision, recall or classAcc');
  return linePlotsSvg(panels);
}

/** The `kind: "metrics"` rows of a run's stats.jsonl text. */
export function metricsRowsFromStats(jsonl: string): MetricsRow[] {
  return jsonl
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
    .filter((r) => r.kind === 'metrics' && Number.isFinite(r.kimg));
}

/**
 * Rewrites `<runDir>/metrics.svg` from every metrics row in `<runDir>/stats.jsonl` (so a resumed run's
 * curve covers the whole run). No file while there are no metric rows.
 */
export function writeRunCurves(runDir: string, refs: CurveRefs = {}): void {
  const stats = join(runDir, 'stats.jsonl');
  if (!existsSync(stats)) return;
  const rows = metricsRowsFromStats(readFileSync(stats, 'utf8'));
  if (!rows.some((r) => ['fd', 'kid', 'precision', 'recall', 'classAcc'].some((k) => Number.isFinite(r[k])))) return;
  writeFileAtomic(join(runDir, 'metrics.svg'), metricsCurvesSvg(rows, refs));
}
