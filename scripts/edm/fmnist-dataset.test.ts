/**
 * Tests of the EDM dataset writer (fmnist-dataset.ts) and the class-folder reader (eval-class-folders.ts)
 * on a small synthetic dataset: pixels and labels round-trip exactly at zlib levels 0 and 9, in our
 * order, under EDM dataset_tool.py's names; bad options fail with one line. With DI_EDM_DIR (an
 * NVlabs/edm checkout) and a Python with PyTorch (DI_PYTHON, else python3), EDM's own
 * ImageFolderDataset reads the folder back to the same bytes and labels.
 *   node --import tsx --test scripts/edm/fmnist-dataset.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'fast-png';
import type { ImageDataset } from '../../src/data/images.js';
import { edmImageName, writeEdmDataset } from './fmnist-dataset.js';
import { readClassFolders } from './eval-class-folders.js';

function synthetic(n: number, c = 1, h = 28, w = 28): ImageDataset {
  const images = new Uint8Array(n * c * h * w);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37 + (i >> 7)) & 255;
  return { name: 'synthetic', split: 'train', n, channels: c, height: h, width: w, numClasses: 10, classNames: [...'0123456789'], images, labels: Uint8Array.from({ length: n }, (_, i) => (i * 3) % 10) };
}

test('EDM dataset layout: names, labels and pixels round-trip (levels 0 and 9, grey and RGB)', () => {
  assert.equal(edmImageName(0), '00000/img00000000.png');
  assert.equal(edmImageName(1234), '00001/img00001234.png');
  for (const [level, c] of [[0, 1], [9, 1], [6, 3]]) {
    const dir = mkdtempSync(join(tmpdir(), 'edm-ds-'));
    try {
      const ds = synthetic(1003, c, 6, 5);
      assert.equal(writeEdmDataset(ds, dir, { level }), 1003);
      const { labels } = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8')) as { labels: [string, number][] };
      assert.equal(labels.length, 1003);
      const size = c * 6 * 5;
      for (const i of [0, 999, 1000, 1002]) {
        assert.deepEqual(labels[i], [edmImageName(i), ds.labels[i]]);
        const png = decode(readFileSync(join(dir, edmImageName(i))));
        assert.equal(png.width, 5);
        assert.equal(png.height, 6);
        assert.equal(png.channels, c);
        const chw = ds.images.subarray(i * size, (i + 1) * size);
        for (let p = 0; p < 30; p++) for (let k = 0; k < c; k++) assert.equal(png.data[p * c + k], chw[k * 30 + p], `image ${i} pixel ${p} channel ${k}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('EDM dataset writer: --limit keeps the first images; bad options and a non-empty folder fail with one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edm-ds-'));
  try {
    assert.equal(writeEdmDataset(synthetic(50), join(dir, 'a'), { limit: 20 }), 20);
    assert.equal((JSON.parse(readFileSync(join(dir, 'a', 'dataset.json'), 'utf8')) as { labels: unknown[] }).labels.length, 20);
    assert.throws(() => writeEdmDataset(synthetic(5), join(dir, 'a')), /output folder .* is not empty/);
    assert.throws(() => writeEdmDataset(synthetic(5), join(dir, 'b'), { level: 10 }), /--level 10: expected an integer 0\.\.9/);
    assert.throws(() => writeEdmDataset(synthetic(5), join(dir, 'b'), { limit: -1 }), /--limit -1/);
    assert.throws(() => writeEdmDataset(synthetic(5, 2), join(dir, 'b')), /2 channels; EDM's PNG layout takes 1 or 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('class folders: images and the class of each come back in class order; bad layouts fail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edm-cls-'));
  try {
    const ds = synthetic(20);
    writeEdmDataset(ds, join(dir, 'flat'), { limit: 20 });
    // <class>/<name>.png from the flat layout, as sample_classes.py writes them
    for (let i = 0; i < 20; i++) {
      const k = ds.labels[i];
      mkdirSync(join(dir, 'cls', String(k)), { recursive: true });
      writeFileSync(join(dir, 'cls', String(k), `${String(i).padStart(6, '0')}.png`), readFileSync(join(dir, 'flat', edmImageName(i))));
    }
    const r = readClassFolders(join(dir, 'cls'));
    assert.deepEqual(r.perClass, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    const order = Array.from({ length: 20 }, (_, i) => i).sort((a, b) => ds.labels[a] - ds.labels[b] || a - b);
    assert.deepEqual(Array.from(r.labels), order.map((i) => ds.labels[i]));
    const j = order[7];
    assert.equal(r.data[7 * 784 + 100], Math.fround(ds.images[j * 784 + 100] / 127.5 - 1));
    mkdirSync(join(dir, 'cls', 'x'));
    assert.throws(() => readClassFolders(join(dir, 'cls')), /class folders must be named 0, 1, 2/);
    rmSync(join(dir, 'cls', 'x'), { recursive: true });
    rmSync(join(dir, 'cls', '0'), { recursive: true });
    assert.throws(() => readClassFolders(join(dir, 'cls')), /expected class folders 0…K-1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("EDM's ImageFolderDataset reads the folder to the same bytes and labels", (t) => {
  const edm = process.env.DI_EDM_DIR;
  if (!edm) return t.skip('DI_EDM_DIR (an NVlabs/edm checkout) not set');
  const py = process.env.DI_PYTHON ?? 'python3';
  const dir = mkdtempSync(join(tmpdir(), 'edm-ds-'));
  try {
    const ds = synthetic(30);
    writeEdmDataset(ds, dir, { level: 0 });
    const script = [
      'import sys, json, numpy as np',
      `sys.path.insert(0, ${JSON.stringify(edm)})`,
      'from training.dataset import ImageFolderDataset',
      `d = ImageFolderDataset(path=${JSON.stringify(dir)}, use_labels=True)`,
      'x = np.stack([d[i][0] for i in range(len(d))]); y = [int(np.argmax(d[i][1])) for i in range(len(d))]',
      'print(json.dumps({"shape": list(x.shape), "sum": int(x.astype(np.int64).sum()), "first": x[0].reshape(-1)[:8].tolist(), "labels": y, "resolution": d.resolution, "label_dim": d.label_dim}))',
    ].join('\n');
    const r = spawnSync(py, ['-c', script], { encoding: 'utf8' });
    if (r.status !== 0 && /No module named '(torch|numpy|PIL)'/.test(r.stderr)) return t.skip(`${py} lacks PyTorch/numpy/PIL`);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { shape: number[]; sum: number; first: number[]; labels: number[]; resolution: number; label_dim: number };
    assert.deepEqual(out.shape, [30, 1, 28, 28]);
    assert.equal(out.resolution, 28);
    assert.equal(out.label_dim, 10);
    assert.equal(out.sum, ds.images.reduce((s, v) => s + v, 0));
    assert.deepEqual(out.first, Array.from(ds.images.subarray(0, 8)));
    assert.deepEqual(out.labels, Array.from(ds.labels));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
