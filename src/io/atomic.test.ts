/** Atomic write tests: content replaced whole, parent folders created, no temp file left, appends. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendLine, writeFileAtomic } from './atomic.js';

test('atomic: writes, replaces, creates folders and leaves no temp file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-atomic-'));
  try {
    const p = join(dir, 'a', 'b', 'f.bin');
    writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
    writeFileAtomic(p, 'héllo');
    assert.equal(readFileSync(p, 'utf8'), 'héllo');
    assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['f.bin'], 'only the target remains');
    // a write that fails (target is an existing folder) leaves the folder untouched and no temp file
    assert.throws(() => writeFileAtomic(join(dir, 'a'), 'x'), /^Error: cannot write '.*a': E[A-Z]+$/);
    assert.deepEqual(readdirSync(dir), ['a']);
    assert.deepEqual(readdirSync(join(dir, 'a')), ['b']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('atomic: a reader never sees a partial file (old content stays until the rename)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-atomic-'));
  try {
    const p = join(dir, 'ckpt');
    writeFileSync(p, 'old');
    // make the folder read-only so the temp file cannot be created: the old file must survive intact
    if (process.getuid?.() !== 0) {
      chmodSync(dir, 0o555);
      assert.throws(() => writeFileAtomic(p, 'new'), /cannot write/);
      chmodSync(dir, 0o755);
      assert.equal(readFileSync(p, 'utf8'), 'old');
    }
    writeFileAtomic(p, 'new');
    assert.equal(readFileSync(p, 'utf8'), 'new');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('atomic: appendLine appends lines and creates the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-atomic-'));
  try {
    const p = join(dir, 'logs', 'log.txt');
    appendLine(p, 'one');
    appendLine(p, '{"a":1}');
    assert.equal(readFileSync(p, 'utf8'), 'one\n{"a":1}\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
