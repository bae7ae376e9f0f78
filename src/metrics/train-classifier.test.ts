/**
 * Classifier training: augmentation moves pixels exactly as specified, the learning-rate schedule has
 * its closed-form values, and a short seeded run on a Fashion-MNIST subset learns far above chance and
 * writes a self-describing file that `loadClassifier` reads back and `--init` fine-tunes.
 */
import '../platform/node.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tree } from '@jax-js/jax';
import { testOnBackends } from '../testing/backends.js';
import { loadClassifier, fileSha256 } from './classifier-file.js';
import { TrainClassifierSchema, augmentBatch, lrFactor, trainClassifier } from './train-classifier.js';

/** A rand() that replays `values` in order. */
const replay = (values: number[]) => {
  let i = 0;
  return () => values[i++];
};

test('augmentBatch: shift by (dy, dx) with −1 fill; horizontal flip mirrors columns', () => {
  const w = 5;
  const img = new Float32Array(w * w).fill(-1);
  img[1 * w + 1] = 1; // bright pixel at (row 1, col 1)
  // shift 1: dy = ⌊0.9·3⌋ − 1 = 1, dx = ⌊0·3⌋ − 1 = −1, no flip (flip off) → pixel at (2, 0)
  const moved = augmentBatch(img, 1, 1, w, w, 1, false, replay([0.9, 0]));
  const expected = new Float32Array(w * w).fill(-1);
  expected[2 * w + 0] = 1;
  assert.deepEqual([...moved], [...expected]);
  // no shift (dy = dx = 0 from 0.5·1), flip drawn (0.1 < ½) → pixel at (1, 3)
  const flipped = augmentBatch(img, 1, 1, w, w, 0, true, replay([0.5, 0.5, 0.1]));
  const mirror = new Float32Array(w * w).fill(-1);
  mirror[1 * w + 3] = 1;
  assert.deepEqual([...flipped], [...mirror]);
});

test('lrFactor: linear warm-up, cosine ½ at mid-decay, 0 at the end', () => {
  assert.equal(lrFactor(0, 10, 110), 0.1);
  assert.equal(lrFactor(9, 10, 110), 1);
  assert.ok(Math.abs(lrFactor(60, 10, 110) - 0.5) < 1e-12);
  assert.ok(Math.abs(lrFactor(110, 10, 110)) < 1e-12);
});

testOnBackends('trainClassifier: 40 steps on 2,560 Fashion-MNIST images learn far above chance and save a loadable file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-clf-'));
  try {
    const out = join(dir, 'clf.safetensors');
    const cfg = TrainClassifierSchema.parse({
      dataset: 'fashion-mnist', epochs: 1, batch: 64, trainSubset: 2560, testSubset: 500, warmup: 5,
      channels: [8, 16, 16], features: 32, dropout: 0, shift: 0, out, logEvery: 1000, seed: 3,
    });
    const r = await trainClassifier(cfg);
    assert.equal(r.imagesSeen, 2560);
    // 10 classes: chance is 10%; this run reached 57% with dropout and shifts on (measured), more without
    assert.ok(r.testAccuracy > 0.4, `test accuracy ${r.testAccuracy}`);
    const clf = await loadClassifier(out);
    try {
      assert.equal(clf.meta.kind, 'classifier');
      assert.equal(clf.meta.dataset, 'fashion-mnist');
      assert.equal(clf.meta.testAccuracy, r.testAccuracy);
      assert.deepEqual(clf.cfg.channels, [8, 16, 16]);
      assert.equal(clf.sha256, fileSha256(out));
    } finally {
      tree.dispose(clf.params);
    }
    // fine-tuning continues from the file: images seen accumulate and the first stage is kept in history
    const out2 = join(dir, 'clf-ft.safetensors');
    const ft = await trainClassifier({ ...cfg, init: out, epochs: 0.1, trainSubset: 640, testSubset: 100, out: out2 });
    assert.equal(ft.imagesSeen, 2560 + 64);
    const clf2 = await loadClassifier(out2);
    tree.dispose(clf2.params);
    assert.equal(clf2.meta.history.length, 1);
    assert.equal(clf2.meta.history[0].imagesSeen, 2560);
    await assert.rejects(trainClassifier({ ...cfg, init: out, features: 16, out: out2 }), /--init '.*clf\.safetensors' has architecture .* but the config asks for/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, { only: ['wasm'] });

test('loadClassifier: one-line errors for a missing file and for a file that is not a classifier', async () => {
  await assert.rejects(loadClassifier('/nonexistent/clf.safetensors'), /^Error: classifier '\/nonexistent\/clf\.safetensors' does not exist/);
});
