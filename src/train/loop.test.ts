/** The shared training loop's cadence and its live line (kimg, img/s, ETA, latest losses) on a terminal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainingLoop } from './loop.js';

function fakeTerminal() {
  const out: string[] = [];
  return { out, stream: { isTTY: true, columns: 120, write: (s: string) => out.push(s) } };
}

test('loop: ticks every stepsPerTick steps, snapshots every snap ticks and at the end', async () => {
  const events: string[] = [];
  const r = await trainingLoop(
    { startStep: 0, totalSteps: 7, stepsPerTick: 2, snap: 2, maxMinutes: 0, t0: Date.now() },
    { step: async (s) => void events.push(`s${s}`), finishTick: async ({ tick, steps }) => void events.push(`t${tick}:${steps}`), snapshot: async () => void events.push('snap'), pending: () => false },
  );
  assert.equal(r.step, 7);
  assert.equal(r.stoppedEarly, '');
  assert.deepEqual(events, ['s0', 's1', 't0:2', 's2', 's3', 't1:2', 'snap', 's4', 's5', 't2:2', 's6', 't3:1', 'snap']);
});

test('loop: with batch, a live line on a terminal shows kimg of total, img/s, ETA and the status; phases without steps name themselves', async () => {
  const { out, stream } = fakeTerminal();
  const logged: string[] = [];
  let lastOut = -1;
  await trainingLoop(
    { startStep: 2, totalSteps: 6, stepsPerTick: 100, snap: 100, maxMinutes: 0, t0: Date.now(), batch: 500, progressStream: stream, log: (l) => logged.push(l) },
    {
      step: async () => void (await new Promise((r) => setTimeout(r, 5))),
      finishTick: async () => {
        // while a tick closes (reads results, logs, draws a grid) the line says so and keeps its clock
        lastOut = out.length;
        assert.match(out.at(-1)!, /^\rtrain .* tick… \(0:0\d\)\x1b\[K$/); // and how long it has taken
        await new Promise((r) => setTimeout(r, 1100));
        assert.ok(out.length > lastOut, 'redrawn while the phase runs');
      },
      snapshot: async () => void assert.match(out.at(-1)!, /snapshot…/),
      pending: () => false,
      status: () => 'gen 0.123',
    },
  );
  assert.ok(lastOut > 0);
  const lines = out.filter((s) => s.startsWith('\rtrain') && !s.includes('…'));
  assert.ok(lines.length >= 1, 'drew the live line');
  assert.match(out.find((s) => s.startsWith('\rtrain'))!, /1k\/3k .* compiling and running the first step…/, 'the first step says it compiles');
  // a resumed run (startStep 2, 500 images a step) starts at 1k of 3k
  assert.match(lines[0], /^\rtrain \[[#.]+\] [0-9.]+k\/3k \d+% \d:\d\d( eta \d:\d\d)? \d+ img\/s gen 0\.123/);
  assert.match(lines.at(-1)!, /3k\/3k 100%/);
  assert.equal(out.at(-1), '\n', 'done ends the line');
  assert.deepEqual(logged.length, 1, 'the first-step line');
});

test('loop: without batch, or not on a terminal, nothing is drawn', async () => {
  const { out, stream } = fakeTerminal();
  const hooks = { step: async () => undefined, finishTick: async () => undefined, snapshot: async () => undefined, pending: () => false };
  await trainingLoop({ startStep: 0, totalSteps: 3, stepsPerTick: 1, snap: 1, maxMinutes: 0, t0: Date.now(), progressStream: stream }, hooks);
  assert.deepEqual(out, []);
  const piped: string[] = [];
  await trainingLoop({ startStep: 0, totalSteps: 3, stepsPerTick: 1, snap: 1, maxMinutes: 0, t0: Date.now(), batch: 8, progressStream: { isTTY: false, write: (s: string) => piped.push(s) } }, hooks);
  assert.deepEqual(piped, []);
});
