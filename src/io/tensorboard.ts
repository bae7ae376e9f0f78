/**
 * TensorBoard event-file writer, from the TFRecord and `Event` protobuf formats (no TensorFlow needed).
 *
 * File: `<logdir>/events.out.tfevents.<unix seconds>.<hostname>`, a sequence of TFRecords:
 *   u64 length (LE) | u32 masked_crc32c(length bytes) | data | u32 masked_crc32c(data)
 * with masked(c) = ((c >>> 15) | (c << 17)) + 0xa282ead8 (mod 2^32) and CRC-32C (Castagnoli).
 * Each record's data is a serialized `tensorflow.Event` (event.proto / summary.proto):
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; Image image = 4; }
 *   Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
 * The first record carries only `file_version = "brain.Event:2"`, which TensorBoard checks.
 */
import { makeDirs } from './atomic.js';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

// ---- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) ----

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `data` (check value: "123456789" → 0xE3069283). */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant, so CRCs of CRCs stay well-mixed. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, masked CRC of the length bytes, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

// ---- a minimal protobuf writer (just the wire types the Event messages use) ----

class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private small: number[] = [];
  private flushSmall(): void {
    if (this.small.length) this.chunks.push(Uint8Array.from(this.small));
    this.small = [];
  }
  private varint(n: number): void {
    // non-negative integers up to 2^53; 7 bits per byte, high bit = "more follows"
    while (n >= 0x80) {
      this.small.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.small.push(n);
  }
  private key(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }
  uint(field: number, n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`protobuf field ${field}: ${n} is not a non-negative integer`);
    this.key(field, 0);
    this.varint(n);
    return this;
  }
  double(field: number, v: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.small.push(...b);
    return this;
  }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.small.push(...b);
    return this;
  }
  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2);
    this.varint(data.length);
    this.flushSmall();
    this.chunks.push(data);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }
  finish(): Uint8Array {
    this.flushSmall();
    const n = this.chunks.reduce((s, c) => s + c.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** A serialized `Event` with one summary value (or, with `fileVersion`, the header event). */
function eventBytes(wallTime: number, step: number, value: ProtoWriter | null, fileVersion?: string): Uint8Array {
  const ev = new ProtoWriter().double(1, wallTime);
  if (fileVersion !== undefined) return ev.string(3, fileVersion).finish();
  return ev.uint(2, step).message(5, new ProtoWriter().message(1, value!)).finish();
}

export interface TensorBoardOptions {
  /** Write buffered records to disk after this many (default 20); `flush()`/`close()` write the rest. */
  flushEvery?: number;
  /** Also write once the oldest buffered record is this old, checked on each new record (default 10 s). */
  flushSecs?: number;
  /** Clock in milliseconds, for wall_time (tests pin it). */
  now?: () => number;
}

/**
 * Appends scalars and images to a TensorBoard event file in `logdir`. Records are buffered and appended
 * every `flushEvery` records, on `flush()`, on `close()`, and at process exit.
 */
export class TensorBoardWriter {
  /** The event file this writer appends to. */
  readonly path: string;
  private pending: Uint8Array[] = [];
  private firstPendingAt = 0;
  private closed = false;
  private readonly flushEvery: number;
  private readonly flushMs: number;
  private readonly now: () => number;
  private readonly onExit = () => this.flush();

  constructor(logdir: string, opts: TensorBoardOptions = {}) {
    this.flushEvery = opts.flushEvery ?? 20;
    this.flushMs = (opts.flushSecs ?? 10) * 1000;
    this.now = opts.now ?? Date.now;
    makeDirs(logdir);
    const base = join(logdir, `events.out.tfevents.${Math.floor(this.now() / 1000)}.${hostname()}`);
    // a second writer in the same second (e.g. a quick resume) must not append to the first one's file
    let path = base;
    for (let k = 1; existsSync(path); k++) path = `${base}.${k}`;
    this.path = path;
    writeFileSync(path, tfRecord(eventBytes(this.now() / 1000, 0, null, 'brain.Event:2')), { flag: 'wx' });
    process.on('exit', this.onExit);
  }

  private add(tag: string, step: number, value: ProtoWriter): void {
    if (this.closed) throw new Error(`TensorBoardWriter: '${this.path}' is closed`);
    if (!Number.isSafeInteger(step) || step < 0) throw new Error(`TensorBoardWriter: step ${step} for '${tag}' is not a non-negative integer`);
    const t = this.now();
    if (this.pending.length === 0) this.firstPendingAt = t;
    this.pending.push(tfRecord(eventBytes(t / 1000, step, value)));
    if (this.pending.length >= this.flushEvery || t - this.firstPendingAt >= this.flushMs) this.flush();
  }

  /** Logs one scalar (TensorBoard's Scalars tab). */
  scalar(tag: string, value: number, step: number): void {
    this.add(tag, step, new ProtoWriter().string(1, tag).float(2, value));
  }

  /**
   * Logs one encoded image (PNG bytes, e.g. from `encodeGridPng`) of `h`×`w` pixels with `channels`
   * 1 (grey), 3 (RGB) or 4 (RGBA), TensorBoard's Images tab.
   */
  image(tag: string, png: Uint8Array, h: number, w: number, channels: number, step: number): void {
    if (![1, 3, 4].includes(channels)) throw new Error(`TensorBoardWriter: image '${tag}' has ${channels} channels; expected 1, 3 or 4`);
    const img = new ProtoWriter().uint(1, h).uint(2, w).uint(3, channels).bytes(4, png);
    this.add(tag, step, new ProtoWriter().string(1, tag).message(4, img));
  }

  /** Appends every buffered record to the file. */
  flush(): void {
    if (this.pending.length === 0) return;
    const n = this.pending.reduce((s, r) => s + r.length, 0);
    const buf = new Uint8Array(n);
    let o = 0;
    for (const r of this.pending) {
      buf.set(r, o);
      o += r.length;
    }
    this.pending = [];
    appendFileSync(this.path, buf);
  }

  /** Flushes and stops accepting records. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    process.off('exit', this.onExit);
  }
}
