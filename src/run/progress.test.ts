/** Progress bar tests: draws on a TTY, writes nothing at all otherwise (checked on the real stderr too). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Progress } from './progress.js';

test('progress: draws count, percent and bar on a TTY; done ends the line', () => {
  const out: string[] = [];
  let t = 0;
  const p = new Progress(10, 'sample', { stream: { isTTY: true, columns: 80, write: (s) => out.push(s) }, now: () => t });
  t = 1000;
  p.tick(3, 'loss 0.5');
  const line = out.at(-1)!;
  assert.match(line, /^\rsample \[#+\.+\] 3\/10 30% 0:01 eta 0:02 3\.00\/s loss 0\.5\x1b\[K$/);
  // 30% of a bar of width w: 3 of 10 → round(0.3·w) '#'
  const bar = /\[(#*)(\.*)\]/.exec(line)!;
  assert.equal(bar[1].length, Math.round(0.3 * (bar[1].length + bar[2].length)));
  t = 1050;
  p.tick(1); // within 100 ms of the last draw: throttled
  assert.equal(out.length, 1);
  t = 2000;
  p.tick(6); // reaching the total always draws
  assert.match(out.at(-1)!, /10\/10 100%/);
  p.done();
  assert.equal(out.at(-1), '\n');
  const n = out.length;
  p.tick(1);
  p.done();
  assert.equal(out.length, n, 'nothing after done');
  assert.ok(out.every((s) => s === '\n' || s.length <= 80 + 4), 'line fits the terminal width');
});

test('progress: unknown total shows the count without a bar', () => {
  const out: string[] = [];
  const p = new Progress(0, 'features', { stream: { isTTY: true, columns: 60, write: (s) => out.push(s) }, now: () => 0 });
  p.tick(5);
  assert.match(out[0], /^\rfeatures 5 0:00/);
  assert.ok(!/\[[#.]*\]/.test(out[0]), 'no bar');
});

test('progress: silent when the stream is not a TTY (fake stream and real piped stderr)', () => {
  const out: string[] = [];
  const p = new Progress(3, 'x', { stream: { isTTY: false, write: (s) => out.push(s) } });
  p.tick();
  p.tick(2, 'info');
  p.done();
  assert.deepEqual(out, []);
  // the default stream is process.stderr; in a child with stderr piped it must print nothing
  const mod = fileURLToPath(new URL('./progress.ts', import.meta.url));
  const code = `const { Progress } = await import(${JSON.stringify(mod)}); const p = new Progress(5, 'x', { minIntervalMs: 0 }); for (let i = 0; i < 5; i++) p.tick(); p.done();`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, '');
});

test('progress: the live line fits the terminal, leaving out whole parts (elapsed, rate, then the info\'s last name-value pairs), never cutting a number', () => {
  const lines = (columns: number) => {
    const out: string[] = [];
    let t = 0;
    const p = new Progress(256, 'train', { stream: { isTTY: true, columns, write: (s) => out.push(s) }, now: () => t, fmtCount: (n) => `${n / 1000}k`, rateUnit: ' img/s', minIntervalMs: 0 });
    t = 60_000;
    p.tick(64, 'gen -0.2233 fake 223.5');
    return out.map((s) => s.replace(/^\r/, '').replace(/\x1b\[K$/, '')).filter((s) => s.startsWith('train'));
  };
  const wide = lines(120).at(-1)!;
  assert.match(wide, /^train \[#+\.+\] 0\.064k\/0\.256k 25% 1:00 eta 3:00 1\.07 img\/s gen -0\.2233 fake 223\.5$/);
  assert.ok(wide.length <= 119);
  for (const cols of [80, 60, 50, 40, 30]) {
    const l = lines(cols).at(-1)!;
    assert.ok(l.length <= cols - 1, `${cols} columns: '${l}' (${l.length})`);
    assert.doesNotMatch(l, /(gen|fake)( -?[\d.]*)?$(?<!\d)/, `${cols} columns: no name without its value: '${l}'`);
    assert.match(l, /0\.064k\/0\.256k 25%/, `${cols} columns: the count stays`);
  }
  assert.match(lines(50).at(-1)!, /^train 0\.064k\/0\.256k 25% eta 3:00 gen -0\.2233$/);
});

test('progress: working(text, true) shows what runs and its time in the main thread\'s draws; null restores the info', () => {
  const out: string[] = [];
  let t = 0;
  const p = new Progress(0, 'grid', { stream: { isTTY: true, columns: 80, write: (s) => out.push(s) }, now: () => t, minIntervalMs: 0, heartbeat: false });
  p.working('first batch (compile + run)…', true);
  t = 12_000;
  p.tick(0, 'loss 1');
  assert.match(out.at(-1)!, /^\rgrid 0 0:12 0\.00\/s first batch \(compile \+ run\)… \(0:12\)\x1b\[K$/);
  p.working('running step 2'); // not shown by the main thread: its info stays
  p.tick(0);
  assert.match(out.at(-1)!, /loss 1\x1b\[K$/);
});
