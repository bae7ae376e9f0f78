// Leak test of a complete jitted training step (valueAndGrad + clip + NaN guard + Adam + EMA + key
// threading): 100 steps must leave the live device-buffer count flat on each backend while the loss
// falls; a negative control that keeps one array per step must make the count grow by one per step.
import '../platform/node.js';
import assert from 'node:assert/strict';
import { blockUntilReady, jit, numpy as np, random, tree, valueAndGrad } from '@jax-js/jax';
import { testOnBackends } from '../testing/backends.js';
import { adamInit, adamUpdate, type AdamState } from './adam.js';
import { clipByGlobalNorm } from './clip.js';
import { emaBeta, emaUpdate } from './ema.js';
import { liveBuffers, trackBuffers } from './live-buffers.js';
import { treeAllFinite, treeToHost } from './tree.js';
import { splitKeyList } from '../random/seeds.js';

type Params = Record<'l0.weight' | 'l0.bias' | 'l1.weight' | 'l1.bias', np.Array>;
type State = { params: Params; ema: Params; opt: AdamState<Params>; key: np.Array };
const HIDDEN = 16, BATCH = 32;

function initParams(key: np.Array): Params {
  const [k0, k1] = splitKeyList(key, 2);
  return {
    'l0.weight': random.normal(k0, [HIDDEN, 2]).mul(1 / Math.sqrt(2)),
    'l0.bias': np.zeros([HIDDEN]),
    'l1.weight': random.normal(k1, [1, HIDDEN]).mul(1 / Math.sqrt(HIDDEN)),
    'l1.bias': np.zeros([1]),
  };
}

/** MSE of a 2-16-1 tanh MLP regressing y = sin(2·x0)·x1 on x ~ U[-1, 1]². */
function loss(p: Params, x: np.Array, poison: np.Array): np.Array {
  const y = np.sin(x.ref.slice([], 0).mul(2)).mul(x.ref.slice([], 1));
  const h = np.tanh(np.matmul(x, p['l0.weight'].transpose()).add(p['l0.bias']));
  const out = np.matmul(h, p['l1.weight'].transpose()).add(p['l1.bias']).reshape([-1]);
  return np.square(out.sub(y)).mean().mul(poison);
}

const step = jit((s: State, poison: np.Array, beta: np.Array) => {
  const [kData, kNext] = random.split(s.key, 2);
  const x = random.uniform(kData, [BATCH, 2], { minval: -1, maxval: 1 });
  const [l, g] = valueAndGrad(loss)(tree.ref(s.params), x, poison);
  const { grads, norm } = clipByGlobalNorm(g, 1.0);
  const ok = np.logicalAnd(treeAllFinite(tree.ref(grads)), np.isfinite(l.ref));
  const { params, state: opt } = adamUpdate(grads, s.opt, s.params, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, undefined, ok.ref);
  const ema = emaUpdate(s.ema, tree.ref(params), beta);
  return { state: { params, ema, opt, key: kNext }, loss: l, norm, ok };
});

/** Runs 100 steps; step 50 is poisoned with NaN. `keep` holds one extra array per step (negative control). */
async function train(keep: boolean) {
  const start = liveBuffers();
  const params = initParams(random.key(0));
  let s: State = { opt: adamInit(tree.ref(params)), ema: tree.ref(params), params, key: random.key(1) };
  const losses: number[] = [];
  const counts: Record<number, number> = {};
  const kept: np.Array[] = [];
  let skipped = 0;
  let before: Record<string, Float32Array> | null = null;
  for (let i = 1; i <= 100; i++) {
    const beta = emaBeta(BATCH, 10 * BATCH, i * BATCH, 0.5);
    if (i === 50) before = await treeToHost(s.params);
    const out = step(s, np.array(i === 50 ? NaN : 1), np.array(beta));
    s = out.state;
    if (keep) kept.push(out.norm.ref);
    const [l, , ok] = await Promise.all([out.loss.data(), out.norm.data(), out.ok.data()]);
    losses.push(l[0]);
    if (!ok[0]) skipped++;
    if (i === 50) {
      const after: Record<string, Float32Array> = await treeToHost(s.params);
      for (const k of Object.keys(after)) assert.deepEqual(after[k], before![k], `poisoned step changed ${k}`);
    }
    // With Wasm worker threads a kernel still running holds its inputs until it finishes: wait for the
    // state to be realised so the count sees only what the loop keeps.
    await blockUntilReady(s);
    counts[i] = liveBuffers();
  }
  tree.dispose([s, kept]);
  return { losses, counts, skipped, leftover: liveBuffers() - start };
}

testOnBackends('jitted train step keeps live buffers flat over 100 steps and learns; the guard skips a NaN step', async (b) => {
  await trackBuffers(b);
  const { losses, counts, skipped, leftover } = await train(false);
  // between steps exactly the state is alive: 4 params + 4 EMA + 2 flat moments + count + key = 12 buffers
  assert.equal(counts[10], 12, `live buffers at step 10`);
  assert.equal(counts[100], counts[10], `live buffers grew from ${counts[10]} (step 10) to ${counts[100]} (step 100)`);
  assert.equal(leftover, 0, 'buffers left after disposing the final state');
  assert.equal(skipped, 1);
  assert.ok(Number.isNaN(losses[49]));
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const first = mean(losses.slice(0, 10)), last = mean(losses.slice(90));
  assert.ok(last < 0.5 * first, `loss did not fall: first 10 steps ${first}, last 10 ${last}`);
});

testOnBackends('negative control: keeping one array per step grows live buffers by one per step', async (b) => {
  await trackBuffers(b);
  const { counts, leftover } = await train(true);
  assert.equal(counts[100] - counts[10], 90);
  assert.equal(leftover, 0);
});
