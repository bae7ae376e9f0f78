/**
 * One Diff-Instruct iteration as every driver runs it — the CLI trainer (trainer.ts) and the page's
 * in-tab distillation (web/src/image-session.ts): `fakeSteps` fake-score steps on the current
 * generator, each with its own key, then one generator step against the frozen teacher and fake score,
 * with the learning-rate ramp and EMA β of generator step `s` (Luo et al. 2023, Algorithm 1; the
 * schedules and keys are options.ts's). No Node APIs.
 */
import { numpy as np, tree } from '@jax-js/jax';
import type { DistillConfig } from './config.js';
import type { Params } from './generator.js';
import { emaBetaAt, lrScaleAt, stepKey } from './options.js';
import type { DistillSteps, FakeState, GenState, StepStats } from './steps.js';
import type { Stored } from '../train/flat-params.js';

/** What an iteration advances; updated in place after each phase, so it is consistent if a later phase throws. */
export interface DistillState<P extends Stored<Params> = Params> {
  gen: GenState<P>;
  fake: FakeState<P>;
  /** Fake-score steps done so far (warm-up included): the key counter of phase 0. */
  fakeDone: number;
}

/**
 * Generator step `s` (0-based) with its `fakeSteps` fake-score steps before it. Borrows
 * `teacherParams`; hands each phase's stats to `onStats` (awaited, so a trainer can read them back
 * before the next phase, as the CLI does on Wasm).
 */
export async function distillIteration<P extends Stored<Params> = Params>(
  fns: DistillSteps<P>,
  state: DistillState<P>,
  teacherParams: Params,
  cfg: DistillConfig,
  s: number,
  fakeSteps: number,
  onStats: (phase: 'f' | 'g', st: StepStats) => void | Promise<void>,
): Promise<void> {
  const { fakeStep, genStep } = fns;
  const lr = np.array(lrScaleAt(cfg, s));
  for (let i = 0; i < fakeSteps; i++) {
    const [next, st] = fakeStep(state.fake, tree.ref<P>(state.gen.theta), stepKey(cfg.seed, state.fakeDone, 0), lr.ref);
    state.fake = next;
    state.fakeDone++;
    await onStats('f', st);
  }
  const beta = np.array(emaBetaAt(cfg, s));
  const [next, st] = genStep(state.gen, tree.ref<P>(state.fake.phi), tree.ref(teacherParams), stepKey(cfg.seed, s, 1), lr, beta);
  state.gen = next;
  await onStats('g', st);
}
