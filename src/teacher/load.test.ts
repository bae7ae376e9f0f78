/**
 * Loading denoiser checkpoints: one-line errors for a missing file, an unknown shipped name, a file
 * without metadata, the wrong kind, and tensors that do not match the config in the metadata; a good
 * file round-trips into the same denoiser. Also `generateImages` for both kinds: a teacher through
 * the sampler and a one-step generator = D(σ_init·z; σ_init), per-seed deterministic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numpy as np, random, tree } from '@jax-js/jax';
import { saveParams } from '../io/params.js';
import { initMlp, type MlpConfig } from '../nets/mlp.js';
import { normalForSeeds } from '../random/seeds.js';
import { assertClose } from '../testing/backends.js';
import { loadDenoiser, resolveNetworkPath } from './load.js';
import { classesForSeeds, generateImages, loadNetwork } from './generate.js';
import { teacherDenoiser, teacherNet } from './net.js';

const mlpCfg: MlpConfig = { dim: 2, hidden: 16, layers: 2, embChannels: 8, labelDim: 3 };
const meta = (o: object = {}) => ({ format: 'diff-instruct/teacher@1', kind: 'teacher', net: 'mlp', netConfig: mlpCfg, precond: 'edm', sigmaData: 1, ...o });

test('loadDenoiser: one-line errors for missing, unnamed, metadata-less, wrong-kind and mis-shaped files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-load-'));
  try {
    const params = initMlp(random.key(0), mlpCfg);
    const good = join(dir, 'good.safetensors');
    await saveParams(good, params, meta());
    await saveParams(join(dir, 'state.safetensors'), params, meta({ kind: 'teacher-state' }));
    await saveParams(join(dir, 'wide.safetensors'), params, meta({ netConfig: { ...mlpCfg, hidden: 32 } }));
    await saveParams(join(dir, 'badnet.safetensors'), params, meta({ net: 'resnet' }));
    const { writeSafetensors } = await import('../io/safetensors.js');
    writeSafetensors(join(dir, 'bare.safetensors'), { w: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } }, {});

    const err = async (p: string, re: RegExp) => {
      await assert.rejects(loadDenoiser(p), (e: Error) => {
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      });
    };
    await err(join(dir, 'nope.safetensors'), /network file '.*nope\.safetensors' not found/);
    await err('no-such-teacher', /network 'no-such-teacher' not found: no such file and no shipped model models\/no-such-teacher\.safetensors/);
    await err(join(dir, 'bare.safetensors'), /has no diff_instruct metadata .*convert-edm-checkpoint/);
    await err(join(dir, 'state.safetensors'), /holds a teacher-state checkpoint, expected teacher/);
    await err(join(dir, 'wide.safetensors'), /'.*wide\.safetensors': tensor 'map_layer0\.weight' has shape \[16,8\], expected \[32,8\]/);
    await err(join(dir, 'badnet.safetensors'), /metadata 'net' is "resnet"/);
    assert.throws(() => resolveNetworkPath(dir), /is a folder/);

    // A good file loads into the same denoiser as the params it was saved from.
    const d = await loadDenoiser(good);
    const ref = teacherDenoiser(teacherNet({ net: 'mlp', netConfig: mlpCfg }), 'edm', 1);
    const x = random.normal(random.key(1), [4, 2]);
    const s = np.array([0.1, 0.5, 2, 10]);
    const l = np.eye(3).slice([0, 3]).reshape([3, 3]);
    const labels = np.concatenate([l, np.array([[0, 0, 1]])], 0);
    const a = (await d.denoiser(d.params, x.ref, s.ref, labels.ref).data()) as Float32Array;
    const b = (await ref(params, x, s, labels).data()) as Float32Array;
    assert.deepEqual(a, b);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generateImages: one-step generator = D(σ_init·z; σ_init) per seed; teacher labels per seed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-gen-'));
  try {
    const params = initMlp(random.key(2), mlpCfg);
    params['out.weight'] = params['out.weight'].mul(1e5); // make F visible in D
    const genPath = join(dir, 'gen.safetensors');
    await saveParams(genPath, params, meta({ kind: 'generator', generator: 'edm-one-step', sigmaInit: 2.5 }));
    const teacherPath = join(dir, 'teacher.safetensors');
    await saveParams(teacherPath, params, meta());

    const gen = await loadNetwork(genPath);
    assert.equal(gen.kind, 'generator');
    const seeds = [5, 6, 7];
    const out = (await (await generateImages(gen, seeds, { classes: 1, batchSize: 2 })).data()) as Float32Array;
    const z = normalForSeeds(seeds, [2]).mul(2.5);
    const D = teacherDenoiser(teacherNet({ net: 'mlp', netConfig: mlpCfg }), 'edm', 1);
    const expect = (await D(tree.ref(params), z, np.full([3], 2.5), np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]])).data()) as Float32Array;
    assertClose(out, expect, { rtol: 1e-5, atol: 1e-6, what: 'one-step generator' });
    tree.dispose(gen.params);

    // Teacher: labels drawn per seed (label stream), so seed 6's image is the same alone or in a batch.
    const teacher = await loadNetwork(teacherPath);
    const all = (await (await generateImages(teacher, [5, 6, 7], { steps: 3, batchSize: 3 })).data()) as Float32Array;
    const alone = (await (await generateImages(teacher, [6], { steps: 3 })).data()) as Float32Array;
    assertClose(alone, all.slice(2, 4), { rtol: 1e-6, atol: 1e-7, what: 'seed 6' });
    const cls = await classesForSeeds([5, 6, 7], 3);
    assert.ok(cls.every((c) => c >= 0 && c < 3));
    await assert.rejects(generateImages(teacher, [1], { classes: 3 }), /class 3 is out of range: the network has 3 classes/);
    tree.dispose(teacher.params);
    tree.dispose(params);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadNetwork: a 2-D MLP generator snapshot (toy distillation) is a one-line error naming what it is', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-load-mlpgen-'));
  try {
    const { toyModels } = await import('../distill/toy-models.js');
    const m = toyModels({ teacher: 'toy:ring8', mlpWidth: 8, mlpDepth: 1, sigmaData: 1, seed: 0 });
    const path = join(dir, 'generator-snapshot-000640.safetensors');
    await saveParams(path, m.theta0, { ...m.generatorMeta, kimg: 640 });
    tree.dispose(m.theta0);
    tree.dispose(m.phi0);
    await assert.rejects(loadNetwork(path), (e: Error) => {
      assert.match(e.message, /^'.*generator-snapshot-000640\.safetensors' is a 2-D MLP generator \(teacher toy:ring8\), not an image network/);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
