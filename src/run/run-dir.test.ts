/** Run-folder tests: EDM numbering (max existing id + 1), options file, logs, resume, snapshot lookup. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRunDir, gridName, latestSnapshot, openRunDir, snapshotName } from './run-dir.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'di-run-'));

test('run-dir: numbering follows EDM (max existing numeric prefix + 1, 5 digits)', () => {
  const out = tmp();
  try {
    const a = createRunDir(join(out, 'runs'), 'fmnist-ikl', { lr: 1e-5 }, {}, { echo: false });
    assert.equal(a.path, join(out, 'runs', '00000-fmnist-ikl'), 'first id in a new folder is 00000');
    // EDM counts any folder whose name starts with digits, ignores files and non-numeric folders,
    // and does not fill gaps: with 00000, 00007-x, 12abc → next is 00013
    mkdirSync(join(out, 'runs', '00007-x'));
    mkdirSync(join(out, 'runs', '12abc'));
    mkdirSync(join(out, 'runs', 'notes'));
    writeFileSync(join(out, 'runs', '99999-file.txt'), '');
    const b = createRunDir(join(out, 'runs'), 'b', {}, {}, { echo: false });
    assert.equal(b.path, join(out, 'runs', '00013-b'));
    const c = createRunDir(join(out, 'runs'), 'c', {}, {}, { echo: false });
    assert.equal(c.path, join(out, 'runs', '00014-c'));
    assert.throws(() => createRunDir(out, 'a/b', {}), { message: `run description 'a/b' may only contain letters, digits and . _ + = - (and must start with a letter or digit)` });
    assert.throws(() => createRunDir(out, '', {}), /run description ''/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('run-dir: options, log, stats, files, TensorBoard; reopening appends', () => {
  const out = tmp();
  try {
    const config = { batch: 64, sigmaInit: 2.5, lists: [1, 2] };
    const run = createRunDir(out, 'toy', config, { gitRev: 'abc' }, { echo: false });
    assert.deepEqual(JSON.parse(readFileSync(join(run.path, 'training_options.json'), 'utf8')), { config, meta: { gitRev: 'abc' } });
    run.log('step 1');
    run.log('step 2');
    run.stats({ kimg: 0.5, loss: 1.25, bad: NaN });
    assert.equal(run.file('samples/grid.png'), join(run.path, 'samples', 'grid.png'));
    assert.throws(() => run.file('../escape.txt'), /must be a relative path inside/);
    assert.throws(() => run.file('/etc/passwd'), /must be a relative path inside/);
    assert.ok(!readdirSync(run.path).some((f) => f.startsWith('events')), 'TensorBoard file is created lazily');
    run.tb.scalar('loss', 1, 0);
    run.close();
    assert.ok(readdirSync(run.path).some((f) => f.startsWith('events.out.tfevents.')));

    const again = openRunDir(run.path, { echo: false });
    assert.deepEqual(again.options, { config, meta: { gitRev: 'abc' } });
    again.log('resumed');
    again.stats({ kimg: 1 });
    again.close();
    assert.equal(readFileSync(join(run.path, 'log.txt'), 'utf8'), 'step 1\nstep 2\nresumed\n');
    const lines = readFileSync(join(run.path, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines, [{ kimg: 0.5, loss: 1.25, bad: null }, { kimg: 1 }]);

    assert.throws(() => openRunDir(join(out, 'missing')), { message: `cannot open run folder '${join(out, 'missing')}': no such folder` });
    mkdirSync(join(out, 'plain'));
    assert.throws(() => openRunDir(join(out, 'plain')), { message: `'${join(out, 'plain')}' is not a run folder (no training_options.json)` });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('run-dir: log() echoes to stdout', async () => {
  const out = tmp();
  const writes: string[] = [];
  const orig = process.stdout.write;
  try {
    const run = createRunDir(out, 'echo', {});
    (process.stdout as any).write = (s: string) => (writes.push(s), true);
    run.log('hello');
  } finally {
    process.stdout.write = orig;
    rmSync(out, { recursive: true, force: true });
  }
  assert.deepEqual(writes, ['hello\n']);
});

test('run-dir: latestSnapshot picks the highest kimg of the prefix', () => {
  const out = tmp();
  try {
    assert.equal(latestSnapshot(out, 'network-snapshot'), null);
    for (const k of [0, 200, 1000, 50]) writeFileSync(join(out, snapshotName('network-snapshot', k)), '');
    writeFileSync(join(out, 'training-state-009999.safetensors'), '');
    writeFileSync(join(out, 'network-snapshot-5000.safetensors'), ''); // not 6 digits: not ours
    writeFileSync(join(out, 'network-snapshot-002000.safetensors.tmp'), '');
    assert.equal(snapshotName('network-snapshot', 200.7), 'network-snapshot-000200.700.safetensors');
    assert.equal(latestSnapshot(out, 'network-snapshot'), join(out, 'network-snapshot-001000.safetensors'));
    assert.equal(latestSnapshot(out, 'training-state'), join(out, 'training-state-009999.safetensors'));
    assert.equal(latestSnapshot(out, 'ema'), null);
    assert.throws(() => latestSnapshot(join(out, 'nope'), 'x'), /no such folder/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('snapshotName: thousandths between whole kimg keep every snapshot, and latestSnapshot orders them', () => {
  const out = tmp();
  try {
    // A CPU quick start snapshots at 0.128 and 0.256 kimg: both names must differ (they were both 000000);
    // so must 1.5 and 1.9 (both were 000001 when only kimg below 1 kept thousandths).
    const names = [0, 0.128, 0.256, 0.9996, 1, 1.5, 1.9].map((k) => snapshotName('training-state', k));
    assert.deepEqual(names, ['000000', '000000.128', '000000.256', '000001', '000001', '000001.500', '000001.900'].map((k) => `training-state-${k}.safetensors`));
    for (const n of names.slice(0, 3)) writeFileSync(join(out, n), '');
    assert.equal(latestSnapshot(out, 'training-state'), join(out, 'training-state-000000.256.safetensors'));
    writeFileSync(join(out, names[4]), '');
    assert.equal(latestSnapshot(out, 'training-state'), join(out, 'training-state-000001.safetensors'));
    for (const n of names.slice(5)) writeFileSync(join(out, n), '');
    assert.equal(latestSnapshot(out, 'training-state'), join(out, 'training-state-000001.900.safetensors'));
    assert.throws(() => snapshotName('x', -1), /^Error: snapshot kimg -1 is not a non-negative number$/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('gridName: EDM names at whole kimg, thousandths between them so short runs keep every grid', () => {
  assert.equal(gridName(0), 'fakes-000000.png');
  assert.equal(gridName(0.128), 'fakes-000000.128.png');
  assert.equal(gridName(0.0004), 'fakes-000000.png'); // rounds to 0 thousandths: the initial name
  assert.equal(gridName(0.9996), 'fakes-000001.png'); // rounds to whole: never "000000.1000"
  assert.equal(gridName(39.936), 'fakes-000039.936.png');
  assert.equal(gridName(4, 'after'), 'after-000004.png');
  assert.throws(() => gridName(-1), /non-negative/);
});
