/**
 * The safetensors format in memory (parse, validate, serialize), written from the format description
 * (huggingface/safetensors). Pure: no Node APIs, so the browser entry (src/browser.ts) can use it;
 * src/io/safetensors.ts adds the file reader and writer on top.
 *
 *   [u64 little-endian N] [N bytes of UTF-8 JSON header] [byte buffer]
 *   header = { "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *              "__metadata__": {"<key>": "<string>"} }           (offsets relative to the buffer start)
 *
 * The reader is strict in the way the reference Rust crate is (`Metadata::validate`): tensors must tile
 * the buffer exactly — no holes, no overlaps, no trailing bytes — and each tensor's byte span must equal
 * shape × dtype size. Every violation is a one-line Error naming the file and the problem, because a
 * checkpoint that is silently misread trains garbage.
 *
 * The writer reproduces the reference byte for byte: compact JSON with `__metadata__` first, header padded
 * with spaces to a multiple of 8 bytes, tensors ordered by dtype (widest first, the crate's `Dtype` enum
 * order, so every tensor stays aligned to its element size) and then by name.
 *
 * Also here: IEEE half ⇄ single conversion (F16 tensors are stored as raw uint16 bits).
 */

/** Element types of the format. F8 types are not supported (reported as unknown). */
export type DType = 'BOOL' | 'U8' | 'I8' | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64';

/** Typed array holding a tensor's elements; F16/BF16 keep their raw bits in a Uint16Array, BOOL is 0/1 bytes. */
export type TensorArray = Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array | BigInt64Array | BigUint64Array;

export interface TensorData {
  dtype: DType;
  shape: number[];
  /** Row-major (C order) elements; length = product of shape. */
  data: TensorArray;
}

/** A tensor's header entry, without its data (what `readSafetensorsHeader` returns). */
export interface TensorInfo {
  dtype: DType;
  shape: number[];
  /** [begin, end) byte range inside the data buffer. */
  dataOffsets: [number, number];
}

type TypedCtor = { new (buf: ArrayBuffer, off?: number, len?: number): TensorArray; BYTES_PER_ELEMENT: number };

/**
 * Size and array type per dtype; `rank` is the position in the reference crate's `Dtype` enum, which the
 * writer sorts by (descending) so wider types come first.
 */
const DTYPES: Record<DType, { size: number; ctor: TypedCtor; rank: number }> = {
  BOOL: { size: 1, ctor: Uint8Array, rank: 0 },
  U8: { size: 1, ctor: Uint8Array, rank: 1 },
  I8: { size: 1, ctor: Int8Array, rank: 2 },
  // ranks 3, 4 are F8_E5M2 / F8_E4M3 in the reference; unsupported here
  I16: { size: 2, ctor: Int16Array, rank: 5 },
  U16: { size: 2, ctor: Uint16Array, rank: 6 },
  F16: { size: 2, ctor: Uint16Array, rank: 7 },
  BF16: { size: 2, ctor: Uint16Array, rank: 8 },
  I32: { size: 4, ctor: Int32Array, rank: 9 },
  U32: { size: 4, ctor: Uint32Array, rank: 10 },
  F32: { size: 4, ctor: Float32Array, rank: 11 },
  F64: { size: 8, ctor: Float64Array, rank: 12 },
  I64: { size: 8, ctor: BigInt64Array as unknown as TypedCtor, rank: 13 },
  U64: { size: 8, ctor: BigUint64Array as unknown as TypedCtor, rank: 14 },
};

export const DTYPE_NAMES = Object.keys(DTYPES) as DType[];

/** Bytes per element of `dtype`. */
export function dtypeSize(dtype: DType): number {
  return DTYPES[dtype].size;
}

/** The reference crate refuses headers over 100 MB; so do we (a corrupt length would otherwise allocate it). */
export const MAX_HEADER_BYTES = 100_000_000;

// Typed arrays use the host's byte order and the format is little-endian; every platform Node runs on
// today is little-endian, but say so loudly rather than byte-swap silently wrong data.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
export function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new Error('safetensors: big-endian hosts are not supported');
}

/** Number of elements of `shape` (1 for a scalar []). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const fmtShape = (s: unknown) => JSON.stringify(s);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A validated header: tensor entries in buffer order, the metadata, and the data buffer's expected length. */
export interface ParsedHeader {
  entries: { name: string; info: TensorInfo }[];
  metadata: Record<string, string>;
}

/**
 * Validates a header against a data buffer of `bufferLength` bytes. Errors are `<source>: <problem>`.
 */
export function parseHeader(headerBytes: Uint8Array, bufferLength: number, source: string): ParsedHeader {
  const fail = (msg: string) => new Error(`${source}: ${msg}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw fail(`header is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isPlainObject(header)) throw fail(`header is not a JSON object (got ${Array.isArray(header) ? 'an array' : header === null ? 'null' : typeof header})`);

  const metadata: Record<string, string> = {};
  const entries: ParsedHeader['entries'] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(v)) throw fail('__metadata__ is not an object of strings');
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') throw fail(`__metadata__ key '${k}' is not a string (got ${s === null ? 'null' : typeof s})`);
        metadata[k] = s;
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (!isPlainObject(v)) throw fail(`${where}: entry is not an object`);
    for (const k of Object.keys(v)) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') throw fail(`${where}: unknown field '${k}'`);
    }
    const dtype = v.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPES)) throw fail(`${where}: unknown dtype ${JSON.stringify(dtype ?? null)}`);
    const shape = v.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail(`${where}: shape ${fmtShape(shape ?? null)} is not a list of non-negative integers`);
    }
    const off = v.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail(`${where}: data_offsets ${fmtShape(off ?? null)} is not two non-negative integers`);
    }
    const [begin, end] = off as [number, number];
    if (begin > end) throw fail(`${where}: data_offsets [${begin},${end}] begin after end`);
    if (end > bufferLength) throw fail(`${where}: data_offsets [${begin},${end}] end beyond the ${bufferLength}-byte data buffer (file truncated?)`);
    const count = numel(shape);
    const nbytes = count * DTYPES[dtype as DType].size;
    if (!Number.isSafeInteger(nbytes)) throw fail(`${where}: shape ${fmtShape(shape)} is too large`);
    if (nbytes !== end - begin) {
      throw fail(`${where}: shape ${fmtShape(shape)} × ${dtype} needs ${nbytes} bytes but data_offsets [${begin},${end}] hold ${end - begin}`);
    }
    entries.push({ name, info: { dtype: dtype as DType, shape: [...shape], dataOffsets: [begin, end] } });
  }

  // The tensors must tile [0, bufferLength) exactly, like the reference's validate().
  entries.sort((a, b) => a.info.dataOffsets[0] - b.info.dataOffsets[0] || a.info.dataOffsets[1] - b.info.dataOffsets[1]);
  let cursor = 0;
  let prev: (typeof entries)[number] | null = null;
  for (const e of entries) {
    const [b, en] = e.info.dataOffsets;
    if (b < cursor) {
      throw fail(`tensors '${prev!.name}' [${prev!.info.dataOffsets}] and '${e.name}' [${b},${en}] overlap`);
    }
    if (b > cursor) throw fail(`data buffer bytes [${cursor},${b}) belong to no tensor (hole before '${e.name}')`);
    cursor = en;
    prev = e;
  }
  if (cursor !== bufferLength) {
    throw fail(`${bufferLength - cursor} trailing bytes after the last tensor (tensors end at ${cursor}, data buffer is ${bufferLength} bytes)`);
  }
  return { entries, metadata };
}

/** Reads the u64 header length and checks it against the file size. */
export function headerLength(first8: Uint8Array, fileLength: number, source: string): number {
  if (fileLength < 8) throw new Error(`${source}: file is ${fileLength} bytes, too short for the 8-byte header length`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new Error(`${source}: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  if (8 + Number(n) > fileLength) throw new Error(`${source}: header length ${n} runs past the end of the ${fileLength}-byte file`);
  return Number(n);
}

/**
 * Parses a whole safetensors file held in memory. Tensor data is copied out (aligned, independent of
 * `bytes`). `source` names the file in error messages.
 */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors'): { tensors: Record<string, TensorData>; metadata: Record<string, string> } {
  assertLittleEndian();
  const n = headerLength(bytes, bytes.length, source);
  const base = 8 + n;
  const { entries, metadata } = parseHeader(bytes.subarray(8, base), bytes.length - base, source);
  const tensors: Record<string, TensorData> = {};
  for (const { name, info } of entries) {
    const { size, ctor } = DTYPES[info.dtype];
    const [b, e] = info.dataOffsets;
    // Copy into a fresh, aligned ArrayBuffer: the file's offsets need not be aligned, and `bytes` may be a
    // Node Buffer, whose slice() is a view into a shared pool rather than a copy.
    const copy = new Uint8Array(e - b);
    copy.set(bytes.subarray(base + b, base + e));
    const data = new ctor(copy.buffer, 0, (e - b) / size);
    if (info.dtype === 'BOOL') {
      const i = (data as Uint8Array).findIndex((x) => x > 1);
      if (i >= 0) throw new Error(`${source}: tensor '${name}': BOOL element ${i} is ${(data as Uint8Array)[i]}, not 0 or 1`);
    }
    tensors[name] = { dtype: info.dtype, shape: info.shape, data };
  }
  return { tensors, metadata };
}

const UTF8 = new TextEncoder();

/** Orders names by their UTF-8 bytes, as Rust's `String` ordering does. */
function byteCompare(a: string, b: string): number {
  const x = UTF8.encode(a), y = UTF8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * Serializes tensors (and optional string metadata) to safetensors bytes, byte-identical to the reference
 * crate's `serialize`. Throws a one-line error for a dtype/shape/data mismatch.
 */
export function serializeSafetensors(tensors: Record<string, TensorData>, metadata?: Record<string, string>): Uint8Array {
  assertLittleEndian();
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name];
    const where = `safetensors: tensor '${name}'`;
    if (name === '__metadata__') throw new Error(`safetensors: '__metadata__' is reserved and cannot name a tensor`);
    if (!t || !(t.dtype in DTYPES)) throw new Error(`${where}: unknown dtype ${JSON.stringify(t?.dtype ?? null)}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: shape ${fmtShape(t.shape)} is not a list of non-negative integers`);
    }
    const { ctor } = DTYPES[t.dtype];
    if (!(t.data instanceof (ctor as unknown as Function))) {
      throw new Error(`${where}: ${t.dtype} data must be a ${ctor.name}, got ${t.data?.constructor?.name ?? typeof t.data}`);
    }
    if (t.data.length !== numel(t.shape)) {
      throw new Error(`${where}: shape ${fmtShape(t.shape)} has ${numel(t.shape)} elements but data has ${t.data.length}`);
    }
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors: metadata key '${k}' is not a string (got ${v === null ? 'null' : typeof v})`);
    }
  }
  names.sort((a, b) => DTYPES[tensors[b].dtype].rank - DTYPES[tensors[a].dtype].rank || byteCompare(a, b));

  // Built by hand, not JSON.stringify(object): JS objects reorder integer-like keys ("0", "1"), and the
  // order of entries is part of the byte-exact output.
  const parts: string[] = [];
  if (metadata) {
    const keys = Object.keys(metadata).sort(byteCompare);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const nbytes = t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + nbytes}]}`);
    offset += nbytes;
  }
  const json = UTF8.encode(`{${parts.join(',')}}`);
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}
// ---- IEEE 754 binary16 ⇄ binary32 ----

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Half-precision bits → float32 values (exact: every f16 is representable in f32). */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24; // zero or subnormal: mant × 2^-24
    else if (exp === 0x1f) out[i] = mant ? NaN : sign * Infinity;
    else out[i] = sign * (1024 + mant) * 2 ** (exp - 25); // (1 + mant/1024) × 2^(exp-15)
  }
  return out;
}

/** One float32 (given by its bits) → half bits, rounding to nearest, ties to even. */
function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // inf, or NaN kept quiet
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00; // too large: ±inf
  if (e <= 0) {
    // subnormal half (or zero): the value mant24 × 2^(e-38) is h × 2^-24, so h = mant24 >> (14 - e)
    if (e < -10) return sign; // below half the smallest subnormal (2^-25): rounds to ±0
    mant |= 0x800000; // the implicit leading 1
    const shift = 14 - e;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    let h = mant >>> shift;
    if (rem > half || (rem === half && h & 1)) h++; // may carry into the smallest normal, which is correct
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent (even to inf) is correct
  return sign | h;
}

/** float32 values → half-precision bits (round to nearest even; overflow → ±inf; NaN stays NaN). */
export function f32ToF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    out[i] = f32BitsToF16(u32[0]);
  }
  return out;
}

/** bfloat16 bits → float32 (bf16 is the top half of a float32). */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const o32 = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) o32[i] = bits[i] << 16;
  return out;
}
