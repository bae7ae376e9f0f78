/**
 * Our jax-js patch (patches/jax-js.mjs, 'pending-group', applied at install by scripts/patch-jax.mjs)
 * keeps jax-js's semantics: reading one output of a jit call runs the whole program (every other
 * output is then correct), and disposing every output unread cancels it without leaking buffers.
 */
import { jit, numpy as np } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { testOnBackends } from '../testing/backends.js';
import { liveBuffers, trackBuffers } from '../train/live-buffers.js';
import { PATCHES } from '../../patches/jax-js.mjs';

test('the installed jax-js carries every patch of patches/jax-js.mjs', () => {
  const dist = dirname(createRequire(import.meta.url).resolve('@jax-js/jax'));
  for (const file of ['index.js', 'index.cjs']) {
    const src = readFileSync(join(dist, file), 'utf8');
    assert.ok(src.startsWith('/* diff-instruct patches applied */'), `${file}: not patched (run npm install)`);
    for (const p of PATCHES) for (const [, after] of p.replace) assert.ok(src.includes(after), `${file}: patch '${p.name}' missing`);
  }
});

// Three outputs of one program, with an intermediate shared by two of them.
const f = jit((x: np.Array) => {
  const h = np.exp(x.ref).add(1);
  return [h.ref.mul(2), h.sum(), x.sub(3)];
});

testOnBackends('jit outputs: reading one runs the program for all; unread outputs cancel without leaks', async () => {
  await trackBuffers();
  const x = np.array([0, 1, 2]);
  const [a, b, c] = f(x.ref) as np.Array[];
  assert.deepEqual(Array.from(await c.data()), [-3, -2, -1]);
  const e = [0, 1, 2].map((v) => Math.exp(v) + 1);
  const av = Array.from((await a.data()) as Float32Array);
  e.forEach((v, i) => assert.ok(Math.abs(av[i] - 2 * v) < 1e-4, `a[${i}] ${av[i]}`));
  assert.ok(Math.abs((await b.data())[0] - e.reduce((s, v) => s + v)) < 1e-4);
  // a chain of calls whose outputs are all dropped unread: nothing runs, nothing stays allocated
  const before = liveBuffers();
  for (let i = 0; i < 5; i++) {
    const outs = f(x.ref) as np.Array[];
    const [p, q, r] = f(outs[0]) as np.Array[];
    for (const o of [outs[1], outs[2], p, q, r]) o.dispose();
  }
  assert.equal(liveBuffers(), before);
  x.dispose();
});
