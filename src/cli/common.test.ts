/**
 * The search behind "batch 64 does not fit …; batch 32 does": halving from the batch that failed, the
 * first that fits is named; none fitting and a probe failing for another reason are told apart. (The
 * probe itself, a fresh process running one step, was run by hand: benchmarks/cpu-runs/oom-probe/.)
 * `reportStop` prints the command that continues a stopped run, `refine` included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invocation, largestBatchThatFits, reportStop, type FitResult } from './common.js';

/** A fake device on which batches up to `limit` fit; records what was tried. */
const device = (limit: number, failAt = -1) => {
  const tried: number[] = [];
  const tryBatch = (b: number): FitResult => (tried.push(b), b === failAt ? 'failed' : b <= limit ? 'fits' : 'out-of-memory');
  return { tried, tryBatch };
};

test('largestBatchThatFits: halves until a batch fits, and names it', () => {
  const d = device(20);
  assert.equal(largestBatchThatFits(64, d.tryBatch), 16);
  assert.deepEqual(d.tried, [32, 16]);
  const odd = device(100);
  assert.equal(largestBatchThatFits(100, odd.tryBatch), 50);
  assert.deepEqual(odd.tried, [50]);
});

test('largestBatchThatFits: 0 when not even batch 1 fits, null when a probe fails for another reason', () => {
  const none = device(0);
  assert.equal(largestBatchThatFits(8, none.tryBatch), 0);
  assert.deepEqual(none.tried, [4, 2, 1]);
  assert.equal(largestBatchThatFits(1, device(0).tryBatch), 0, 'nothing below 1 to try');
  const broken = device(2, 4);
  assert.equal(largestBatchThatFits(16, broken.tryBatch), null);
  assert.deepEqual(broken.tried, [8, 4]);
});

test('reportStop: a stopped refine run prints the refine --resume command and exits 130', () => {
  const written: string[] = [];
  const write = process.stderr.write;
  const code = process.exitCode;
  process.stderr.write = ((s: string) => (written.push(s), true)) as typeof process.stderr.write;
  try {
    reportStop({ runDir: 'runs/00001-refine-gan-ikl', stopReason: 'interrupted', steps: 3 }, 'refine', 'wasm');
    assert.equal(process.exitCode, 130);
  } finally {
    process.stderr.write = write;
    process.exitCode = code;
  }
  assert.deepEqual(written, [`diff-instruct: stopped by SIGINT; continue it with:\n  ${invocation()} refine --resume runs/00001-refine-gan-ikl --device wasm\n`]);
});
