/**
 * Params kept flat in the training state (./flat-params.ts) against params kept as a tree: a teacher step
 * on a tiny SongUNet gives bit-identical losses, params, EMA and Adam moments after several steps (the same
 * arithmetic per element, only the kernels' grouping changes), on every backend; on WebGPU the flat step
 * runs far fewer kernels (Adam and the EMA one kernel each, not one per leaf), counted by the executor.
 * The Diff-Instruct and GAN steps' checks are in flat-params.slow.test.ts (they compile four more steps).
 */
import '../platform/node.js';
import { numpy as np, tree } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testOnBackends } from '../testing/backends.js';
import { hex, tinyTeacher, tinyTeacherSteps } from '../testing/tiny-nets.js';
import type { Params } from '../nets/layers.js';
import { makeTeacherStep } from '../teacher/trainer.js';
import { adamInit } from './adam.js';
import { flatParams, isFlat, paramTree, treeLayout, type Stored } from './flat-params.js';
import { concatLeaves, leafNames } from './tree.js';

/** `steps` teacher steps of a tiny conditional SongUNet, params held flat or as a tree; losses, final state as hex, kernels per step. */
async function teacherRun(flat: boolean, steps: number) {
  const { D, params } = tinyTeacher();
  const layout = treeLayout(params);
  const step = makeTeacherStep<Stored<Params>>(D, { adam: { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, pMean: -1.2, pStd: 1.2, sigmaData: 0.5, layout: flat ? layout : undefined });
  const p0: Stored<Params> = flat ? flatParams(params) : params;
  const { state: s, losses, kernels } = await tinyTeacherSteps(step, { params: tree.ref(p0), ema: p0, opt: adamInit(tree.ref(p0)) }, steps, { seed: 7, emaBeta: 0.8 });
  step.dispose();
  assert.equal(isFlat(s.params), flat);
  // compare as trees (the flat padding is zero and stays zero: checked below)
  const asTree = (p: Stored<Params>) => paramTree<Params>(p, layout);
  const out = { params: asTree(tree.ref(s.params)), ema: asTree(tree.ref(s.ema)), m: s.opt.m.ref, v: s.opt.v.ref };
  const names = leafNames(out.params);
  const result = {
    losses,
    kernels,
    params: await Promise.all(names.map((k) => hex(out.params[k].ref))),
    ema: await Promise.all(names.map((k) => hex(out.ema[k].ref))),
    m: await hex(out.m.ref),
    v: await hex(out.v.ref),
    pad: flat ? Array.from(((await (s.params as np.Array).ref.slice([layout.offsets.at(-1)! + layout.sizes.at(-1)!]).data()) as Float32Array)) : [],
    leaves: names.length,
  };
  tree.dispose([out, s]);
  return result;
}

testOnBackends('a teacher step with params and EMA held flat is bit-identical to one with trees', async (backend) => {
  const ref = await teacherRun(false, 4);
  const got = await teacherRun(true, 4);
  assert.ok(ref.losses.every(Number.isFinite));
  assert.deepEqual(got.losses, ref.losses);
  assert.deepEqual(got.params, ref.params, 'params after 4 steps');
  assert.deepEqual(got.ema, ref.ema, 'EMA after 4 steps');
  assert.equal(got.m, ref.m, 'Adam m');
  assert.equal(got.v, ref.v, 'Adam v');
  assert.ok(got.pad.length > 0 && got.pad.every((v) => v === 0), 'the flat padding stays zero');
  if (backend === 'webgpu') {
    // Adam's per-leaf kernels and the EMA's become one each: at least one kernel per leaf fewer, net of
    // the copies routines (convs) make of their weights' views. Measured on llvmpipe (2026-12-07): tree
    // 1,109 → flat 875 with our conv kernels off (llvmpipe's default), 1,116 → 883 with them on (a GPU's).
    assert.ok(ref.kernels > 0, 'the executor counted the steps');
    assert.ok(got.kernels <= ref.kernels - ref.leaves, `flat step ${got.kernels} kernels, tree step ${ref.kernels}, ${ref.leaves} leaves`);
    assert.ok(got.kernels <= 890, `flat teacher step: ${got.kernels} kernels, bound 890`);
    console.log(`teacher step kernels (tiny SongUNet, batch 3): tree ${ref.kernels}, flat ${got.kernels}`);
  }
});

test('paramTree: a flat vector needs its layout (one-line error); a tree passes through', () => {
  const t = { a: np.ones([2, 3]), b: np.zeros([4]) };
  const layout = treeLayout(t);
  const flat = concatLeaves(tree.ref(t));
  assert.throws(() => paramTree(flat.ref, undefined), /held flat, but the step was built without its tree layout/);
  const back = paramTree<typeof t>(flat, layout);
  assert.deepEqual(back.a.shape, [2, 3]);
  assert.deepEqual(back.b.shape, [4]);
  assert.equal(paramTree(t, undefined), t);
  tree.dispose([back, t]);
});
