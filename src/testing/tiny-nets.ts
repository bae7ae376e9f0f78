/**
 * Small fixtures shared by tests: a tiny conditional SongUNet denoiser, a loop of its teacher steps and a
 * byte-exact view of an array.
 */
import { numpy as np, random, tree } from '@jax-js/jax';
import { precondition } from '../edm/precond.js';
import { initSongUNet, songUNet, songUNetConfig } from '../nets/song-unet.js';
import { executorStats } from '../engine/executor.js';
import { keyForSeed } from '../random/seeds.js';

/** A tiny conditional SongUNet denoiser (8×8, 1 channel, 3 classes, EDM preconditioning) and its initial params (key 0). */
export function tinyTeacher() {
  const cfg = songUNetConfig('tiny', { imgResolution: 8, channels: 1, labelDim: 3 });
  const D = precondition('edm', (p, x, c, l, o) => songUNet(cfg, p, x, c, l, o), { sigmaData: 0.5 });
  return { D, params: initSongUNet(random.key(0), cfg) };
}

/** The float32 bytes of `x` as hex, for bit-exact comparisons. Consumes `x`. */
export async function hex(x: np.Array): Promise<string> {
  return Buffer.from(((await x.data()) as Float32Array).buffer).toString('hex');
}

/**
 * `steps` calls of a teacher `step` on one fixed batch of 3 uniform 8×8 images with labels 0, 1, 2 (keys
 * `keyForSeed(i, seed)`, lr scale 1, EMA β `emaBeta`), each read before the next; returns the final state,
 * the losses and the executor's dispatches in the last step. Consumes `state`.
 */
export async function tinyTeacherSteps<S>(
  step: (s: S, x: np.Array, labels: np.Array[], key: np.Array, lrScale: np.Array, emaBeta: np.Array) => [S, { loss: np.Array; gradNorm: np.Array; finite: np.Array }],
  state: S,
  steps: number,
  { seed, emaBeta }: { seed: number; emaBeta: number },
) {
  const x = random.uniform(random.key(1), [3, 1, 8, 8]).mul(2).sub(1);
  const labels = np.eye(3);
  let s = state;
  const losses: number[] = [];
  let kernels = 0;
  for (let i = 0; i < steps; i++) {
    const d0 = executorStats().dispatches;
    const [ns, st] = step(s, x.ref, [labels.ref], keyForSeed(i, seed), np.array(1), np.array(emaBeta));
    s = ns;
    tree.dispose([st.gradNorm, st.finite]);
    losses.push(((await st.loss.data()) as Float32Array)[0]);
    kernels = executorStats().dispatches - d0;
  }
  tree.dispose([x, labels]);
  return { state: s, losses, kernels };
}
