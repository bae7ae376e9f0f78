/**
 * The 2-D playground's training worker: one `ToySession` (toy-session.ts) and the toy scores
 * (src/metrics/toy2d.ts), off the page's main thread, so a frame's steps never block drawing or clicks.
 * Calls (rpc.ts) arrive one at a time in the order the playground's state machine sent them.
 */
import { initDevice, toy2d, toyMetrics, type DistillConfig } from 'diff-instruct';
import { serveWorker } from './rpc.js';
import { ToySession } from './toy-session.js';

export interface ToyScores {
  mmd: number;
  /** Mode coverage (src/metrics/toy2d.ts), for the toys with discrete modes. */
  modes: { covered: number; total: number; highQuality: number } | null;
}

export interface ToyFrame {
  /** Totals after the call. */
  genSteps: number;
  fakeSteps: number;
  warmingUp: boolean;
  fakeLoss: number;
  genLoss: number;
  samples?: Float32Array;
  scores?: ToyScores;
}

let session: ToySession | null = null;

function need(): ToySession {
  if (!session) throw new Error('no 2-D run is built');
  return session;
}

async function scores(s: ToySession, samples: Float32Array): Promise<ToyScores> {
  const mmd = await toyMetrics.mmdRbf(samples, s.teacherPoints);
  const modes = toy2d.toyModes(s.toy.name);
  if (!modes) return { mmd, modes: null };
  const st = toyMetrics.modeStats(samples, modes.centers, modes.std);
  return { mmd, modes: { covered: st.modesCovered, total: st.modesTotal, highQuality: st.highQuality } };
}

serveWorker({
  init: ({ device }: { device: string }) => initDevice(device),
  build: async ({ cfg }: { cfg: DistillConfig }) => {
    session?.dispose();
    session = null;
    const s = await ToySession.create(cfg);
    session = s;
    const samples = await s.samples();
    return { teacherPoints: s.teacherPoints, samples, scores: await scores(s, samples) };
  },
  update: ({ cfg }: { cfg: DistillConfig }) => need().update(cfg),
  run: async ({ n, withSamples }: { n: number; withSamples: boolean }): Promise<ToyFrame> => {
    const s = need();
    const r = await s.run(n, withSamples);
    return { genSteps: s.genSteps, fakeSteps: s.fakeStepsDone, warmingUp: s.warmingUp, fakeLoss: r.fakeLoss, genLoss: r.genLoss, samples: r.samples, scores: r.samples ? await scores(s, r.samples) : undefined };
  },
});
