#!/usr/bin/env node
/**
 * Top functions by self time in V8 CPU profiles (`node --cpu-prof`), for the engine's host-time work:
 *   node benchmarks/gpu/cpuprof-top.mjs <file.cpuprofile>... [count]
 * Prints total sampled ms, then "ms  function  file:line" per function, largest first.
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const count = /^\d+$/.test(args.at(-1) ?? '') ? Number(args.pop()) : 40;
if (args.length === 0) {
  console.error('usage: node benchmarks/gpu/cpuprof-top.mjs <file.cpuprofile>... [count]');
  process.exit(1);
}
const self = new Map();
for (const file of args) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  prof.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const key = `${functionName || '(anonymous)'}  ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  });
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log(`total sampled ${total.toFixed(0)} ms in ${args.length} profile(s)`);
for (const [key, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`${ms.toFixed(1).padStart(9)}  ${key}`);
