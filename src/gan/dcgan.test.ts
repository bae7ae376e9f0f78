/**
 * DCGAN nets at tiny size on Wasm: output shapes and range, parameter names/shapes, conditioning,
 * per-sample independence of D (R1 relies on Σₙ∇ₓD(xₙ) holding each sample's own gradient), the R1
 * parameter gradient (grad-of-grad) the trainer uses against two conv lowerings and finite differences
 * (Wasm and WebGPU), the GeneratorModel's per-seed latents, and one-line shape errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultDevice, numpy as np, random, tree, valueAndGrad } from '@jax-js/jax';
import { initDevice } from '../platform/devices.js';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { GAN_PRESETS } from './config.js';
import { dcganDiscriminator, dcganDiscriminatorShapes, dcganGenerator, dcganGeneratorShapes, initDcganDiscriminator, initDcganGenerator, type DcganConfig } from './dcgan.js';
import { dcganGeneratorModel } from './generator.js';
import { r1Penalty } from './losses.js';
import { makeGanSteps } from './steps.js';

const cfg = (o: Partial<DcganConfig> = {}): DcganConfig => ({ ...GAN_PRESETS.tiny, labelDim: 10, channels: 1, resolution: 28, norm: 'group', ...o });

async function wasm() {
  await initDevice('wasm');
  defaultDevice('wasm');
}

test('dcgan generator: [N,1,28,28] in [-1,1], PyTorch-style names, labels change the output', async () => {
  await wasm();
  for (const c of [cfg(), cfg({ labelDim: 0, norm: 'none' })]) {
    const shapes = dcganGeneratorShapes(c);
    assert.deepEqual(shapes['map.weight'], [16 * 7 * 7, 16 + c.labelDim]);
    assert.deepEqual(shapes['b14x14.conv.weight'], [8, 16, 3, 3]);
    assert.deepEqual(shapes['out.weight'], [1, 8, 3, 3]);
    assert.equal('b28x28.norm.weight' in shapes, c.norm === 'group');
    const p = initDcganGenerator(random.key(0), c);
    assert.deepEqual(Object.keys(p).sort(), Object.keys(shapes).sort());
    const z = random.normal(random.key(1), [3, 16]);
    const labels = c.labelDim ? np.eye(10).slice([0, 3]) : null;
    const x = dcganGenerator(c, tree.ref(p), z.ref, labels);
    assert.deepEqual(x.shape, [3, 1, 28, 28]);
    const v = (await x.data()) as Float32Array;
    assert.ok(v.every((u) => u >= -1 && u <= 1), 'tanh output');
    assert.ok(Math.max(...v) - Math.min(...v) > 1e-3, 'output is not constant');
    if (c.labelDim) {
      const other = (await dcganGenerator(c, tree.ref(p), z.ref, np.eye(10).slice([5, 8])).data()) as Float32Array;
      assert.ok(other.some((u, i) => Math.abs(u - v[i]) > 1e-4), 'labels condition the output');
    }
    z.dispose();
    tree.dispose(p);
  }
});

test('dcgan discriminator: logits [N], projection on labels, samples independent of the batch', async () => {
  await wasm();
  const c = cfg();
  const shapes = dcganDiscriminatorShapes(c);
  assert.deepEqual(shapes['b28x28.conv0.weight'], [8, 1, 3, 3]);
  assert.deepEqual(shapes['b7x7.conv0.weight'], [16, 8, 3, 3]);
  assert.ok(!('b7x7.conv1.weight' in shapes), 'no second conv at the last level');
  assert.deepEqual(shapes['fc.weight'], [16, 16 * 7 * 7]);
  assert.deepEqual(shapes['embed.weight'], [16, 10]);
  assert.ok(!('embed.bias' in shapes));
  const d = initDcganDiscriminator(random.key(2), c);
  const x = random.uniform(random.key(3), [4, 1, 28, 28]).mul(2).sub(1);
  const y = np.eye(10).slice([0, 4]);
  const all = dcganDiscriminator(c, tree.ref(d), x.ref, y.ref);
  assert.deepEqual(all.shape, [4]);
  const a = (await all.data()) as Float32Array;
  const two = (await dcganDiscriminator(c, tree.ref(d), x.ref.slice([2, 4]), y.ref.slice([2, 4])).data()) as Float32Array;
  assertClose(two, a.slice(2), { rtol: 1e-4, atol: 1e-5, what: 'D of samples 2..3 alone' });
  const viaLax = (await dcganDiscriminator(c, tree.ref(d), x.ref, y.ref, { conv: 'lax' }).data()) as Float32Array;
  assertClose(viaLax, a, { rtol: 1e-4, atol: 1e-5, what: "D through lax.conv (the R1 pass) = D through the default conv" });
  const relabel = (await dcganDiscriminator(c, tree.ref(d), x.ref, np.eye(10).slice([4, 8])).data()) as Float32Array;
  assert.ok(relabel.some((u, i) => Math.abs(u - a[i]) > 1e-6), 'labels enter through the projection');
  assert.throws(() => dcganDiscriminator(c, tree.ref(d), np.zeros([2, 1, 32, 32]), null), /input shape \[2,1,32,32\], expected \[N, 1, 28, 28\]/);
  x.dispose();
  y.dispose();
  tree.dispose(d);
});

testOnBackends('dcgan R1 gradient through the real D: the trainer\'s r1Grad = eager im2col = eager lax.conv = finite differences', async (backend) => {
  const c = cfg();
  const d = initDcganDiscriminator(random.key(4), c);
  const x = random.uniform(random.key(5), [2, 1, 28, 28]).mul(2).sub(1);
  const y = np.eye(10).slice([3, 5]);
  const r1Of = (p: Record<string, np.Array>, conv?: 'lax') => {
    const v = r1Penalty((z) => dcganDiscriminator(c, tree.ref(p), z, y.ref, conv ? { conv } : {}), x.ref).mean();
    tree.dispose(p);
    return v;
  };
  const eager = (conv?: 'lax') => valueAndGrad((q: Record<string, np.Array>) => r1Of(q, conv))(tree.ref(d));
  const D = (p: Record<string, np.Array>, xx: np.Array, l: np.Array | null) => dcganDiscriminator(c, p, xx, l);
  const adam = { lr: 1e-3, beta1: 0, beta2: 0.99, eps: 1e-8 };
  const steps = makeGanSteps({ generator: dcganGeneratorModel(c), discriminator: D, discriminatorR1: (p, xx, l) => dcganDiscriminator(c, p, xx, l, { conv: 'lax' }) }, { batch: 2, r1Gamma: 1, r1Interval: 1, adamG: adam, adamD: adam });
  const ref = eager();
  const candidates: [string, [np.Array, Record<string, np.Array>]][] = [['eager lax.conv', eager('lax')]];
  const tr = steps.r1Grad(tree.ref(d), x.ref, [y.ref]);
  candidates.push([`trainer r1Grad (${backend === 'wasm' ? 'eager' : 'jit'})`, [tr.value, tr.grads]]);
  const r1 = (await ref[0].ref.data())[0];
  assert.ok(r1 > 0, `R1 ${r1}`);
  const keys = ['b28x28.conv0.weight', 'b28x28.conv1.weight', 'b14x14.conv1.weight', 'b7x7.conv0.weight', 'fc.weight', 'out.weight', 'embed.weight'];
  const want: Record<string, Float32Array> = {};
  for (const k of keys) want[k] = (await ref[1][k].ref.data()) as Float32Array;
  for (const [name, [v, g]] of candidates) {
    assertClose([(await v.data())[0]], [r1], { rtol: 1e-4, what: `${name}: R1` });
    for (const k of keys) {
      const scale = Math.max(...want[k].map(Math.abs));
      assert.ok(scale > 0, `${k}: zero gradient`);
      assertClose((await g[k].ref.data()) as Float32Array, want[k], { rtol: 1e-3, atol: 1e-4 * scale, what: `${name}: ∂R1/∂${k}` });
    }
    tree.dispose(g);
  }
  // R1 is exactly quadratic in out.weight (it does not move any activation): central differences are exact.
  const w = (await d['out.weight'].ref.data()) as Float32Array;
  for (const i of [0, 1, 2]) {
    const at = async (delta: number) => {
      const w2 = Float32Array.from(w);
      w2[i] += delta;
      return (await r1Of({ ...tree.ref(d), 'out.weight': np.array(w2, { shape: d['out.weight'].shape }) }).data())[0];
    };
    const h = 0.05;
    const fd = ((await at(h)) - (await at(-h))) / (2 * h);
    assertClose([want['out.weight'][i]], [fd], { rtol: 2e-3, atol: 1e-3 * Math.abs(r1), what: `∂R1/∂out.weight[${i}] vs finite differences` });
  }
  if (backend === 'wasm') {
    // Why r1Grad is eager on Wasm: jax-js 0.1.25 miscompiles this jitted grad-of-grad there. Reported, not asserted.
    const { value: vj, grads: gj } = steps.r1GradJit(tree.ref(d), x.ref, [y.ref]);
    vj.dispose();
    let err = 0;
    for (const k of keys) {
      const got = (await gj[k].ref.data()) as Float32Array;
      err = Math.max(err, Math.sqrt(got.reduce((s, v, i) => s + (v - want[k][i]) ** 2, 0) / want[k].reduce((s, v) => s + v * v, 0)));
    }
    console.log(`# jitted R1 gradient on Wasm: worst relative error ${err.toExponential(2)} over ${keys.length} tensors (${err > 1e-3 ? 'the jax-js Wasm jit bug is still present' : 'looks fixed: r1Grad could jit on Wasm'})`);
    tree.dispose(gj);
  }
  tree.dispose(ref[1]);
  steps.dStep.dispose();
  steps.dStepR1?.dispose();
  steps.gStep.dispose();
  steps.r1GradJit.dispose();
  x.dispose();
  y.dispose();
  tree.dispose(d);
});

test('dcgan GeneratorModel: per-seed latents, output shape, config validation', async () => {
  await wasm();
  const c = cfg();
  const m = dcganGeneratorModel(c);
  assert.deepEqual([m.kind, m.latentShape, m.outputShape, m.labelDim], ['dcgan', [16], [1, 28, 28], 10]);
  const a = (await m.latentForSeeds([3]).data()) as Float32Array;
  const b = (await m.latentForSeeds([1, 3]).data()) as Float32Array;
  assert.deepEqual(Array.from(b.slice(16)), Array.from(a), 'row k depends only on seeds[k]');
  assert.throws(() => dcganGeneratorModel(cfg({ resolution: 30 })), /resolution 30 is not divisible by 2\^2/);
  assert.throws(() => dcganGeneratorModel(cfg({ dChannels: [8, 8] })), /gChannels has 3 levels but dChannels 2/);
});
