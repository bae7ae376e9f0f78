/**
 * The two predictions of docs/ikl-vs-kl.md and docs/sds-as-diff-instruct.md, measured with the real
 * trainer on Wasm at a small, seeded budget (each test well under a minute on an idle 2-core machine):
 *
 *  1. From a generator on ring8-shifted (support disjoint from the teacher ring8: every start sample is
 *     > 1 away from every teacher mode, i.e. > 10 teacher stds), Diff-Instruct's IKL over
 *     σ ∈ [0.01, 10] reaches the teacher's support and covers its modes, while KL at the single σ 0.02
 *     only follows the nearest-mode pull and piles onto the closest modes: same steps, same trainer.
 *  2. SDS (Dirac generator = free particles) collapses particles onto the teacher's mode instead of
 *     spreading over it: particles that start on left-blob end on right-blob's centre with a spread far
 *     below the teacher's own.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { tree } from '@jax-js/jax';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toy2dMetrics } from '../metrics/toy2d.js';
import { testOnBackends } from '../testing/backends.js';
import { curvesSvg, frameSteps, parsePair, prepareStart, runMethod, Study2dConfig, type StudyStart } from './study2d.js';
import { teacherSpread } from './spread.js';

const runsDir = mkdtempSync(join(tmpdir(), 'study2d-test-'));
after(() => rmSync(runsDir, { recursive: true, force: true }));

// Small nets and budget; every other setting is the study's default (σ ∈ [0.01, 10] loguniform, KL σ 0.02).
const SMALL = { steps: 200, batch: 64, evalEvery: 200, evalN: 500, mlpWidth: 32, mlpDepth: 2, fakeWarmup: 100, prefitSteps: 400, seed: 0 };

// Thresholds. Measured at this budget on Wasm for seeds 0, 1, 2 (MMD² is toy2dMetrics' unbiased estimate
// against 2000 teacher samples; the start generator has MMD² ≈ 0.32 to ring8, teacher samples ≈ 0.0003):
//   IKL MMD² 0.077, 0.057, 0.061;   KL MMD² 0.46, 0.44, 0.54 with 1 mode covered (all seeds);
//   SDS: distance to the mode centre 0.042, 0.053, 0.049; spread 0.056, 0.067, 0.058 (teacher: 0.31, 0.35).
/** IKL: below half the start's MMD² and a third of a one-mode collapse (KL's ≈ 0.45); ~2x above what it reaches. */
const IKL_MMD_MAX = 0.15;
/** KL: still above 0.25 (collapsed onto the nearest mode(s): worse than the start in MMD² terms), ~3x IKL's value. */
const KL_MMD_MIN = 0.25;
/** KL covers at most the two modes nearest to where it starts (measured: 1). */
const KL_MODES_MAX = 2;
/** SDS: mean distance to the mode centre below half of the teacher's own samples' 0.31 (measured ≈ 0.05). */
const SDS_MODEDIST_MAX = 0.15;
/** SDS: spread below 30% of the teacher's 0.35 (measured 16–19%): collapse, not a distribution. */
const SDS_SPREAD_FRAC = 0.3;

let ringStart: Promise<StudyStart> | null = null;
/** The ring8-shifted start, fitted once and shared by the IKL and KL tests (freed after the file). */
function ringStartOnce(cfg: Study2dConfig): Promise<StudyStart> {
  ringStart ??= prepareStart(cfg, 'ring8-shifted:ring8', toy2dMetrics, runsDir);
  return ringStart;
}
after(async () => {
  if (ringStart) tree.dispose((await ringStart).theta);
});

const ringCfg = Study2dConfig.parse({ ...SMALL, pairs: ['ring8-shifted:ring8'], methods: ['ikl', 'kl'] });

testOnBackends('study2d: the prefit generator sits on ring8-shifted, disjoint from the teacher ring8', async () => {
  const st = await ringStartOnce(ringCfg);
  // no start sample within 3 teacher stds of a teacher mode, and its MMD to ring8 is ~1000x the floor
  assert.equal(st.prefit.vsTarget.highQuality, 0, `start samples near ring8 modes: ${st.prefit.vsTarget.highQuality}`);
  assert.ok(st.prefit.vsTarget.mmd > 0.2, `start MMD² to ring8 ${st.prefit.vsTarget.mmd}`);
  assert.ok(st.prefit.vsStart.mmd < 0.1, `start MMD² to ring8-shifted ${st.prefit.vsStart.mmd}`);
}, { only: ['wasm'] });

testOnBackends('study2d: IKL (σ loguniform [0.01, 10]) reaches ring8 from a disjoint start', async () => {
  const st = await ringStartOnce(ringCfg);
  const r = await runMethod(ringCfg, st, 'ikl', toy2dMetrics, runsDir);
  const last = r.history.at(-1)!;
  assert.equal(last.step, ringCfg.steps);
  console.log(`IKL after ${last.step} steps: ${JSON.stringify(last)}`);
  assert.ok(last.mmd < IKL_MMD_MAX, `IKL MMD² ${last.mmd} ≥ ${IKL_MMD_MAX}`);
  assert.ok(last.mmd < st.prefit.vsTarget.mmd / 2, `IKL MMD² ${last.mmd} vs start ${st.prefit.vsTarget.mmd}`);
}, { only: ['wasm'] });

testOnBackends('study2d: KL at one small σ (0.02) stays far from ring8 in the same budget', async () => {
  const st = await ringStartOnce(ringCfg);
  const r = await runMethod(ringCfg, st, 'kl', toy2dMetrics, runsDir);
  const last = r.history.at(-1)!;
  console.log(`KL after ${last.step} steps: ${JSON.stringify(last)}`);
  assert.ok(last.mmd > KL_MMD_MIN, `KL MMD² ${last.mmd} ≤ ${KL_MMD_MIN}`);
  assert.ok(last.modesCovered <= KL_MODES_MAX, `KL covers ${last.modesCovered} modes`);
}, { only: ['wasm'] });

testOnBackends('study2d: SDS particles collapse onto the mode instead of spreading over it', async () => {
  const cfg = Study2dConfig.parse({ ...SMALL, steps: 500, evalEvery: 500, pairs: ['left-blob:right-blob'], methods: ['sds'], prefitSteps: 100 });
  const st = await prepareStart(cfg, 'left-blob:right-blob', toy2dMetrics, runsDir);
  try {
    const r = await runMethod(cfg, st, 'sds', toy2dMetrics, runsDir);
    const first = r.history[0], last = r.history.at(-1)!;
    const teacher = teacherSpread(0.25);
    console.log(`SDS start ${JSON.stringify(first)}\nSDS end   ${JSON.stringify(last)}\nteacher ${JSON.stringify(teacher)}`);
    assert.equal(r.generator, 'particles');
    assert.ok(first.modeDist > 5, `particles should start on left-blob, 6 from the mode (modeDist ${first.modeDist})`);
    assert.ok(last.modeDist < SDS_MODEDIST_MAX, `particles end ${last.modeDist} from the mode centre`);
    assert.ok(last.spread < SDS_SPREAD_FRAC * teacher.spread, `particle spread ${last.spread} vs teacher ${teacher.spread}`);
  } finally {
    tree.dispose(st.theta);
  }
}, { only: ['wasm'] });

testOnBackends('study2d: pairs, frames and curves', async () => {
  assert.deepEqual(parsePair('left-blob:right-blob'), { start: 'left-blob', target: 'right-blob' });
  assert.throws(() => parsePair('left-blob'), /must look like start:target/);
  assert.throws(() => parsePair('left-blob:nope'), /unknown toy 'nope'/);
  assert.throws(() => parsePair('left-blob:moons'), /no exact score/);
  assert.deepEqual(frameSteps({ steps: 1000, frames: 4, evalEvery: 25 }), [0, 75, 250, 1000]);
  assert.deepEqual(frameSteps({ steps: 600, frames: 5, evalEvery: 25 }), [0, 25, 50, 150, 600]);
  assert.deepEqual(frameSteps({ steps: 100, frames: 2, evalEvery: 30 }), [0, 100]);
  const row = (step: number, mmd: number) => ({ step, mmd, swd: mmd, modesCovered: 2, spread: 0.1, modeDist: 0.1 });
  const svg = curvesSvg({
    start: 'ring8-shifted', target: 'ring8', teacherFloor: { mmd: 1e-4, swd: 0.1 }, teacherSpread: { modeDist: 0.12, spread: 0.14 },
    prefit: { loss: 0, vsStart: {}, vsTarget: {} },
    methods: [{ method: 'ikl', generator: 'mlp', frames: [], seconds: 0, history: [row(0, 0.3), row(10, -0.001)] }],
  });
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 4, 'one line per panel (MMD, SW, modes, spread)');
  assert.ok(!/NaN|Infinity/.test(svg), 'no non-finite coordinates (negative MMD² is clamped on the log axis)');
}, { only: ['wasm'] });
