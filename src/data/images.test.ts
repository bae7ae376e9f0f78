/**
 * Tests for images.ts: the [-1, 1] pixel mapping and NCHW layout, one-hot batches on both backends,
 * and the seeded, resumable `Batcher` (each epoch a permutation; resuming from `state()` replays
 * exactly; positions uniform across seeds).
 */
import '../platform/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testOnBackends, assertClose } from '../testing/backends.js';
import { Batcher, batch, loadImageDataset, toFloat, type ImageDataset } from './images.js';

/** 3 images of 2×2×3 (c, h, w) whose byte at (i, c, y, x) is 40i + 12c + 3y + x, plus 3 classes. */
function synthetic(): ImageDataset {
  const n = 3, c = 2, h = 2, w = 3;
  const images = new Uint8Array(n * c * h * w);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) images[((i * c + ch) * h + y) * w + x] = 40 * i + 12 * ch + 3 * y + x;
  images[images.length - 1] = 255;
  return { name: 'synthetic', split: 'train', n, channels: c, height: h, width: w, numClasses: 3, classNames: ['a', 'b', 'c'], images, labels: new Uint8Array([2, 0, 1]) };
}

test('toFloat maps bytes to x/127.5 − 1 in NCHW order of the requested indices', () => {
  const ds = synthetic();
  const f = toFloat(ds, [2, 0]);
  assert.equal(f.length, 2 * 12);
  // image 2 first: byte (2, c, y, x) = 80 + 12c + 3y + x, except the last byte, set to 255
  const expected = [...Array.from({ length: 11 }, (_, p) => 80 + 12 * Math.floor(p / 6) + 3 * Math.floor((p % 6) / 3) + (p % 3)), 255, ...Array.from({ length: 12 }, (_, p) => 12 * Math.floor(p / 6) + 3 * Math.floor((p % 6) / 3) + (p % 3))];
  assertClose(f, expected.map((b) => b / 127.5 - 1), { atol: 1e-7 });
  assert.equal(f[11], 1); // 255 → 1
  assert.equal(f[12], -1); // 0 → −1
  assert.throws(() => toFloat(ds, [3]), /dataset synthetic-train: index 3 is out of range \[0, 3\)/);
});

testOnBackends('batch gives x [B, c, h, w] and one-hot labels that match the labels', async () => {
  const ds = synthetic();
  const b = batch(ds, [1, 2, 0, 2]);
  assert.deepEqual(b.x.shape, [4, 2, 2, 3]);
  assert.deepEqual(b.labels.shape, [4, 3]);
  assert.deepEqual([...b.y], [0, 1, 2, 1]);
  assert.deepEqual(await b.labels.jsAsync(), [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [0, 1, 0],
  ]);
  assertClose(await b.x.data(), toFloat(ds, [1, 2, 0, 2]), { atol: 0 });
});

test('Batcher: every epoch is a permutation; batches run across epoch ends', () => {
  const n = 10;
  const b = new Batcher(n, 3);
  const seen: number[] = [];
  for (let i = 0; i < 10; i++) seen.push(...b.next(3)); // 30 indices = exactly 3 epochs
  assert.equal(b.epoch, 3);
  assert.deepEqual(b.state(), { n, seed: 3, epoch: 3, pos: 0 });
  const epochs = [seen.slice(0, 10), seen.slice(10, 20), seen.slice(20, 30)];
  for (const e of epochs) assert.deepEqual([...e].sort((x, y) => x - y), [...Array(n).keys()]);
  assert.notDeepEqual(epochs[0], epochs[1], 'epochs should be reshuffled');
  assert.deepEqual([...new Batcher(n, 3).next(30)], seen, 'same seed, same sequence whatever the batch size');
  assert.notDeepEqual([...new Batcher(n, 4).next(30)], seen, 'different seed, different sequence');
});

test('Batcher resumes exactly from a JSON round trip of its state', () => {
  const a = new Batcher(1000, 12345);
  for (let i = 0; i < 7; i++) a.next(64); // stops mid-epoch (448 of 1000)
  const saved = JSON.stringify(a.state());
  assert.deepEqual(JSON.parse(saved), { n: 1000, seed: 12345, epoch: 0, pos: 448 });
  const rest = Array.from({ length: 40 }, () => [...a.next(64)]).flat(); // crosses two epoch ends
  const b = Batcher.fromState(JSON.parse(saved), 1000);
  const replay = Array.from({ length: 40 }, () => [...b.next(64)]).flat();
  assert.deepEqual(replay, rest);
  assert.deepEqual(b.state(), a.state());
});

test('Batcher positions are uniform across seeds', () => {
  // first index of epoch 0 for 4000 seeds: each of 10 values expected 400 times (sd ≈ 19)
  const counts = new Array(10).fill(0);
  for (let s = 0; s < 4000; s++) counts[new Batcher(10, s).next(1)[0]]++;
  for (const c of counts) assert.ok(Math.abs(c - 400) < 100, `counts ${counts}`);
});

test('Batcher and loader errors are one line', async () => {
  assert.throws(() => Batcher.fromState({ n: 10, seed: 1, epoch: 0, pos: 10 }), /Batcher state: pos 10 is out of range for n=10/);
  assert.throws(() => Batcher.fromState({ n: 10, seed: 1, epoch: 0, pos: 0 }, 11), /saved for a dataset of 10 items, but this one has 11/);
  assert.throws(() => Batcher.fromState({ n: 10, seed: -1, epoch: 0, pos: 0 }), /'seed' must be a non-negative integer, got -1/);
  assert.throws(() => new Batcher(10, 1.5), /Batcher seed must be a non-negative integer/);
  assert.throws(() => new Batcher(10, 0).next(0), /batch size must be a positive integer/);
  await assert.rejects(loadImageDataset('cifar10', 'train'), /unknown dataset 'cifar10': expected one of fashion-mnist, mnist/);
  await assert.rejects(loadImageDataset('mnist', 'val' as 'train'), /unknown split 'val'/);
});
