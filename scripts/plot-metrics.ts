/**
 * Draws a finished run's metric curves (FD, KID, precision/recall, class accuracy against kimg) from
 * its stats.jsonl, with optional dashed reference lines, e.g. the teacher's FD:
 *   npx tsx scripts/plot-metrics.ts <run folder or stats.jsonl> <out.svg> [fd=24.9:teacher] [classAcc=0.774:teacher]
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricsCurvesSvg, metricsRowsFromStats, type CurveRefs } from '../src/metrics/curves.js';

const [src, out, ...refArgs] = process.argv.slice(2);
if (!src || !out) {
  console.error('usage: npx tsx scripts/plot-metrics.ts <run folder|stats.jsonl> <out.svg> [key=value:label ...]');
  process.exit(2);
}
const stats = statSync(src).isDirectory() ? join(src, 'stats.jsonl') : src;
const refs: CurveRefs = {};
for (const a of refArgs) {
  const m = /^(fd|classAcc)=([0-9.eE+-]+):(.+)$/.exec(a);
  if (!m) throw new Error(`reference '${a}': expected fd=<value>:<label> or classAcc=<value>:<label>`);
  (refs[m[1] as keyof CurveRefs] ??= []).push({ y: Number(m[2]), label: m[3] });
}
writeFileSync(out, metricsCurvesSvg(metricsRowsFromStats(readFileSync(stats, 'utf8')), refs));
console.log(`wrote ${out}`);
