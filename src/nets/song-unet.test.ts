/**
 * SongUNet: EDM's module names and shapes (derived by hand from NVlabs/edm `SongUNet.__init__` for a
 * small config), output shapes for 28×28 and 32×32, conditional and not, with and without attention,
 * dropout keyed by an explicit key, and the same forward on Wasm and WebGPU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultDevice, numpy as np, random, tree } from '@jax-js/jax';
import { assertClose, testBackends } from '../testing/backends.js';
import { initSongUNet, songUNet, songUNetConfig, songUNetShapes, songUNetSpecs, type SongUNetConfig } from './song-unet.js';

const base = (o: Partial<SongUNetConfig>): SongUNetConfig =>
  songUNetConfig('tiny', { imgResolution: 28, channels: 1, labelDim: 0 }, { modelChannels: 8, channelMult: [1, 2], channelMultEmb: 2, numBlocks: 1, attnResolutions: [], dropout: 0, ...o });

test('parameter names and shapes are EDM SongUNet state_dict keys (mc=8, mult [1,2], 1 block, 10 labels)', () => {
  const shapes = songUNetShapes(base({ labelDim: 10 }));
  // Hand-derived from SongUNet.__init__: emb = 8·2 = 16, noise = 8; encoder skips [8, 8, 8, 16].
  const blocks: Record<string, [number, number, boolean]> = {
    'enc.28x28_block0': [8, 8, false],
    'enc.14x14_down': [8, 8, false],
    'enc.14x14_block0': [8, 16, false],
    'dec.14x14_in0': [16, 16, true], // EDM always puts attention in the lowest decoder level's in0
    'dec.14x14_in1': [16, 16, false],
    'dec.14x14_block0': [32, 16, false], // 16 + skip 16
    'dec.14x14_block1': [24, 16, false], // 16 + skip 8
    'dec.28x28_up': [16, 16, false],
    'dec.28x28_block0': [24, 8, false], // 16 + skip 8
    'dec.28x28_block1': [16, 8, false], // 8 + skip 8
  };
  const expected: Record<string, number[]> = {
    'map_label.weight': [8, 10],
    'map_label.bias': [8],
    'map_layer0.weight': [16, 8],
    'map_layer0.bias': [16],
    'map_layer1.weight': [16, 16],
    'map_layer1.bias': [16],
    'enc.28x28_conv.weight': [8, 1, 3, 3],
    'enc.28x28_conv.bias': [8],
    'dec.28x28_aux_norm.weight': [8],
    'dec.28x28_aux_norm.bias': [8],
    'dec.28x28_aux_conv.weight': [1, 8, 3, 3],
    'dec.28x28_aux_conv.bias': [1],
  };
  for (const [name, [cin, cout, attn]] of Object.entries(blocks)) {
    Object.assign(expected, {
      [`${name}.norm0.weight`]: [cin],
      [`${name}.norm0.bias`]: [cin],
      [`${name}.conv0.weight`]: [cout, cin, 3, 3],
      [`${name}.conv0.bias`]: [cout],
      [`${name}.affine.weight`]: [cout, 16],
      [`${name}.affine.bias`]: [cout],
      [`${name}.norm1.weight`]: [cout],
      [`${name}.norm1.bias`]: [cout],
      [`${name}.conv1.weight`]: [cout, cout, 3, 3],
      [`${name}.conv1.bias`]: [cout],
    });
    if (cin !== cout || name.endsWith('_down') || name.endsWith('_up')) {
      Object.assign(expected, { [`${name}.skip.weight`]: [cout, cin, 1, 1], [`${name}.skip.bias`]: [cout] });
    }
    if (attn) {
      Object.assign(expected, {
        [`${name}.norm2.weight`]: [cout],
        [`${name}.norm2.bias`]: [cout],
        [`${name}.qkv.weight`]: [3 * cout, cout, 1, 1],
        [`${name}.qkv.bias`]: [3 * cout],
        [`${name}.proj.weight`]: [cout, cout, 1, 1],
        [`${name}.proj.bias`]: [cout],
      });
    }
  }
  assert.deepEqual(Object.keys(shapes).sort(), Object.keys(expected).sort());
  for (const k of Object.keys(expected)) assert.deepEqual(shapes[k], expected[k], k);
  // EDM registers modules in constructor order; state_dict order starts with the mapping layers.
  assert.deepEqual(songUNetSpecs(base({ labelDim: 10 })).slice(0, 3).map((s) => s.name), ['map_label.weight', 'map_label.bias', 'map_layer0.weight']);
});

test('output shapes: 28 and 32, cond and uncond, with and without attention', async () => {
  const cases: Array<[string, Partial<SongUNetConfig>]> = [
    ['28 uncond, no attn', {}],
    ['28 cond, attn at 7', { labelDim: 10, channelMult: [1, 1, 2], attnResolutions: [7] }],
    ['32 cond 3ch, attn at 16', { imgResolution: 32, inChannels: 3, outChannels: 3, labelDim: 4, channelMult: [1, 2, 2], attnResolutions: [16] }],
  ];
  for (const [what, o] of cases) {
    const cfg = base(o);
    const p = initSongUNet(random.key(0), cfg);
    const N = 2;
    const x = random.normal(random.key(1), [N, cfg.inChannels, cfg.imgResolution, cfg.imgResolution]);
    const labels = cfg.labelDim ? np.eye(cfg.labelDim).slice([0, N]) : null;
    const y = songUNet(cfg, p, x, np.array([0.1, -0.5]), labels);
    assert.deepEqual(y.shape, [N, cfg.outChannels, cfg.imgResolution, cfg.imgResolution], what);
    const d = (await y.data()) as Float32Array;
    assert.ok(d.every(Number.isFinite), what);
  }
});

test('dropout: same key → same output, another key → different; eval ignores the key; labels matter', async () => {
  const cfg = base({ labelDim: 3, dropout: 0.5, labelDropout: 0.5 });
  const params = initSongUNet(random.key(3), cfg);
  // Undo EDM's near-zero init of each block's last conv and of the output conv, so the dropout in front
  // of conv1 shows in the output far above float noise.
  for (const k of Object.keys(params)) if (k.endsWith('conv1.weight') || k.endsWith('aux_conv.weight')) params[k] = params[k].mul(1e5);
  const x = random.normal(random.key(4), [2, 1, 28, 28]);
  const run = (opts: { key?: number; train?: boolean }, label = 0) =>
    songUNet(cfg, tree.ref(params), x.ref, np.array([0.2, 0.2]), np.eye(3).slice([label, label + 2]), {
      key: opts.key === undefined ? undefined : random.key(opts.key),
      train: opts.train,
    }).data() as Promise<Float32Array>;
  const a = await run({ key: 1, train: true });
  const b = await run({ key: 1, train: true });
  const c = await run({ key: 2, train: true });
  const e1 = await run({ key: 1 });
  const e2 = await run({});
  const e3 = await run({}, 1);
  assert.deepEqual(a, b);
  assert.ok(a.some((v, i) => Math.abs(v - c[i]) > 1e-3), 'different dropout keys differ');
  assert.deepEqual(e1, e2);
  assert.ok(e2.some((v, i) => Math.abs(v - e3[i]) > 1e-4), 'labels change the output');
  assert.throws(() => songUNet(cfg, tree.ref(params), x.ref, np.array([0.2, 0.2]), null, { train: true }), /needs a key/);
  x.dispose();
  tree.dispose(params);
});

test('bad configs give one-line errors', () => {
  assert.throws(() => base({ channelMult: [1, 2, 2, 2] }), /resolution 28 is not divisible by 2\^3/);
  assert.throws(() => base({ resampleFilter: [1, 3] as any }), /resampleFilter \[1,3\] is not supported/);
  const cfg = base({});
  assert.throws(() => songUNet(cfg, {}, np.zeros([1, 1, 32, 32]), np.zeros([1]), null), /input shape \[1,1,32,32\] does not match \[N, 1, 28, 28\]/);
});

test('tiny SongUNet forward agrees on Wasm (im2col conv) and WebGPU (lax.conv)', async (t) => {
  const have = await testBackends();
  if (!have.includes('webgpu')) return t.skip('webgpu not available here');
  const cfg = base({ labelDim: 2, attnResolutions: [14] });
  const outs: Float32Array[] = [];
  const prev = defaultDevice();
  try {
    for (const dev of ['wasm', 'webgpu'] as const) {
      defaultDevice(dev);
      const p = initSongUNet(random.key(7), cfg);
      p['dec.28x28_aux_conv.weight'] = p['dec.28x28_aux_conv.weight'].mul(1e5);
      const x = random.normal(random.key(8), [1, 1, 28, 28]);
      outs.push((await songUNet(cfg, p, x, np.array([0.3]), np.array([[0, 1]])).data()) as Float32Array);
    }
  } finally {
    defaultDevice(prev);
  }
  assertClose(outs[1], outs[0], { rtol: 1e-3, atol: 1e-4, what: 'webgpu vs wasm' });
});
