import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricsCurvesSvg, metricsRowsFromStats } from './curves.js';

test('metrics curves: rows from stats.jsonl, one panel per metric present, reference lines drawn', () => {
  const jsonl = [
    { kind: 'tick', kimg: 4, loss: 1 },
    { kind: 'metrics', kimg: 0, fd: 188.4, classAcc: 0.557, precision: 0.81, recall: 0.02 },
    { kind: 'metrics', kimg: 8, fd: 55, classAcc: 0.81, precision: 0.8, recall: 0.29 },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n');
  const rows = metricsRowsFromStats(jsonl);
  assert.deepEqual(rows.map((r) => r.kimg), [0, 8]);
  const svg = metricsCurvesSvg(rows, { fd: [{ y: 24.9, label: 'teacher' }] });
  assert.match(svg, /^<svg /);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 4); // FD, precision, recall, class accuracy (no KID rows)
  assert.match(svg, />teacher</);
  assert.throws(() => metricsCurvesSvg([{ kimg: 1 }]), /no metric rows/);
});
