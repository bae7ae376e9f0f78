// Adam against hand-computed PyTorch Adam steps, on a quadratic, and its safetensors round trip.
import '../platform/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jit, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { adamInit, adamStateFromTensors, adamStateToTensors, adamUpdate, type AdamConfig, type AdamState } from './adam.js';
import { flatLayout } from './tree.js';

const CFG: AdamConfig = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

// torch.optim.Adam(lr=0.1, betas=(0.9, 0.999), eps=1e-8) on p0 = [1, -2] with gradients
// g1 = [0.5, -1], g2 = [0.2, 0.4], g3 = [-0.3, 0.1]; per step t:
//   m = 0.9m + 0.1g, v = 0.999v + 0.001g², p -= (0.1/(1-0.9^t)) · m / (sqrt(v)/sqrt(1-0.999^t) + 1e-8)
// t=1: m = [0.05, -0.1], v = [2.5e-4, 1e-3], bias-corrected m̂ = g, sqrt(v̂) = |g| → p = p0 - 0.1·sign(g)
//      = [0.9, -1.9] (up to the 1e-8 eps: 0.900000002, -1.900000001)
// t=2: m = [0.045+0.02, -0.09+0.04] = [0.065, -0.05], v = [2.4975e-4+4e-5, 9.99e-4+1.6e-4] = [2.8975e-4, 1.159e-3]
//      bc1 = 0.19, bc2 = 0.001999, denom = sqrt(v/bc2) = [0.380720, 0.761439]
//      p = [0.9 - 0.526316·0.065/0.380720, -1.9 + 0.526316·0.05/0.761439] = [0.810142, -1.865439]
// t=3: m = [0.0585-0.03, -0.045+0.01] = [0.0285, -0.035], v = [2.894603e-4+9e-5, 1.157841e-3+1e-5]
//      = [3.794603e-4, 1.167841e-3], bc1 = 0.271, bc2 = 0.002997001, denom = [0.355828, 0.624235]
//      p = [0.810142 - 0.369004·0.0285/0.355828, -1.865439 + 0.369004·0.035/0.624235] = [0.780587, -1.844750]
const GRADS = [[0.5, -1], [0.2, 0.4], [-0.3, 0.1]];
const EXPECTED_P = [[0.900000002, -1.900000001], [0.8101424839, -1.8654394167], [0.7805871509, -1.8447499007]];
const EXPECTED_M = [[0.05, -0.1], [0.065, -0.05], [0.0285, -0.035]];
const EXPECTED_V = [[2.5e-4, 1e-3], [2.8975e-4, 1.159e-3], [3.7946025e-4, 1.167841e-3]];

testOnBackends('adamUpdate reproduces three hand-computed torch.optim.Adam steps (eager and jit)', async () => {
  for (const mode of ['eager', 'jit'] as const) {
    const update = (g: { w: np.Array }, s: AdamState<{ w: np.Array }>, p: { w: np.Array }) => adamUpdate(g, s, p, CFG);
    const step = mode === 'jit' ? jit(update) : update;
    let params = { w: np.array([1, -2]) };
    let state = adamInit(tree.ref(params));
    for (let t = 0; t < 3; t++) {
      const out = step({ w: np.array(GRADS[t]) }, state, params);
      params = out.params;
      state = out.state;
      assertClose(await params.w.ref.data(), EXPECTED_P[t], { rtol: 2e-6, what: `${mode} p after step ${t + 1}` });
      assertClose((await state.m.ref.data()).slice(0, 2), EXPECTED_M[t], { rtol: 2e-6, what: `${mode} m after step ${t + 1}` });
      assertClose((await state.v.ref.data()).slice(0, 2), EXPECTED_V[t], { rtol: 2e-6, what: `${mode} v after step ${t + 1}` });
    }
    assert.equal((await state.count.ref.data())[0], 3);
    tree.dispose([params, state]);
    if (mode === 'jit') (step as any).dispose();
  }
});

testOnBackends('adamUpdate with a finite flag skips a non-finite step exactly and takes a finite one (jit)', async () => {
  // the trainers' NaN/Inf guard: `finite` false must return params, m, v and count bit-identical
  const step = jit((g: { w: np.Array }, s: AdamState<{ w: np.Array }>, p: { w: np.Array }) => {
    const ok = np.all(np.isfinite(g.w.ref));
    return adamUpdate(g, s, p, CFG, undefined, ok);
  });
  // state after one ordinary step (hand-computed torch values above), then a poisoned or a clean step 2
  for (const bad of [NaN, Infinity, 0.4]) {
    const first = adamUpdate({ w: np.array(GRADS[0]) }, adamInit({ w: np.array([1, -2]) }), { w: np.array([1, -2]) }, CFG);
    const before = [await first.params.w.ref.data(), (await first.state.m.ref.data()).slice(0, 2), (await first.state.v.ref.data()).slice(0, 2)];
    const out = step({ w: np.array([0.2, bad]) }, first.state, first.params);
    const after = [await out.params.w.ref.data(), (await out.state.m.ref.data()).slice(0, 2), (await out.state.v.ref.data()).slice(0, 2)];
    const count = (await out.state.count.ref.data())[0];
    if (Number.isFinite(bad)) {
      assertClose(after[0], EXPECTED_P[1], { rtol: 2e-6, what: 'finite step p' });
      assertClose(after[1], EXPECTED_M[1], { rtol: 2e-6, what: 'finite step m' });
      assertClose(after[2], EXPECTED_V[1], { rtol: 2e-6, what: 'finite step v' });
      assert.equal(count, 2);
    } else {
      for (let k = 0; k < 3; k++) assert.deepEqual([...after[k]], [...before[k]], `${['p', 'm', 'v'][k]} after a skipped step (${bad})`);
      assert.equal(count, 1, `count after a skipped step (${bad})`);
    }
    tree.dispose(out);
  }
  step.dispose();
});

testOnBackends('adamUpdate lrScale scales the step and is data (no recompile needed)', async () => {
  const step = jit((g: np.Array, s: AdamState<np.Array>, p: np.Array, sc: np.Array) => adamUpdate(g, s, p, CFG, sc));
  // step 1 moves by lr·scale·sign(g): scale 0 keeps p, scale 0.5 moves 0.05
  for (const [sc, want] of [[0, [1, -2]], [0.5, [0.95, -1.95]]] as const) {
    const p = np.array([1, -2]);
    const out = step(np.array([0.5, -1]), adamInit(p.ref), p, np.array(sc));
    assertClose(await out.params.ref.data(), want, { rtol: 1e-6, what: `lrScale ${sc}` });
    tree.dispose(out);
  }
  step.dispose();
});

testOnBackends('Adam minimises a quadratic to its minimum', async () => {
  // f(p) = Σ (p − c)²: the minimum is p = c; Adam with a decaying effective step settles there
  const c = [0.3, -1.2, 2.5];
  const loss = (p: np.Array) => np.square(p.sub(np.array(c))).sum();
  const cfg = { ...CFG, lr: 0.05 };
  const step = jit((p: np.Array, s: AdamState<np.Array>) => {
    const [l, g] = valueAndGrad(loss)(p.ref);
    return { ...adamUpdate(g, s, p, cfg), l };
  });
  let p = np.array([0, 0, 0]);
  let s = adamInit(p.ref);
  let first = NaN, last = NaN;
  for (let i = 0; i < 400; i++) {
    const out = step(p, s);
    p = out.params;
    s = out.state;
    if (i === 0) first = (await out.l.data())[0];
    else if (i === 399) last = (await out.l.data())[0];
    else out.l.dispose();
  }
  assert.ok(last < 1e-3 * first, `loss ${first} → ${last}`);
  assertClose(await p.data(), c, { atol: 2e-2, what: 'argmin' });
  tree.dispose(s);
  step.dispose();
});

test('adamStateToTensors / adamStateFromTensors round-trip with adam.m./adam.v./adam.count names', async () => {
  const params = { 'enc.conv.weight': np.array([[1, 2], [3, 4]]), 'enc.conv.bias': np.array([5, 6]) };
  let state = adamInit(tree.ref(params));
  const out = adamUpdate({ 'enc.conv.weight': np.array([[1, -1], [2, 0.5]]), 'enc.conv.bias': np.array([0.1, -3]) }, state, tree.ref(params), CFG);
  tree.dispose(out.params);
  // the flat moments hold the leaves in tree.flatten order: read the bias's slice through its layout
  const at = flatLayout(params).offsets[tree.leaves(params).indexOf(params['enc.conv.bias'])];
  const mWant = (await out.state.m.ref.data()).slice(at, at + 2);
  const tensors = adamStateToTensors(out.state, params);
  assert.deepEqual(Object.keys(tensors).sort(), ['adam.count', 'adam.m.enc.conv.bias', 'adam.m.enc.conv.weight', 'adam.v.enc.conv.bias', 'adam.v.enc.conv.weight']);
  const back = adamStateFromTensors(tensors, params);
  assert.deepEqual((await back.m.ref.data()).slice(at, at + 2), mWant);
  assert.deepEqual(await tensors['adam.m.enc.conv.bias'].ref.data(), mWant);
  assert.equal((await back.count.ref.data())[0], 1);
  assert.deepEqual(tensors['adam.v.enc.conv.weight'].shape, [2, 2]);
  assert.deepEqual(back.v.shape, [1024], 'flat, padded to a multiple of 1024');
  // missing key and wrong shape are one-line errors naming the tensor
  const { ['adam.v.enc.conv.bias']: dropped, ...missing } = tensors;
  assert.throws(() => adamStateFromTensors(missing, params), /missing tensor 'adam\.v\.enc\.conv\.bias'/);
  const wrong = { ...tensors, 'adam.m.enc.conv.bias': np.zeros([3]) };
  assert.throws(() => adamStateFromTensors(wrong, params), /'adam\.m\.enc\.conv\.bias' has shape \[3\], expected \[2\]/);
  void dropped; // still owned by `tensors`
  tree.dispose([tensors, back, params, wrong['adam.m.enc.conv.bias']]);
});
