// EMA by half-life (EDM training_loop.py) against its defining property and closed forms.
import '../platform/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jit, numpy as np } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { emaBeta, emaUpdate } from './ema.js';

test('emaBeta: closed forms, EDM ramp-up and its guard against zero', () => {
  assert.equal(emaBeta(4, 40), 0.5 ** 0.1);
  // EDM defaults (batch 512, 500 kimg half-life, ramp-up 0.05): at 100k images the half-life is 5000
  assert.equal(emaBeta(512, 500_000, 100_000, 0.05), 0.5 ** (512 / 5000));
  assert.equal(emaBeta(512, 500_000, 100_000_000, 0.05), 0.5 ** (512 / 500_000)); // ramp-up over
  assert.equal(emaBeta(512, 500_000, 0, 0.05), 0); // first step copies the weights
  assert.equal(emaBeta(512, 500_000, 0, null), 0.5 ** (512 / 500_000));
  assert.throws(() => emaBeta(4, 40, undefined, 0.05), /curImages/);
});

testOnBackends('EMA of a constant target from 0 reaches 1/2 after one half-life (jit, β as data)', async () => {
  const batch = 4, halfLife = 40; // 10 steps per half-life
  const update = jit((e: { w: np.Array }, p: { w: np.Array }, b: np.Array) => emaUpdate(e, p, b));
  let ema = { w: np.zeros([3]) };
  const target = [2, -2, 8];
  for (let i = 0; i < 20; i++) {
    ema = update(ema, { w: np.array(target) }, np.array(emaBeta(batch, halfLife)));
    // after n steps: target·(1 − β^n) = target·(1 − 0.5^(n/10))
    if (i === 9) assertClose(await ema.w.ref.data(), target.map((t) => t * 0.5), { rtol: 1e-5, what: 'one half-life' });
    if (i === 19) assertClose(await ema.w.ref.data(), target.map((t) => t * 0.75), { rtol: 1e-5, what: 'two half-lives' });
  }
  // a different β is just data: β = 0 copies the params
  ema = update(ema, { w: np.array([1, 1, 1]) }, np.array(0));
  assertClose(await ema.w.data(), [1, 1, 1]);
  update.dispose();
});
