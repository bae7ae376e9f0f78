// The playground's training session in Node (Wasm): it keeps device memory flat frame after frame and
// across setting changes, follows the CLI trainer's keys (same settings → same numbers), and learns.
import { initDevice } from '../../src/index.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveBuffers, trackBuffers } from '../../src/train/live-buffers.ts';
import { ToySession } from '../src/toy-session.ts';
import { playgroundConfig } from '../src/toy-config.ts';

// latentStd fixed: the losses' page defaults differ in it (a reset key), and this test switches loss on one run
const small = { batch: 64, mlpWidth: 32, fakeWarmup: 6, fakeSteps: 2, latentStd: 1 } as const;

test('ToySession keeps live buffers flat across frames, setting changes and losses', { timeout: 300_000 }, async () => {
  await initDevice('wasm');
  await trackBuffers();
  const s = await ToySession.create(playgroundConfig(small), 64);
  try {
    await s.run(4, true); // warm-up and compile
    await s.run(2, true);
    const base = liveBuffers();
    for (let i = 0; i < 3; i++) await s.run(2, i % 2 === 0);
    assert.equal(liveBuffers(), base, 'frames leak');
    // New settings compile new phases (whose constants replace the old ones'): count from their first frame.
    for (const loss of ['sid', 'sds', 'dmd', 'ikl'] as const) {
      s.update(playgroundConfig({ ...small, loss, sigmaDist: loss === 'sid' ? 'karras' : 'lognormal' }));
      await s.run(2, true);
      const b = liveBuffers();
      await s.run(2, true);
      await s.run(2, false);
      assert.equal(liveBuffers(), b, `frames with loss ${loss} leak`);
    }
    // Back on the first settings: nothing accumulated from the switches.
    assert.ok(liveBuffers() <= base, `after switching losses: ${liveBuffers()} live buffers, ${base} before`);
    assert.throws(() => s.update(playgroundConfig({ ...small, teacher: 'toy:grid25' })), /teacher need a reset/);
  } finally {
    s.dispose();
  }
});

test('ToySession is deterministic for fixed settings and its MMD² to the teacher falls', { timeout: 300_000 }, async (t) => {
  await initDevice('wasm');
  const { toyMetrics } = await import('../../src/index.ts');
  const runOnce = async () => {
    const s = await ToySession.create(playgroundConfig({ ...small, fakeWarmup: 10 }), 200);
    try {
      const m0 = await toyMetrics.mmdRbf(await s.samples(), s.teacherPoints);
      // 5 × 2 fake steps: the 5th iteration ends the warm-up and takes the first generator step.
      let last = await s.run(5, false);
      assert.equal(s.fakeStepsDone, 10);
      assert.equal(s.genSteps, 1);
      for (let i = 0; i < 3; i++) last = await s.run(10, i === 2);
      assert.equal(s.genSteps, 31);
      const m1 = await toyMetrics.mmdRbf(last.samples!, s.teacherPoints);
      return { m0, m1, fake: last.fakeLoss, gen: last.genLoss };
    } finally {
      s.dispose();
    }
  };
  const a = await runOnce();
  const b = await runOnce();
  t.diagnostic(`MMD² ${a.m0.toFixed(4)} → ${a.m1.toFixed(4)} after 31 generator steps`);
  assert.deepEqual(a, b, 'same settings, same numbers');
  assert.ok(a.m1 < 0.5 * a.m0, `MMD² ${a.m0} → ${a.m1}`);
});
