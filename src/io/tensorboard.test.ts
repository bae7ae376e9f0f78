/**
 * TensorBoard writer tests: CRC-32C check values, a hand-assembled Event, and a full file decoded back
 * record by record (length, both masked CRCs) with the protobuf fields parsed by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, maskedCrc32c, TensorBoardWriter, tfRecord } from './tensorboard.js';

test('crc32c: standard check values', () => {
  // "123456789" → 0xE3069283 (the CRC-32C check value); RFC 3720 B.4 iSCSI vectors:
  // 32 zero bytes → 0x8A9136AA, 32 bytes of 0xFF → 0x62A8AB43, bytes 0..31 ascending → 0x46DD794E
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  // masked = rotr15(crc) + 0xa282ead8: 0xE3069283 >>> 15 = 0x0001C60D, (0xE3069283 & 0x7FFF) << 17 = 0x25060000,
  // rotr15 = 0x2507C60D; + 0xA282EAD8 = 0xC78AB0E5
  assert.equal(maskedCrc32c(Buffer.from('123456789')), 0xc78ab0e5);
});

/** Minimal protobuf reader for the test: field number → list of raw values. */
function parseProto(b: Uint8Array): Map<number, (number | bigint | Uint8Array)[]> {
  const out = new Map<number, (number | bigint | Uint8Array)[]>();
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let i = 0;
  const varint = () => {
    let v = 0n, s = 0n;
    for (;;) {
      const x = b[i++];
      v |= BigInt(x & 0x7f) << s;
      s += 7n;
      if (!(x & 0x80)) return v;
    }
  };
  while (i < b.length) {
    const key = Number(varint());
    const field = key >> 3, wire = key & 7;
    let val: number | bigint | Uint8Array;
    if (wire === 0) val = varint();
    else if (wire === 1) (val = dv.getFloat64(i, true)), (i += 8);
    else if (wire === 5) (val = dv.getFloat32(i, true)), (i += 4);
    else if (wire === 2) {
      const n = Number(varint());
      val = b.subarray(i, i + n);
      i += n;
    } else throw new Error(`wire type ${wire}`);
    if (!out.has(field)) out.set(field, []);
    out.get(field)!.push(val);
  }
  assert.equal(i, b.length, 'protobuf ends exactly at the record end');
  return out;
}

/** Splits an event file into record payloads, checking the length and both masked CRCs of each. */
function readRecords(file: Uint8Array): Uint8Array[] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const recs: Uint8Array[] = [];
  let o = 0;
  while (o < file.length) {
    const len = Number(dv.getBigUint64(o, true));
    assert.equal(dv.getUint32(o + 8, true), maskedCrc32c(file.subarray(o, o + 8)), `length CRC of record ${recs.length}`);
    const data = file.subarray(o + 12, o + 12 + len);
    assert.equal(data.length, len, 'record not truncated');
    assert.equal(dv.getUint32(o + 12 + len, true), maskedCrc32c(data), `data CRC of record ${recs.length}`);
    recs.push(data);
    o += 16 + len;
  }
  return recs;
}

const text = (v: unknown) => Buffer.from(v as Uint8Array).toString('utf8');

test('tensorboard: a scalar event matches hand-assembled protobuf bytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-tb-'));
  try {
    const tb = new TensorBoardWriter(dir, { now: () => 1500 }); // wall_time 1.5 s
    tb.scalar('loss', 0.5, 3);
    tb.close();
    const recs = readRecords(readFileSync(tb.path));
    // Event{wall_time=1.5, step=3, summary=Summary{value=[Value{tag="loss", simple_value=0.5}]}}:
    //   09 <1.5 as f64 LE: 00 00 00 00 00 00 F8 3F>  10 03  2A 0D  (Summary, 13 bytes)
    //   Summary: 0A 0B (Value, 11 bytes);  Value: 0A 04 "loss"  15 <0.5 as f32 LE: 00 00 00 3F>
    const expected = [
      0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x10, 0x03, 0x2a, 0x0d,
      0x0a, 0x0b, 0x0a, 0x04, ...Buffer.from('loss'), 0x15, 0, 0, 0, 0x3f,
    ];
    assert.deepEqual([...recs[1]], expected);
    // header event: 09 <1.5> 1A 0D "brain.Event:2"
    assert.deepEqual([...recs[0]], [0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x1a, 0x0d, ...Buffer.from('brain.Event:2')]);
    // the record frame: u64 length 26, then masked CRC of those 8 bytes
    const framed = tfRecord(new Uint8Array(expected));
    assert.deepEqual([...framed.subarray(0, 8)], [26, 0, 0, 0, 0, 0, 0, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tensorboard: file name, records, CRCs and fields decode back; buffering flushes every N', () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-tb-'));
  try {
    let clock = 1_700_000_000_000;
    const tb = new TensorBoardWriter(join(dir, 'logs'), { flushEvery: 3, now: () => clock });
    assert.match(readdirSync(join(dir, 'logs'))[0], /^events\.out\.tfevents\.1700000000\.[^/]+$/);
    const headerOnly = statSync(tb.path).size;
    tb.scalar('Loss/ikl', -1.25, 0);
    tb.scalar('Loss/dsm', 3.0e-3, 10);
    assert.equal(statSync(tb.path).size, headerOnly, 'two records stay buffered');
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    clock += 250;
    tb.image('samples', png, 28, 56, 1, 10);
    assert.ok(statSync(tb.path).size > headerOnly, 'third record flushes');
    tb.scalar('big/step', 7, 2 ** 40);
    tb.close();
    tb.close();
    assert.throws(() => tb.scalar('x', 1, 1), /is closed/);

    const recs = readRecords(readFileSync(tb.path)).map(parseProto);
    assert.equal(recs.length, 5);
    assert.equal(text(recs[0].get(3)![0]), 'brain.Event:2');
    assert.equal(recs[0].get(1)![0], 1_700_000_000);

    const value = (r: Map<number, any[]>) => parseProto(parseProto(r.get(5)![0]).get(1)![0] as Uint8Array);
    assert.equal(recs[1].get(2)![0], 0n);
    assert.equal(text(value(recs[1]).get(1)![0]), 'Loss/ikl');
    assert.equal(value(recs[1]).get(2)![0], -1.25);
    assert.equal(recs[2].get(2)![0], 10n);
    assert.equal(value(recs[2]).get(2)![0], Math.fround(3.0e-3));

    assert.equal(recs[3].get(1)![0], 1_700_000_000.25);
    const img = parseProto(value(recs[3]).get(4)![0] as Uint8Array);
    assert.equal(text(value(recs[3]).get(1)![0]), 'samples');
    assert.deepEqual([img.get(1)![0], img.get(2)![0], img.get(3)![0]], [28n, 56n, 1n]);
    assert.deepEqual([...(img.get(4)![0] as Uint8Array)], [...png]);
    assert.equal(recs[4].get(2)![0], 2n ** 40n, 'int64 step beyond 32 bits');

    // a second writer in the same second gets its own file
    const tb2 = new TensorBoardWriter(join(dir, 'logs'), { now: () => clock });
    tb2.close();
    assert.equal(readdirSync(join(dir, 'logs')).length, 2);
    assert.throws(() => new TensorBoardWriter(join(dir, 'logs2'), { now: () => clock }).scalar('x', 1, -1), /step -1 for 'x' is not a non-negative integer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
