/**
 * `diff-instruct eval` end to end with the shipped Fashion-MNIST classifier and reference statistics:
 * a (random, tiny) class-conditional one-step generator checkpoint is sampled per seed, scored, and the
 * record is appended to <run>/metric-fd-fmnist-<n>.jsonl; the same images written as PNGs and scored
 * with --images give the same FD (8-bit quantisation makes the two paths identical). Plus the
 * one-line errors of bad invocations.
 */
import '../../platform/node.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { random, tree } from '@jax-js/jax';
import { saveImages } from '../../io/png.js';
import { saveParams } from '../../io/params.js';
import { songUNetConfig } from '../../nets/song-unet.js';
import { parseSeeds } from '../../random/seeds.js';
import { generateImages, loadNetwork } from '../../teacher/generate.js';
import { teacherNet } from '../../teacher/net.js';
import { testOnBackends } from '../../testing/backends.js';
import { EvalSchema, evalCommand } from './eval.js';

testOnBackends('eval --network (conditional one-step generator) and --images agree; --run appends one JSON line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-eval-'));
  try {
    const netConfig = songUNetConfig('tiny', { imgResolution: 28, channels: 1, labelDim: 10 });
    const net = teacherNet({ net: 'song-unet', netConfig });
    const params = net.init(random.key(0));
    const gen = join(dir, 'gen.safetensors');
    await saveParams(gen, params, {
      format: 'diff-instruct/generator@1', kind: 'generator', generator: 'edm-one-step', net: 'song-unet', netConfig,
      precond: 'edm', sigmaData: 0.5, sigmaInit: 2.5, dataset: 'fashion-mnist', labelDim: 10,
    });
    tree.dispose(params);
    const cfg = EvalSchema.parse({ network: gen, seeds: '0-99', run: dir, kidSubsets: 10, batch: 50 });
    const rec = (await evalCommand(cfg)) as Record<string, any>;
    assert.equal(rec.metric, 'FD-FMNIST');
    assert.equal(rec.n, 100);
    assert.equal(rec.kind, 'generator');
    assert.ok(typeof rec.classAcc === 'number' && rec.classAcc >= 0 && rec.classAcc <= 1);
    assert.ok(rec.fd > 0 && Number.isFinite(rec.fd));
    const lines = readFileSync(join(dir, 'metric-fd-fmnist-100.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]).fd, rec.fd);

    // the same images through PNG files: same FD
    const network = await loadNetwork(gen);
    const seeds = parseSeeds('0-99');
    const x = await generateImages(network, seeds, { batchSize: 50 });
    tree.dispose(network.params);
    await saveImages(join(dir, 'png'), x, seeds);
    x.dispose();
    const viaPng = (await evalCommand(EvalSchema.parse({ images: join(dir, 'png'), dataset: 'fashion-mnist', kidSubsets: 10 }))) as Record<string, any>;
    assert.ok(Math.abs(viaPng.fd - rec.fd) <= 1e-9 * rec.fd, `FD via PNG ${viaPng.fd} vs in memory ${rec.fd}`);
    assert.equal(viaPng.classAcc, undefined);

    await assert.rejects(evalCommand(EvalSchema.parse({})), /^Error: give exactly one of --images <png folder> and --network <checkpoint>$/);
    await assert.rejects(evalCommand(EvalSchema.parse({ images: join(dir, 'png') })), /--images needs --dataset/);
    await assert.rejects(evalCommand(EvalSchema.parse({ images: join(dir, 'png'), dataset: 'cifar10' })), /unknown dataset 'cifar10'/);
    await assert.rejects(evalCommand(EvalSchema.parse({ network: gen, run: join(dir, 'nope') })), /run folder '.*nope' does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, { only: ['wasm'] });
