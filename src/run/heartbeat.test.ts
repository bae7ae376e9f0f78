/**
 * The live line's heartbeat (heartbeat.ts): a worker thread redraws the line while the main thread is
 * blocked (a 2 s busy loop, as a Wasm step is), says what runs and for how long, and writes nothing
 * once the line is erased or ended. The terminal is a temporary file written through its descriptor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Progress } from './progress.js';

const busy = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end); // the main thread's event loop gets no turn, as during a Wasm step
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` with a temporary file standing in for the terminal: its descriptor and path. */
async function withTerminal(fn: (fd: number, file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'di-heartbeat-'));
  const file = join(dir, 'tty');
  const fd = openSync(file, 'w');
  try {
    await fn(fd, file);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('heartbeat: redraws the live line while the main thread is blocked, then stops at done', async () => {
  await withTerminal(async (fd, file) => {
    const stream = { isTTY: true, columns: 100, write: (s: string) => writeSync(fd, s) };
    const bar = new Progress(64, 'train', { stream, heartbeat: { fd, afterMs: 150, intervalMs: 100 } });
    bar.tick(1, 'gen 1.5 fake 2.5');
    bar.working('running step 2');
    busy(2000);
    const during = readFileSync(file, 'utf8');
    const beats = during.split('\r').filter((l) => l.includes('running step 2 ('));
    // 2 s blocked, first beat after 150 ms, then one per 100 ms: ~18; a loaded machine may lose some
    assert.ok(beats.length >= 5, `the heartbeat redrew ${beats.length} times while the main thread was blocked for 2 s`);
    assert.match(beats.at(-1)!, /^train .*1\/64 .*running step 2 \(0:0[12]\)\x1b\[K$/, 'the line with the step and its time');
    assert.ok(beats.every((l) => l.length <= 99 + 3), 'each redraw fits the terminal width');
    bar.tick(1, 'gen 1.4 fake 2.4'); // the main thread draws again: its own line, the losses
    assert.match(readFileSync(file, 'utf8').split('\r').at(-1)!, /2\/64 .*gen 1\.4 fake 2\.4/);
    bar.done();
    const final = readFileSync(file, 'utf8');
    assert.ok(final.endsWith('\n'), 'done ends the line');
    busy(600); // blocked again, but the line is ended: nothing may follow it
    await sleep(300);
    assert.equal(readFileSync(file, 'utf8'), final, 'nothing written after the final line');
  });
});

test('heartbeat: silent while the main thread draws itself, and after the line is erased', async () => {
  await withTerminal(async (fd, file) => {
    const stream = { isTTY: true, columns: 80, write: (s: string) => writeSync(fd, s) };
    const bar = new Progress(0, 'grid', { stream, minIntervalMs: 0, heartbeat: { fd, afterMs: 300, intervalMs: 100 } });
    for (let i = 0; i < 10; i++) {
      bar.tick(1); // drawn every 100 ms: never stale for 300 ms
      busy(100);
    }
    assert.ok(!readFileSync(file, 'utf8').includes('\x01'), 'no placeholder ever written');
    const drawn = readFileSync(file, 'utf8').split('\r').length;
    assert.equal(drawn, 11, 'only the main thread drew (10 draws)');
    bar.clear();
    const erased = readFileSync(file, 'utf8');
    busy(800);
    await sleep(200);
    assert.equal(readFileSync(file, 'utf8'), erased, 'an erased line is not drawn again by the heartbeat');
  });
});

test('heartbeat: a line that just fits keeps its elapsed time, as the main thread draws it (80 columns)', async () => {
  await withTerminal(async (fd, file) => {
    const stream = { isTTY: true, columns: 80, write: (s: string) => writeSync(fd, s) };
    const bar = new Progress(256, 'train', { stream, fmtCount: (n) => `${n / 1000}k`, rateUnit: ' img/s', heartbeat: { fd, afterMs: 150, intervalMs: 100 } });
    bar.working('compiling and running the first step…', true);
    bar.tick(0);
    busy(1200);
    bar.done();
    const lines = readFileSync(file, 'utf8').split('\r').map((l) => l.replace('\x1b[K', ''));
    assert.equal(lines[1], 'train 0k/0.256k 0% 0:00 0.00 img/s compiling and running the first step… (0:00)', 'the main thread');
    const beats = lines.filter((l) => /\(0:01\)/.test(l));
    assert.ok(beats.length >= 1, lines.join('\n'));
    assert.equal(beats.at(-1), 'train 0k/0.256k 0% 0:01 0.00 img/s compiling and running the first step… (0:01)', 'the heartbeat: 79 columns, elapsed kept');
  });
});
