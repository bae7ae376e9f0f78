/**
 * Small fixtures shared by tests: a tiny conditional SongUNet denoiser and a byte-exact view of an array.
 */
import { numpy as np, random } from '@jax-js/jax';
import { precondition } from '../edm/precond.js';
import { initSongUNet, songUNet, songUNetConfig } from '../nets/song-unet.js';

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
