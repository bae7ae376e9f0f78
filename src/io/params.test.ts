/** params tests: save/load round trips on every backend, ownership (save does not consume), error messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numpy as np } from '@jax-js/jax';
import { testOnBackends } from '../testing/backends.js';
import { loadParams, readMeta, saveParams, shapesOf } from './params.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'di-params-'));

testOnBackends('params: save/load round trip keeps the caller arrays and restores values exactly', async () => {
  const dir = tmp();
  try {
    const w = np.array(new Float32Array([0.1, -2, 3.5, 1e-8, 65504, -0.25]), { shape: [2, 1, 3] });
    const b = np.array(new Float32Array([7]), { shape: [] });
    const params = { 'enc.conv.weight': w, 'enc.conv.bias': b };
    const meta = { format: 1, kind: 'test', net: { channels: 2 }, step: 12, kimg: 0.5 };
    const path = join(dir, 'ckpt.safetensors');
    await saveParams(path, params, meta);
    // ownership: saveParams reads through .ref, so the caller's arrays are still alive and usable
    assert.equal(w.refCount, 1);
    assert.equal(b.refCount, 1);
    const loaded = await loadParams(path, { expect: shapesOf(params) });
    assert.deepEqual(loaded.meta, meta);
    assert.deepEqual(Object.keys(loaded.params).sort(), ['enc.conv.bias', 'enc.conv.weight']);
    assert.deepEqual(loaded.params['enc.conv.weight'].shape, [2, 1, 3]);
    assert.deepEqual(loaded.params['enc.conv.bias'].shape, []);
    assert.deepEqual([...(await loaded.params['enc.conv.weight'].data())], [...new Float32Array([0.1, -2, 3.5, 1e-8, 65504, -0.25])]);
    assert.deepEqual([...(await loaded.params['enc.conv.bias'].data())], [7]);

    // F16 storage: 0.1 is stored as the nearest half, 0x2E66 = 0.0999755859375; 1e-8 is below half the
    // smallest f16 subnormal (2^-25 ≈ 2.98e-8) → 0; 65504 is the largest half, kept exactly.
    const p16 = join(dir, 'half.safetensors');
    await saveParams(p16, params, meta, { dtype: 'F16' });
    assert.equal(readSafetensors(p16).tensors['enc.conv.weight'].dtype, 'F16');
    const h = await loadParams(p16);
    assert.deepEqual([...(await h.params['enc.conv.weight'].data())], [0.0999755859375, -2, 3.5, 0, 65504, -0.25]);
    h.params['enc.conv.bias'].dispose();

    // the arrays given to saveParams are still readable after two saves
    assert.deepEqual([...(await w.data())].length, 6);
    b.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('params: shape mismatch, missing, unexpected and missing-file errors are one line naming the file', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'net.safetensors');
    writeSafetensors(path, {
      'enc.28x28_conv.weight': { dtype: 'F32', shape: [64, 1, 3, 3], data: new Float32Array(576) },
      'enc.28x28_conv.bias': { dtype: 'F32', shape: [64], data: new Float32Array(64) },
      rng: { dtype: 'U32', shape: [2], data: new Uint32Array([1, 2]) },
    }, { diff_instruct: '{"kind":"teacher"}' });
    const expect = { 'enc.28x28_conv.weight': [32, 1, 3, 3], 'enc.28x28_conv.bias': [64] };
    await assert.rejects(loadParams(path, { expect }), {
      message: `'${path}': tensor 'enc.28x28_conv.weight' has shape [64,1,3,3], expected [32,1,3,3]`,
    });
    await assert.rejects(loadParams(path, { expect: { ...expect, 'enc.28x28_conv.weight': [64, 1, 3, 3], 'map_noise.freqs': [16] } }), {
      message: `'${path}': missing tensor 'map_noise.freqs' (expected shape [16])`,
    });
    const good = { ...expect, 'enc.28x28_conv.weight': [64, 1, 3, 3] };
    await assert.rejects(loadParams(path, { expect: good }), { message: `'${path}': unexpected tensor 'rng' with shape [2] (not in the network)` });
    await assert.rejects(loadParams(path, { expect: { ...good, rng: [2] } }), { message: `'${path}': tensor 'rng' has dtype U32, expected a float dtype (F32, F16, BF16, F64)` });
    const ok = await loadParams(path, { expect: good, allowExtra: true });
    assert.deepEqual(Object.keys(ok.extra), ['rng']);
    assert.deepEqual([...ok.extra.rng.data], [1, 2]);
    assert.deepEqual(ok.meta, { kind: 'teacher' });
    for (const a of Object.values(ok.params)) a.dispose();
    // without expect: float tensors become params, the rest goes to extra
    const all = await loadParams(path);
    assert.deepEqual(Object.keys(all.params).sort(), ['enc.28x28_conv.bias', 'enc.28x28_conv.weight']);
    assert.deepEqual(Object.keys(all.extra), ['rng']);
    for (const a of Object.values(all.params)) a.dispose();

    const missing = join(dir, 'nope.safetensors');
    await assert.rejects(loadParams(missing), { message: `cannot read '${missing}': no such file` });
    assert.throws(() => readMeta(missing), { message: `cannot read '${missing}': no such file` });

    const m = readMeta(path);
    assert.deepEqual(m.meta, { kind: 'teacher' });
    assert.deepEqual(m.tensors['enc.28x28_conv.weight'].shape, [64, 1, 3, 3]);

    const badMeta = join(dir, 'badmeta.safetensors');
    writeSafetensors(badMeta, {}, { diff_instruct: '{not json' });
    assert.throws(() => readMeta(badMeta), { message: `'${badMeta}': __metadata__ 'diff_instruct' is not valid JSON` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
