/**
 * The metric classifier's building blocks against jax-js references: the im2col 3×3 convolution equals
 * `lax.conv` with JAX 'SAME' padding (stride 1 and 2, odd and even sizes), and the whole network gives
 * the same features through the NHWC im2col path and the NCHW `lax.conv` path (which also pins the
 * PyTorch (C, H, W) flatten order of fc1).
 */
import '../platform/node.js';
import assert from 'node:assert/strict';
import { lax, numpy as np, random, tree } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { classifierForward, classifierShapes, conv3x3Im2col, initClassifier, checkClassifierParams, type ClassifierConfig } from './classifier.js';

testOnBackends('conv3x3Im2col = lax.conv(SAME) for stride 1 and 2, even and odd sizes', async () => {
  for (const [h, c, o, s] of [[6, 2, 3, 1], [6, 2, 3, 2], [7, 3, 2, 2], [5, 1, 4, 1]]) {
    const x = random.normal(random.key(h * 10 + s), [2, c, h, h]);
    const w = random.normal(random.key(h * 10 + s + 1), [o, c, 3, 3]);
    const ref = (await lax.conv(x.ref, w.ref, [s, s], 'SAME').data()) as Float32Array;
    const got = (await conv3x3Im2col(x.transpose([0, 2, 3, 1]), w, s).transpose([0, 3, 1, 2]).data()) as Float32Array;
    assertClose(got, ref, { rtol: 1e-4, atol: 1e-4, what: `conv ${h}x${h} c${c}→${o} stride ${s}` });
  }
});

testOnBackends('classifier: im2col (NHWC) and lax.conv (NCHW) paths give the same features and logits', async () => {
  const cfg: ClassifierConfig = { channels: [3, 4, 5], features: 6, numClasses: 10, resolution: 9, inChannels: 1 };
  const params = initClassifier(random.key(1), cfg);
  checkClassifierParams(params, cfg);
  assert.deepEqual(params['fc1.weight'].shape, [6, 5 * 3 * 3]); // 9 → 5 → 3 after two stride-2 SAME convs
  const x = random.uniform(random.key(2), [3, 1, 9, 9], { minval: -1, maxval: 1 });
  const prev = process.env.DI_CONV;
  const run = async (impl: string) => {
    process.env.DI_CONV = impl;
    const [f, l] = classifierForward(tree.ref(params), x.ref);
    return [(await f.data()) as Float32Array, (await l.data()) as Float32Array];
  };
  try {
    const [f1, l1] = await run('im2col');
    const [f2, l2] = await run('lax');
    assertClose(f1, f2, { rtol: 1e-4, atol: 1e-5, what: 'features' });
    assertClose(l1, l2, { rtol: 1e-4, atol: 1e-5, what: 'logits' });
    assert.ok(f1.every((v) => v >= 0), 'features are post-ReLU');
  } finally {
    if (prev === undefined) delete process.env.DI_CONV;
    else process.env.DI_CONV = prev;
    x.dispose();
    tree.dispose(params);
  }
});

testOnBackends('checkClassifierParams: one-line errors for a missing or mis-shaped tensor', () => {
  const cfg: ClassifierConfig = { channels: [2, 2, 2], features: 3, numClasses: 10, resolution: 8, inChannels: 1 };
  const shapes = classifierShapes(cfg);
  const params = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, np.zeros(s)]));
  params['fc2.bias'].dispose();
  params['fc2.bias'] = np.zeros([9]);
  assert.throws(() => checkClassifierParams(params, cfg, 'x.safetensors'), /^Error: x\.safetensors: tensor 'fc2\.bias' has shape \[9\], expected \[10\]$/);
  params['fc2.bias'].dispose();
  delete params['fc2.bias'];
  assert.throws(() => checkClassifierParams(params, cfg), /missing tensor 'fc2\.bias'/);
  tree.dispose(params);
}, { only: ['wasm'] });
