/**
 * `quickstart` (npm start) CLI tests: both presets resolve to a valid distill config of the shipped
 * teacher, the device picks the preset, and a bad preset is a one-line error. The run itself is
 * measured by hand (README: under 10 minutes on 2 CPU cores, FD and class accuracy before and after).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const bin = fileURLToPath(new URL('../../../bin/diff-instruct.mjs', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, DI_DEBUG: '' } });
/** A key of the JSON config that --dry-run prints on stdout. */
const field = (out: string, key: string) => JSON.parse(out)[key];

test('quickstart: cpu preset on Wasm, gpu preset by name, both distilling the shipped teacher', () => {
  const cpu = cli('quickstart', '--device', 'wasm', '--dry-run');
  assert.equal(cpu.status, 0, cpu.stderr);
  assert.match(cpu.stderr, /preset 'cpu' .*quickstart-fmnist-cpu\.json/);
  assert.equal(field(cpu.stdout, 'teacher'), 'fmnist-cond');
  assert.equal(field(cpu.stdout, 'batch'), 4);
  assert.equal(field(cpu.stdout, 'loss'), 'ikl');
  const gpu = cli('quickstart', '--device', 'wasm', '--preset', 'gpu', '--dry-run');
  assert.equal(gpu.status, 0, gpu.stderr);
  assert.equal(field(gpu.stdout, 'batch'), 128);
  assert.equal(field(gpu.stdout, 'evalN'), 5000);
  // what --dry-run prints is a config that distill --config takes as it is
  const dir = mkdtempSync(join(tmpdir(), 'di-qs-'));
  writeFileSync(join(dir, 'cpu.json'), cpu.stdout);
  const again = cli('distill', '--config', join(dir, 'cpu.json'), '--dry-run');
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), JSON.parse(cpu.stdout));
  // …and that quickstart --config runs instead of a preset (edited: batch 8), never beside one
  writeFileSync(join(dir, 'mine.json'), JSON.stringify({ ...JSON.parse(cpu.stdout), batch: 8 }));
  const mine = cli('quickstart', '--device', 'wasm', '--config', join(dir, 'mine.json'), '--dry-run');
  assert.equal(mine.status, 0, mine.stderr);
  assert.match(mine.stderr, /quickstart: config \(.*mine\.json\)/);
  assert.equal(field(mine.stdout, 'batch'), 8);
  const both = cli('quickstart', '--device', 'wasm', '--config', join(dir, 'mine.json'), '--preset', 'cpu', '--dry-run');
  assert.match(both.stderr.trim(), /^diff-instruct: error: --preset and --config both name the config to run: give one$/m);
  rmSync(dir, { recursive: true, force: true });
  const bad = cli('quickstart', '--device', 'wasm', '--preset', 'fast', '--dry-run');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr.trim(), /^diff-instruct: error: unknown preset 'fast' \(known: auto, gpu, cpu\)$/m);
});
