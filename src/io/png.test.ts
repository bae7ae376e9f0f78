/** PNG tests: grid geometry and pixel mapping, decode round trips, per-seed files, folder reading errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from 'fast-png';
import { numpy as np } from '@jax-js/jax';
import { testOnBackends } from '../testing/backends.js';
import { encodeGridPng, imagesToGrid, readPng, readPngFolder, saveImageGrid, saveImages, seedFileName } from './png.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'di-png-'));

test('png: grid geometry, padding and the EDM pixel mapping', () => {
  // 5 grey images of 2x3 (h x w), image i filled with value v_i; 3 columns, 1 px padding
  // → rows = ceil(5/3) = 2, width = 3·3 + 2·1 = 11, height = 2·2 + 1·1 = 5.
  const vals = [-1, 0, 1, 0.5, -2];
  // EDM: u8 = clip(floor(x·127.5 + 128), 0, 255): -1 → floor(0.5) = 0, 0 → 128, 1 → floor(255.5) → 255,
  // 0.5 → floor(191.75) = 191, -2 → clip(-127) = 0
  const u8 = [0, 128, 255, 191, 0];
  const imgs = new Float32Array(5 * 6);
  vals.forEach((v, i) => imgs.fill(v, i * 6, (i + 1) * 6));
  const g = imagesToGrid(imgs, 5, 1, 2, 3, { cols: 3, pad: 1, padValue: -1 });
  assert.deepEqual([g.width, g.height, g.channels], [11, 5, 1]);
  const px = (x: number, y: number) => g.data[y * g.width + x];
  for (let i = 0; i < 5; i++) {
    const x0 = (i % 3) * 4, y0 = Math.floor(i / 3) * 3;
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) assert.equal(px(x0 + x, y0 + y), u8[i], `image ${i} pixel (${x},${y})`);
  }
  assert.equal(px(3, 0), 0, 'padding column takes padValue -1 → 0');
  assert.equal(px(0, 2), 0, 'padding row');
  assert.equal(px(8, 3), 0, 'unused sixth cell');
  // default: squarest grid (ceil(sqrt(5)) = 3 columns), no padding → 9 x 4
  const d = imagesToGrid(imgs, 5, 1, 2, 3);
  assert.deepEqual([d.width, d.height], [9, 4]);

  // RGB: planes are interleaved per pixel. One 1x2 image, R = [-1, 1], G = [0, 0], B = [1, -1].
  const rgb = imagesToGrid(new Float32Array([-1, 1, 0, 0, 1, -1]), 1, 3, 1, 2);
  assert.deepEqual([...rgb.data], [0, 128, 255, 255, 128, 0]);

  assert.throws(() => imagesToGrid(new Float32Array(8), 2, 2, 1, 2), { message: 'imagesToGrid: images have 2 channels; PNG output needs 1 (grey) or 3 (RGB)' });
  assert.throws(() => imagesToGrid(new Float32Array(5), 1, 1, 2, 3), /data has 5 values, expected n·c·h·w = 1·1·2·3 = 6/);
});

test('png: encoded grid decodes back to the same pixels; readPng maps u8 back to [-1, 1]', () => {
  const dir = tmp();
  try {
    const n = 4, c = 3, h = 5, w = 7;
    const x = Float32Array.from({ length: n * c * h * w }, (_, i) => Math.sin(i * 0.37));
    const grid = imagesToGrid(x, n, c, h, w, { cols: 2, pad: 2 });
    const { png, width, height } = encodeGridPng({ data: x, n, c, h, w }, { cols: 2, pad: 2 });
    assert.deepEqual([width, height], [2 * 7 + 2, 2 * 5 + 2]);
    const dec = decode(png);
    assert.deepEqual([dec.width, dec.height, dec.channels, dec.depth], [16, 12, 3, 8]);
    assert.deepEqual([...dec.data], [...grid.data]);

    const p = join(dir, 'grid.png');
    writeFileSync(p, png);
    const back = readPng(p);
    assert.deepEqual([back.c, back.h, back.w], [3, 12, 16]);
    // pixel (0,0) of channel 1 is image 0, channel 1, (0,0): x[35]; u8 / 127.5 - 1 of its EDM quantisation
    const q = Math.floor(x[35] * 127.5 + 128);
    assert.equal(back.data[1 * 12 * 16], Math.fround(q / 127.5 - 1));

    // grey + alpha: alpha is dropped
    const ga = join(dir, 'ga.png');
    writeFileSync(ga, encode({ width: 2, height: 1, channels: 2, depth: 8, data: new Uint8Array([0, 255, 255, 0]) }));
    assert.deepEqual([...readPng(ga).data], [-1, 1]);
    assert.throws(() => readPng(join(dir, 'none.png')), { message: `cannot read '${join(dir, 'none.png')}': no such file` });
    const junk = join(dir, 'junk.png');
    writeFileSync(junk, 'not a png');
    assert.throws(() => readPng(junk), (e: Error) => e.message.startsWith(`'${junk}': not a readable PNG`) && !e.message.includes('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

testOnBackends(
  'png: saveImages names files by seed (EDM 6 digits), keeps the array, folder reads back',
  async () => {
    const dir = tmp();
    try {
      assert.equal(seedFileName(12), '000012.png');
      assert.equal(seedFileName(123456), '123456.png');
      // values on the u8 grid (k/127.5 - 1) come back exactly
      const vals = Float32Array.from({ length: 3 * 1 * 2 * 2 }, (_, i) => Math.fround((i * 20) / 127.5 - 1));
      const x = np.array(vals, { shape: [3, 1, 2, 2] });
      const paths = await saveImages(dir, x, [12, 0, 7]);
      assert.equal(x.refCount, 1, 'saveImages does not consume the array');
      assert.deepEqual(paths.map((p) => p.slice(dir.length + 1)), ['000012.png', '000000.png', '000007.png']);
      await saveImageGrid(join(dir, 'sub', 'grid.png'), x, { cols: 3 });
      assert.equal(x.refCount, 1, 'saveImageGrid does not consume the array');
      assert.deepEqual(readdirSync(join(dir, 'sub')), ['grid.png']);
      x.dispose();

      const f = readPngFolder(dir);
      assert.deepEqual(f.files, ['000000.png', '000007.png', '000012.png']);
      assert.deepEqual([f.n, f.c, f.h, f.w], [3, 1, 2, 2]);
      // sorted by name: seed 0 (image 1), seed 7 (image 2), seed 12 (image 0)
      const expected = [...vals.slice(4, 8), ...vals.slice(8, 12), ...vals.slice(0, 4)];
      assert.deepEqual([...f.data].map((v) => Math.round((v + 1) * 127.5)), expected.map((v) => Math.round((v + 1) * 127.5)));
      f.data.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `pixel ${i}`));

      writeFileSync(join(dir, 'z.png'), encode({ width: 3, height: 2, channels: 1, depth: 8, data: new Uint8Array(6) }));
      assert.throws(() => readPngFolder(dir), { message: `'${dir}': 'z.png' is 3x2 with 1 channel(s) but '000000.png' is 2x2 with 1` });
      const empty = join(dir, 'sub2');
      writeFileSync(join(dir, 'sub', 'notes.txt'), 'x');
      rmSync(join(dir, 'sub', 'grid.png'));
      assert.throws(() => readPngFolder(join(dir, 'sub')), { message: `'${join(dir, 'sub')}': no .png files` });
      assert.throws(() => readPngFolder(empty), { message: `cannot read '${empty}': no such folder` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  { only: ['wasm'] },
);
