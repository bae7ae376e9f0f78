/**
 * safetensors tests: byte-exact output against hand-computed bytes and the reference crate's own test
 * vectors, round trips for every dtype, one-line errors for each kind of corruption, f16 conversion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bf16ToF32,
  f16ToF32,
  f32ToF16,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
  type TensorData,
} from './safetensors.js';

const bytes = (...xs: number[]) => new Uint8Array(xs);
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];

test('safetensors: one F32 tensor [2] serializes to hand-computed bytes', () => {
  // header JSON  {"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}
  //   = '{"x":' (5) + '{"dtype":"F32",' (15) + '"shape":[2],' (12) + '"data_offsets":[0,8]}' (21) + '}' (1) = 54 bytes,
  //   padded with 2 spaces to 56 = 0x38 → u64 LE 38 00 00 00 00 00 00 00.
  // data: 1.0f = 0x3F800000 → 00 00 80 3F; -2.0f = 0xC0000000 → 00 00 00 C0. Total 8 + 56 + 8 = 72 bytes.
  const expected = bytes(
    0x38, 0, 0, 0, 0, 0, 0, 0,
    ...ascii('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'), 0x20, 0x20,
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
  );
  assert.equal(expected.length, 72);
  const out = serializeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) } });
  assert.deepEqual([...out], [...expected]);
  const back = parseSafetensors(expected);
  assert.deepEqual([...(back.tensors.x.data as Float32Array)], [1, -2]);
  assert.deepEqual(back.metadata, {});
});

test('safetensors: matches the reference crate test vectors byte for byte', () => {
  // huggingface/safetensors safetensors/src/tensor.rs, test_serialization: {"attn.0": F32 [1,2,3] = 0..5}, no metadata
  const ref1 = [
    64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115,
    104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50,
    52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
  ];
  const data = new Float32Array([0, 1, 2, 3, 4, 5]);
  assert.deepEqual([...serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } })], ref1);
  // test_serialization_forced_alignement: "attn0", shape [1,1,2,3] → 7 padding spaces
  const ref2 = [
    72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104,
    97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44,
    50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
  ];
  assert.deepEqual([...serializeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } })], ref2);
  // test_empty: no tensors, with and without metadata {"framework": "pt"}
  assert.deepEqual([...serializeSafetensors({})], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  const ref3 = [
    40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114,
    107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
  ];
  assert.deepEqual([...serializeSafetensors({}, { framework: 'pt' })], ref3);
  assert.deepEqual(parseSafetensors(new Uint8Array(ref3)).metadata, { framework: 'pt' });
});

test('safetensors: reads the reference docstring file (unpadded 60-byte header, I32 [2,2])', () => {
  // From the crate's SafeTensors::deserialize doc example: b"<\x00..{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}" + 16 zero bytes
  const file = bytes(0x3c, 0, 0, 0, 0, 0, 0, 0, ...ascii('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}'), ...new Array(16).fill(0));
  const { tensors } = parseSafetensors(file);
  assert.equal(tensors.test.dtype, 'I32');
  assert.deepEqual(tensors.test.shape, [2, 2]);
  assert.ok(tensors.test.data instanceof Int32Array);
  assert.deepEqual([...(tensors.test.data as Int32Array)], [0, 0, 0, 0]);
});

test('safetensors: round trip is exact for F32/F16/I32/U8/F64 (and the other dtypes) with metadata', () => {
  const t: Record<string, TensorData> = {
    'enc.28x28_conv.weight': { dtype: 'F32', shape: [2, 1, 3, 3], data: Float32Array.from({ length: 18 }, (_, i) => Math.fround(Math.sin(i) * 1e3)) },
    half: { dtype: 'F16', shape: [4], data: new Uint16Array([0x3c00, 0x7bff, 0x0001, 0x8000]) },
    ints: { dtype: 'I32', shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
    bytes: { dtype: 'U8', shape: [2, 2], data: new Uint8Array([0, 1, 254, 255]) },
    dbl: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e-300]) },
    scalar: { dtype: 'F32', shape: [], data: new Float32Array([7.5]) },
    empty: { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
    key: { dtype: 'U32', shape: [2], data: new Uint32Array([0xdeadbeef, 42]) },
    big: { dtype: 'I64', shape: [1], data: new BigInt64Array([-(2n ** 62n)]) },
    flags: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
    bf: { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) },
    small: { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
    mid: { dtype: 'I16', shape: [1], data: new Int16Array([-300]) },
  };
  const meta = { diff_instruct: JSON.stringify({ kind: 'test', step: 3 }), 'ünïcode': 'ok' };
  const file = serializeSafetensors(t, meta);
  assert.equal(new DataView(file.buffer).getUint32(0, true) % 8, 0, 'header length is a multiple of 8');
  const back = parseSafetensors(file, 'rt.safetensors');
  assert.deepEqual(back.metadata, meta);
  assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(t).sort());
  for (const [name, v] of Object.entries(t)) {
    assert.equal(back.tensors[name].dtype, v.dtype, name);
    assert.deepEqual(back.tensors[name].shape, v.shape, name);
    assert.equal(back.tensors[name].data.constructor, v.data.constructor, name);
    assert.deepEqual([...back.tensors[name].data], [...v.data], name);
  }
  // serializing the parsed file again reproduces it exactly (deterministic order)
  assert.deepEqual(serializeSafetensors(back.tensors, back.metadata), file);
});

test('safetensors: mixed dtypes are laid out widest first so every tensor is aligned', () => {
  const file = serializeSafetensors({
    a: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
    b: { dtype: 'F64', shape: [1], data: new Float64Array([1]) },
    c: { dtype: 'F32', shape: [1], data: new Float32Array([1]) },
  });
  const n = Number(new DataView(file.buffer).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(file.subarray(8, 8 + n)).toString());
  assert.deepEqual(header.b.data_offsets, [0, 8]);
  assert.deepEqual(header.c.data_offsets, [8, 12]);
  assert.deepEqual(header.a.data_offsets, [12, 15]);
});

/** A file from a raw header string and a data buffer, to build corrupt files by hand. */
function rawFile(header: string, dataLen: number, declaredLen?: number): Uint8Array {
  const h = Buffer.from(header, 'utf8');
  const out = new Uint8Array(8 + h.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLen ?? h.length), true);
  out.set(h, 8);
  return out;
}

function throwsOneLine(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.ok(!e.message.includes('\n'), `message is one line: ${JSON.stringify(e.message)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('safetensors: each kind of corruption is a one-line error naming the file and the problem', () => {
  const src = 'bad.safetensors';
  const parse = (b: Uint8Array) => () => parseSafetensors(b, src);
  const good = serializeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) } });
  parseSafetensors(good, src); // the untouched file is fine

  throwsOneLine(parse(bytes(1, 2, 3)), /^bad\.safetensors: file is 3 bytes, too short/);
  // truncated data: the last 4 bytes of the tensor are missing
  throwsOneLine(parse(good.subarray(0, good.length - 4)), /^bad\.safetensors: tensor 'w': data_offsets \[0,16\] end beyond the 12-byte data buffer/);
  throwsOneLine(parse(rawFile('{}', 0, 500)), /^bad\.safetensors: header length 500 runs past the end of the 10-byte file/);
  throwsOneLine(parse(rawFile('{}', 0, 2 ** 40)), /header length 1099511627776 exceeds/);
  throwsOneLine(parse(rawFile('{"w": {"dtype": "F32",', 0)), /^bad\.safetensors: header is not valid JSON/);
  throwsOneLine(parse(rawFile('[1,2]', 0)), /header is not a JSON object \(got an array\)/);
  throwsOneLine(parse(rawFile('{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', 1)), /tensor 'w': unknown dtype "F8_E4M3"/);
  throwsOneLine(parse(rawFile('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4)), /tensor 'w': shape \[-1\] is not a list of non-negative integers/);
  throwsOneLine(parse(rawFile('{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', 4)), /tensor 'w': shape \[1\.5\] is not/);
  throwsOneLine(parse(rawFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', 4)), /tensor 'w': data_offsets \[0\] is not two non-negative integers/);
  throwsOneLine(parse(rawFile('{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}', 8)), /tensor 'w': data_offsets \[8,4\] begin after end/);
  // shape × dtype size ≠ bytes: [3] F32 is 12 bytes, offsets hold 16
  throwsOneLine(parse(rawFile('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}', 16)), /tensor 'w': shape \[3\] × F32 needs 12 bytes but data_offsets \[0,16\] hold 16/);
  throwsOneLine(
    parse(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12)),
    /tensors 'a' \[0,8\] and 'b' \[4,12\] overlap/,
  );
  throwsOneLine(
    parse(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 12)),
    /data buffer bytes \[4,8\) belong to no tensor \(hole before 'b'\)/,
  );
  throwsOneLine(parse(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 6)), /2 trailing bytes after the last tensor/);
  throwsOneLine(parse(rawFile('{"__metadata__":{"step":3}}', 0)), /__metadata__ key 'step' is not a string \(got number\)/);
  throwsOneLine(parse(rawFile('{"__metadata__":[]}', 0)), /__metadata__ is not an object of strings/);
  throwsOneLine(parse(rawFile('{"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"extra":1}}', 0)), /tensor 'w': unknown field 'extra'/);
  const badBool = rawFile('{"f":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}', 2);
  badBool[badBool.length - 1] = 7;
  throwsOneLine(parse(badBool), /tensor 'f': BOOL element 1 is 7, not 0 or 1/);
});

test('safetensors: the writer refuses inconsistent tensors', () => {
  throwsOneLine(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /tensor 'w': shape \[3\] has 3 elements but data has 2/);
  throwsOneLine(() => serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }), /tensor 'w': F32 data must be a Float32Array, got Float64Array/);
  throwsOneLine(() => serializeSafetensors({ w: { dtype: 'F99' as any, shape: [2], data: new Float32Array(2) } }), /unknown dtype "F99"/);
  throwsOneLine(() => serializeSafetensors({}, { a: 1 as any }), /metadata key 'a' is not a string/);
});

test('safetensors: files on disk: atomic write, header-only read, missing file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-st-'));
  try {
    const p = join(dir, 'sub', 'm.safetensors');
    writeSafetensors(p, { w: { dtype: 'F32', shape: [2], data: new Float32Array([3, 4]) } }, { a: 'b' });
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['m.safetensors'], 'no temp file left behind');
    assert.deepEqual([...(readSafetensors(p).tensors.w.data as Float32Array)], [3, 4]);
    const h = readSafetensorsHeader(p);
    assert.deepEqual(h.tensors.w, { dtype: 'F32', shape: [2], dataOffsets: [0, 8] });
    assert.deepEqual(h.metadata, { a: 'b' });
    throwsOneLine(() => readSafetensors(join(dir, 'nope.safetensors')), /^cannot read '.*nope\.safetensors': no such file$/);
    throwsOneLine(() => readSafetensorsHeader(join(dir, 'nope.safetensors')), /no such file$/);
    // the header-only reader still checks the header against the file size
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 4));
    throwsOneLine(() => readSafetensorsHeader(bad), /bad\.safetensors: tensor 'w': data_offsets \[0,8\] end beyond the 4-byte data buffer/);
    throwsOneLine(() => readSafetensors(dir), /is a folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('f16: known values convert both ways', () => {
  const h = (...xs: number[]) => [...f32ToF16(new Float32Array(xs))];
  assert.deepEqual(h(1.0, 65504, 2 ** -24, -0, Infinity, -Infinity, -2, 2 ** -14, 0), [0x3c00, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0xc000, 0x0400, 0]);
  const nan = h(NaN)[0];
  assert.equal(nan & 0x7c00, 0x7c00, 'NaN exponent all ones');
  assert.notEqual(nan & 0x3ff, 0, 'NaN mantissa nonzero');
  // rounding, ties to even: 65520 is halfway between 65504 and 65536 (=inf) → even → inf;
  // 1 + 2^-11 is halfway between 1 (0x3C00, even) and 1 + 2^-10 → 1; 1 + 3·2^-11 → 1 + 2^-9 (0x3C02, even);
  // 2^-25 is half the smallest subnormal → 0 (even); 1.5·2^-25 → 0x0001; 1e6 overflows → inf
  assert.deepEqual(h(65520, 65519, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -25, 1.5 * 2 ** -25, 1e6, 1 / 3), [0x7c00, 0x7bff, 0x3c00, 0x3c02, 0, 1, 0x7c00, 0x3555]);
  // subnormal that rounds up into the smallest normal: (2^-14 - 2^-25) is halfway between 0x03FF and 0x0400 → even 0x0400
  assert.deepEqual(h(2 ** -14 - 2 ** -25), [0x0400]);

  const f = [...f16ToF32(new Uint16Array([0x3c00, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0xc000, 0x3555]))];
  assert.deepEqual(f, [1, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, -2, Math.fround(0.333251953125)]);
  assert.ok(Object.is(f16ToF32(new Uint16Array([0x8000]))[0], -0));
  assert.ok(Number.isNaN(f16ToF32(new Uint16Array([0x7e00]))[0]));

  // every non-NaN half survives f16 → f32 → f16 unchanged
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((b) => (b & 0x7c00) !== 0x7c00 || (b & 0x3ff) === 0);
  const again = f32ToF16(f16ToF32(all));
  const bad = all.findIndex((b, i) => again[i] !== b);
  assert.equal(bad, -1, `half 0x${all[bad]?.toString(16)} did not round-trip`);

  assert.deepEqual([...bf16ToF32(new Uint16Array([0x3f80, 0xc000, 0x8000]))], [1, -2, -0]);
});
