/** `inspect` CLI tests: run the real program (bin/diff-instruct.mjs) on a good and on corrupt files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeSafetensors, writeSafetensors } from '../../io/safetensors.js';

const bin = fileURLToPath(new URL('../../../bin/diff-instruct.mjs', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, DI_DEBUG: '' } });

test('inspect: table, JSON and one-line errors from the real CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-inspect-'));
  try {
    const good = join(dir, 'net.safetensors');
    const meta = { format: 1, kind: 'generator', net: { channels: 32 }, kimg: 200 };
    writeSafetensors(
      good,
      {
        'enc.28x28_conv.weight': { dtype: 'F32', shape: [32, 1, 3, 3], data: new Float32Array(288) },
        'enc.28x28_conv.bias': { dtype: 'F32', shape: [32], data: new Float32Array(32) },
        'map_noise.freqs': { dtype: 'F16', shape: [1000], data: new Uint16Array(1000) },
      },
      { diff_instruct: JSON.stringify(meta), framework: 'jax-js' },
    );
    const r = cli('inspect', good);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    // sorted names; 288 + 32 + 1000 = 1320 elements in total
    assert.match(lines[0], /^name\s+dtype\s+shape\s+elements$/);
    assert.match(lines[2], /^enc\.28x28_conv\.bias\s+F32\s+\[32\]\s+32$/);
    assert.match(lines[3], /^enc\.28x28_conv\.weight\s+F32\s+\[32, 1, 3, 3\]\s+288$/);
    assert.match(lines[4], /^map_noise\.freqs\s+F16\s+\[1000\]\s+1,000$/);
    // columns aligned: every table row puts its dtype at the same column as the header's
    const col = lines[0].indexOf('dtype');
    for (const l of lines.slice(2, 5)) assert.match(l.slice(col), /^F(32|16) /);
    assert.ok(r.stdout.includes('3 tensors, 1,320 parameters'));
    assert.ok(r.stdout.includes('  diff_instruct: {\n    "format": 1,'), 'diff_instruct pretty-printed');
    assert.ok(r.stdout.includes('  framework: jax-js'));

    const j = cli('inspect', good, '--json');
    assert.equal(j.status, 0, j.stderr);
    const parsed = JSON.parse(j.stdout);
    assert.equal(parsed.total, 1320);
    assert.deepEqual(parsed.diff_instruct, meta);
    assert.deepEqual(parsed.tensors[1], { name: 'enc.28x28_conv.weight', dtype: 'F32', shape: [32, 1, 3, 3], numel: 288 });

    // corrupt: the last 4 data bytes are missing
    const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, bytes.subarray(0, bytes.length - 4));
    const e = cli('inspect', bad);
    assert.equal(e.status, 1);
    assert.equal(e.stdout, '');
    assert.equal(e.stderr, `diff-instruct: error: ${bad}: tensor 'w': data_offsets [0,16] end beyond the 12-byte data buffer (file truncated?)\n`);

    const missing = cli('inspect', join(dir, 'nope.safetensors'));
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr, `diff-instruct: error: cannot read '${join(dir, 'nope.safetensors')}': no such file\n`);

    // a shipped network by name, as sample and distill take them
    const shipped = cli('inspect', 'fmnist-cond', '--json');
    assert.equal(shipped.status, 0, shipped.stderr);
    assert.match(JSON.parse(shipped.stdout).file, /models\/fmnist-cond\.safetensors$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
