// The NaN/Inf guard keeps the old state exactly when a step is non-finite, inside jit.
import '../platform/node.js';
import assert from 'node:assert/strict';
import { jit, numpy as np } from '@jax-js/jax';
import { testOnBackends } from '../testing/backends.js';
import { guardedUpdate } from './guard.js';
import { treeAllFinite } from './tree.js';

testOnBackends('guardedUpdate selects the old tree when the new one is non-finite (jit)', async () => {
  type T = { w: np.Array; b: np.Array };
  const step = jit((next: T, old: T) => {
    const ok = treeAllFinite({ w: next.w.ref, b: next.b.ref });
    return { out: guardedUpdate(ok.ref, next, old), ok };
  });
  for (const [bad, keep] of [[0.5, false], [NaN, true], [Infinity, true]] as const) {
    const { out, ok } = step({ w: np.array([1, bad]), b: np.array([7]) }, { w: np.array([-1, -2]), b: np.array([-7]) });
    assert.equal((await ok.data())[0], keep ? 0 : 1);
    assert.deepEqual([...(await out.w.data())], keep ? [-1, -2] : [1, bad]);
    assert.deepEqual([...(await out.b.data())], keep ? [-7] : [7]);
  }
  step.dispose();
  assert.throws(() => guardedUpdate(np.array([true, false]), { w: np.zeros([1]) }, { w: np.zeros([1]) }), /scalar/);
});
