/**
 * Tests for the MNIST loader (mnist.ts): the official split's known label counts, first labels and
 * pixel mean, and IDX parsing with one-line errors for a wrong magic, a truncated file, and image and
 * label files that disagree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, buildMnist, parseIdx } from './mnist.js';
import { loadImageDataset } from './images.js';

/** An IDX u8 file: big-endian magic and dims, then the bytes. */
function idx(magic: number, dims: number[], data: number[]): Uint8Array {
  const b = Buffer.alloc(4 + 4 * dims.length + data.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  Buffer.from(data).copy(b, 4 + 4 * dims.length);
  return new Uint8Array(b);
}

const oneLine = (re: RegExp) => (e: Error) => re.test(e.message) && !e.message.includes('\n');

test('official MNIST: 60,000 / 10,000 with the known label counts, first labels and pixel mean', async () => {
  const train = await loadImageDataset('mnist', 'train');
  const testSet = await loadImageDataset('mnist', 'test');
  assert.deepEqual([train.n, train.channels, train.height, train.width, train.numClasses], [60000, 1, 28, 28, 10]);
  assert.equal(testSet.n, 10000);
  const counts = (l: Uint8Array) => l.reduce((c, v) => (c[v]++, c), new Array(10).fill(0));
  // label histograms of the official files (LeCun et al.), as listed in many references
  assert.deepEqual(counts(train.labels), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  assert.deepEqual(counts(testSet.labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  assert.deepEqual([...train.labels.subarray(0, 5)], [5, 0, 4, 1, 9]);
  assert.deepEqual([...testSet.labels.subarray(0, 5)], [7, 2, 1, 0, 4]);
  // torchvision's MNIST normalisation constant: training-set pixel mean 0.1307
  let sum = 0;
  for (let i = 0; i < train.images.length; i++) sum += train.images[i];
  assert.ok(Math.abs(sum / train.images.length / 255 - 0.1307) < 1e-4);
});

test('parseIdx reads magic and big-endian dims, and rejects bad files in one line', () => {
  const img = parseIdx(idx(IDX_IMAGES_MAGIC, [2, 2, 3], [...Array(12).keys()]), 'imgs', 'images');
  assert.deepEqual(img.dims, [2, 2, 3]);
  assert.deepEqual([...img.data], [...Array(12).keys()]);
  assert.deepEqual(parseIdx(idx(IDX_LABELS_MAGIC, [3], [1, 2, 3]), 'labs', 'labels').dims, [3]);
  assert.throws(() => parseIdx(idx(IDX_LABELS_MAGIC, [3], [1, 2, 3]), 'x/train-images', 'images'), oneLine(/^x\/train-images: bad IDX magic 0x00000801, expected 0x00000803 for u8 images$/));
  assert.throws(() => parseIdx(idx(0x00000d03, [1, 1, 1], [0]), 'f', 'images'), oneLine(/bad IDX magic 0x00000d03/));
  assert.throws(() => parseIdx(idx(IDX_IMAGES_MAGIC, [2, 2, 3], [...Array(11).keys()]), 'f', 'images'), oneLine(/^f: 27 bytes, expected 28 for images of shape \[2, 2, 3\]$/));
  assert.throws(() => parseIdx(new Uint8Array([0, 0, 8]), 'f', 'labels'), oneLine(/too short/));
});

test('buildMnist reads a package folder and checks that images and labels agree', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'di-mnist-'));
  try {
    await mkdir(join(dir, 'data'));
    const put = (name: string, b: Uint8Array) => writeFile(join(dir, 'data', name), b);
    await put('train-images-idx3-ubyte', idx(IDX_IMAGES_MAGIC, [2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]));
    await put('train-labels-idx1-ubyte', idx(IDX_LABELS_MAGIC, [2], [3, 9]));
    await put('t10k-images-idx3-ubyte', idx(IDX_IMAGES_MAGIC, [1, 2, 2], [9, 9, 9, 9]));
    await put('t10k-labels-idx1-ubyte', idx(IDX_LABELS_MAGIC, [1], [0]));
    const { train, test: t } = await buildMnist(dir);
    assert.deepEqual([train.n, train.height, train.width, [...train.labels], [...train.images]], [2, 2, 2, [3, 9], [1, 2, 3, 4, 5, 6, 7, 8]]);
    assert.deepEqual([t.n, [...t.labels]], [1, [0]]);
    await put('t10k-labels-idx1-ubyte', idx(IDX_LABELS_MAGIC, [2], [0, 1]));
    await assert.rejects(buildMnist(dir), oneLine(/t10k-labels-idx1-ubyte has 2 labels but t10k-images-idx3-ubyte has 1 images/));
    await put('t10k-labels-idx1-ubyte', idx(IDX_LABELS_MAGIC, [1], [12]));
    await assert.rejects(buildMnist(dir), oneLine(/label 12 at index 0 is not a digit/));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
