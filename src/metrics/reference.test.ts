/**
 * Reference statistics: compute → save → load round trip (μ, Σ exact in F64; features F16-rounded),
 * and one-line errors for a statistics file from another classifier, another dataset, a truncated
 * file, a non-finite value, and a file that is not reference statistics. Uses a tiny untrained
 * classifier and 300 test images, so it runs in seconds. Also: evaluation leaks no device buffers.
 */
import '../platform/node.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { random, tree } from '@jax-js/jax';
import { saveParams } from '../io/params.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { testOnBackends } from '../testing/backends.js';
import { liveBuffers, trackBuffers } from '../train/live-buffers.js';
import { initClassifier, type ClassifierConfig, type LoadedClassifier } from './classifier.js';
import { loadClassifier } from './classifier-file.js';
import { createImageEvaluator } from './evaluate.js';
import { computeReferenceStats, loadReferenceStats, saveReferenceStats } from './reference.js';
import { loadImageDataset, toFloat } from '../data/images.js';

const CFG: ClassifierConfig = { channels: [4, 8, 8], features: 16, numClasses: 10, resolution: 28, inChannels: 1 };

async function tinyClassifier(path: string, seed: number): Promise<LoadedClassifier> {
  const params = initClassifier(random.key(seed), CFG);
  await saveParams(path, params, { format: 'diff-instruct/classifier@1', kind: 'classifier', netConfig: CFG, dataset: 'fashion-mnist', file: 'tiny.safetensors' });
  tree.dispose(params);
  return loadClassifier(path);
}

testOnBackends('reference statistics: round trip, and one-line errors for other classifier, dataset, corruption, NaN', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-ref-'));
  const clfs: LoadedClassifier[] = [];
  try {
    const clf = await tinyClassifier(join(dir, 'clf-a.safetensors'), 1);
    const other = await tinyClassifier(join(dir, 'clf-b.safetensors'), 2);
    clfs.push(clf, other);
    const stats = await computeReferenceStats(clf, 'fashion-mnist', 'test', { limit: 300, maxFeatures: 200 });
    assert.equal(stats.count, 300);
    assert.equal(stats.nFeatures, 200);
    const path = join(dir, 'ref.safetensors');
    saveReferenceStats(path, stats);
    const back = loadReferenceStats(path, { classifier: clf, dataset: 'fashion-mnist' });
    assert.deepEqual([...back.mu], [...stats.mu]);
    assert.deepEqual([...back.sigma], [...stats.sigma]);
    assert.deepEqual([...back.features], [...stats.features]); // already F16-rounded before saving
    assert.deepEqual([...back.radii], [...stats.radii]);
    assert.equal(back.classifierSha256, clf.sha256);

    const oneLine = (fn: () => unknown, re: RegExp) =>
      assert.throws(fn, (e: Error) => {
        assert.match(e.message, re);
        assert.ok(!e.message.includes('\n'), `multi-line error: ${e.message}`);
        return true;
      });
    oneLine(() => loadReferenceStats(path, { classifier: other }), /were computed with classifier .* but '.*clf-b\.safetensors' has sha256 .*recompute them with diff-instruct eval ref --dataset fashion-mnist$/);
    oneLine(() => loadReferenceStats(path, { dataset: 'mnist' }), /are for dataset 'fashion-mnist', not 'mnist'$/);
    const bytes = readFileSync(path);
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    oneLine(() => loadReferenceStats(cut, { classifier: clf }), /cut\.safetensors/);
    const { tensors, metadata } = readSafetensors(path);
    (tensors.sigma.data as Float64Array)[5] = NaN;
    const nan = join(dir, 'nan.safetensors');
    writeSafetensors(nan, tensors, metadata);
    oneLine(() => loadReferenceStats(nan, { classifier: clf }), /tensor 'sigma' has a non-finite value at index 5$/);
    oneLine(() => loadReferenceStats(clf.path), /is not a reference-statistics file/);
    oneLine(() => loadReferenceStats(join(dir, 'missing.safetensors')), /do not exist \(compute them with: diff-instruct eval ref --dataset <name>\)$/);

    // The evaluator refuses the mismatched pair too, and scores the reference images against themselves
    // with FD 0 (same 8-bit images → same features) and precision = recall = 1.
    await assert.rejects(createImageEvaluator('fashion-mnist', { classifierPath: other.path, referencePath: path }), /were computed with classifier/);
    const full = join(dir, 'ref-all.safetensors');
    saveReferenceStats(full, await computeReferenceStats(clf, 'fashion-mnist', 'test', { limit: 300 }));
    const ev = await createImageEvaluator('fashion-mnist', { classifierPath: clf.path, referencePath: full });
    try {
      const ds = await loadImageDataset('fashion-mnist', 'test');
      const idx = Int32Array.from({ length: 300 }, (_, i) => i);
      const labels = Int32Array.from(idx, (i) => ds.labels[i]);
      const m = await ev.evaluate(toFloat(ds, idx), { labels, kidSubsets: 5 });
      assert.equal(m.metric, 'FD-FMNIST');
      assert.equal(m.n, 300);
      assert.ok(Math.abs(m.fd) < 1e-6 * (1 + Math.abs(stats.sigma.reduce((a, v) => a + v, 0))), `FD of the reference images with themselves: ${m.fd}`);
      assert.ok(m.precision > 0.99 && m.recall > 0.99, `precision ${m.precision}, recall ${m.recall}`);
      assert.ok(m.is >= 1 && m.is <= 10, `IS ${m.is}`);
      assert.ok(m.classAcc !== undefined && m.classAcc >= 0 && m.classAcc <= 1);
      // evaluation frees every device array it makes (the first call above compiled everything)
      await trackBuffers();
      const live = liveBuffers();
      await ev.evaluate(toFloat(ds, idx), { labels, kidSubsets: 5 });
      assert.equal(liveBuffers(), live, 'device buffers leaked by ImageEvaluator.evaluate');
    } finally {
      ev.dispose();
    }
  } finally {
    for (const c of clfs) tree.dispose(c.params);
    rmSync(dir, { recursive: true, force: true });
  }
}, { only: ['wasm'] });
