// Param-tree arithmetic against closed forms, on both backends.
import '../platform/node.js';
import assert from 'node:assert/strict';
import { jit, numpy as np, tree } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { add, countParams, flattenNamed, globalNorm, scale, sub, treeAllFinite, treeToHost, zerosLike } from './tree.js';

const mk = () => ({ a: np.array([3, 4]), b: { c: np.array([[12]]), d: [np.array([0, 0, 0])] } });

testOnBackends('tree arithmetic, norms and counts match closed forms', async () => {
  // ‖(3, 4, 12, 0, 0, 0)‖ = sqrt(9 + 16 + 144) = 13
  assertClose(await globalNorm(mk()).data(), [13], { what: 'globalNorm' });
  assertClose(await jit(globalNorm)(mk()).data(), [13], { what: 'jit globalNorm' });
  const t = mk();
  assert.equal(countParams(t), 2 + 1 + 3);
  const host = await treeToHost(t);
  assert.equal(t.a.refCount, 1, 'treeToHost must not consume');
  assert.deepEqual([...host.a], [3, 4]);
  assert.deepEqual([...host.b.d[0]], [0, 0, 0]);
  assert.ok(host.b.c instanceof Float32Array);

  const s = await treeToHost(sub(scale(add(tree.ref(t), tree.ref(t)), np.array(1.5)), t)); // 1.5·2t − t = 2t
  assert.deepEqual([...s.a], [6, 8]);
  assert.deepEqual([...s.b.c], [24]);
  const z = await treeToHost(zerosLike(mk()));
  assert.deepEqual([...z.a, ...z.b.c, ...z.b.d[0]], [0, 0, 0, 0, 0, 0]);
  assert.throws(() => add({ a: np.zeros([1]) } as any, { b: np.zeros([1]) } as any), /structures differ/);
});

testOnBackends('treeAllFinite flags NaN and ±Inf in any leaf, also under jit', async () => {
  const allFinite = jit(treeAllFinite);
  for (const [bad, want] of [[1, true], [NaN, false], [Infinity, false], [-Infinity, false], [3e38, true]] as const) {
    const t = { w: np.array([1, 2, 3]), b: np.array([0, bad]) };
    assert.equal((await treeAllFinite(tree.ref(t)).data())[0], want ? 1 : 0, `eager ${bad}`);
    assert.equal((await allFinite(t).data())[0], want ? 1 : 0, `jit ${bad}`);
  }
  allFinite.dispose();
});

testOnBackends('flattenNamed joins nested keys with dots', async () => {
  const named = flattenNamed(mk(), 'ema');
  assert.deepEqual(Object.keys(named), ['ema.a', 'ema.b.c', 'ema.b.d.0']);
  assertClose(await named['ema.b.c'].ref.data(), [12]);
  tree.dispose(named);
});
