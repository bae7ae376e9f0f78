/**
 * How jax-js splits a jit program into kernels on WebGPU, as our patches change it (patches/jax-js.mjs):
 * 'view-reads' (views of buffers read in place) and 'recompute' (cheap elementwise values read by
 * several kernels inlined into each). Both must keep a training step's numbers and only remove kernels:
 * a tiny SongUNet teacher trained a few steps with each switched off, against both on.
 */
import '../platform/node.js';
import { tree } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { testOnBackends } from '../testing/backends.js';
import { tinyTeacher, tinyTeacherSteps } from '../testing/tiny-nets.js';
import { adamInit } from '../train/adam.js';
import { makeTeacherStep } from '../teacher/trainer.js';

/** Runs a fresh tiny teacher for `steps` steps with `env` set while it compiles and runs. */
async function run(env: Record<string, string>, steps = 2) {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const { D, params } = tinyTeacher();
    const step = makeTeacherStep(D, { adam: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, pMean: -1.2, pStd: 1.2, sigmaData: 0.5 });
    const { state: s, losses, kernels } = await tinyTeacherSteps(step, { params: tree.ref(params), ema: params, opt: adamInit(tree.ref(params)) }, steps, { seed: 99, emaBeta: 0.9 });
    const names = Object.keys(s.params).sort();
    const values = await Promise.all(names.map(async (k) => Array.from((await s.params[k].ref.data()) as Float32Array)));
    tree.dispose(s);
    step.dispose();
    return { losses, values: values.flat(), kernels };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const maxRel = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / Math.abs(b[i])), 0);

testOnBackends(
  "'view-reads' and 'recompute' remove kernels and keep a teacher step's numbers",
  async () => {
    const both = await run({});
    const noRecompute = await run({ DI_RECOMPUTE: '0' });
    const stock = await run({ DI_RECOMPUTE: '0', DI_VIEW_READS: '0' });
    assert.ok(both.kernels > 0, 'the executor ran the steps');
    assert.ok(noRecompute.kernels < stock.kernels, `view-reads: ${noRecompute.kernels} kernels a step, stock ${stock.kernels}`);
    assert.ok(both.kernels < noRecompute.kernels, `recompute: ${both.kernels} kernels a step, without ${noRecompute.kernels}`);
    // the same expressions in other kernels: equal up to how a compiler contracts them (recompute: measured
    // bit-identical on llvmpipe) or orders a reduction (view-reads: a sum read through a view may be tuned
    // otherwise; measured 4e-6 on the parameters after 3 steps at lr 1e-3)
    const maxAbs = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    assert.ok(maxRel(both.losses, noRecompute.losses) < 1e-6 && maxAbs(both.values, noRecompute.values) < 1e-6, 'recompute changed the numbers');
    assert.ok(maxRel(both.losses, stock.losses) < 1e-5, `losses ${both.losses} vs stock ${stock.losses}`);
    assert.ok(maxAbs(both.values, stock.values) < 2e-5, `parameters after 2 steps differ from stock by ${maxAbs(both.values, stock.values)}`);
  },
  { only: ['webgpu'] },
);
