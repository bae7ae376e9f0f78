/**
 * Batched queue submission (submit-batching.ts) must not change any result: the same computations
 * (a jitted training step of a tiny SongUNet, eager ops that reuse pooled buffers and upload host
 * data between kernels, reads in the middle) give bit-identical outputs with batching on and off.
 */
import { jit, numpy as np, random, tree, valueAndGrad } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultDevice } from '@jax-js/jax';
import { setSubmitBatching } from './devices.js';
import { testBackends } from '../testing/backends.js';
import { initSongUNet, songUNet, songUNetConfig } from '../nets/song-unet.js';

async function workload(): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const cfg = songUNetConfig('tiny', { imgResolution: 28, channels: 1, labelDim: 0 });
  let p = initSongUNet(random.key(3), cfg);
  const x = random.normal(random.key(4), [2, 1, 28, 28]);
  const step = jit((params: Record<string, np.Array>, xb: np.Array) => {
    const [loss, g] = valueAndGrad((pp: Record<string, np.Array>) => np.square(songUNet(cfg, pp, xb.ref, np.array([0.5, 2]), null)).mean())(params);
    xb.dispose();
    return [loss, g];
  });
  for (let i = 0; i < 3; i++) {
    const [loss, g] = step(tree.ref(p), x.ref) as [np.Array, Record<string, np.Array>];
    out.push((await loss.data()) as Float32Array);
    // eager update with a fresh host upload between kernels (writeBuffer into pooled buffers)
    const next: Record<string, np.Array> = {};
    for (const k of Object.keys(p)) next[k] = p[k].ref.sub(g[k].mul(np.array(new Float32Array([0.01 * (i + 1)]), { shape: [] })));
    tree.dispose(p);
    p = next;
  }
  out.push((await p['enc.28x28_conv.weight'].ref.data()) as Float32Array);
  step.dispose();
  tree.dispose([p, x]);
  return out;
}

test('batched WebGPU submits give bit-identical results', async (t) => {
  const have = await testBackends();
  if (!have.includes('webgpu')) return t.skip('webgpu not available here');
  const prev = defaultDevice();
  defaultDevice('webgpu');
  try {
    setSubmitBatching(false);
    const plain = await workload();
    setSubmitBatching(true);
    const batched = await workload();
    assert.equal(batched.length, plain.length);
    for (let i = 0; i < plain.length; i++) assert.deepEqual(Array.from(batched[i]), Array.from(plain[i]), `output ${i}`);
  } finally {
    setSubmitBatching(true);
    defaultDevice(prev);
  }
});
