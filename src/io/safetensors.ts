/**
 * safetensors files: read, read the header only, write atomically. The format itself (parsing,
 * validation, byte-exact serialization, f16/bf16 conversion) lives in safetensors-format.ts, which has
 * no Node APIs and is re-exported here, so `import * as safetensors from './safetensors.js'` still
 * gives the whole API in Node.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import { headerLength, parseHeader, parseSafetensors, serializeSafetensors, type TensorData, type TensorInfo } from './safetensors-format.js';

export * from './safetensors-format.js';

function readError(path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new Error(`cannot read '${path}': no such file`);
  if (code === 'EISDIR') return new Error(`cannot read '${path}': is a folder, not a file`);
  return new Error(`cannot read '${path}': ${code ?? (e as Error).message}`);
}

/** Reads and validates a safetensors file. Errors name `path`. */
export function readSafetensors(path: string): { tensors: Record<string, TensorData>; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw readError(path, e);
  }
  return parseSafetensors(bytes, path);
}

/**
 * Reads only the header of a safetensors file (cheap for big checkpoints) and validates it against the
 * file size: everything `readSafetensors` checks except the tensor bytes themselves.
 */
export function readSafetensorsHeader(path: string): { tensors: Record<string, TensorInfo>; metadata: Record<string, string> } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw readError(path, e);
  }
  try {
    const size = fstatSync(fd).size;
    const first8 = new Uint8Array(8);
    readSync(fd, first8, 0, Math.min(8, size), 0);
    const n = headerLength(first8, size, path);
    const header = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = readSync(fd, header, got, n - got, 8 + got);
      if (r === 0) throw new Error(`${path}: file ended inside the header`);
      got += r;
    }
    const { entries, metadata } = parseHeader(header, size - 8 - n, path);
    const tensors: Record<string, TensorInfo> = {};
    for (const { name, info } of entries) tensors[name] = info;
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}
/** Writes a safetensors file atomically (temp file + fsync + rename). */
export function writeSafetensors(path: string, tensors: Record<string, TensorData>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
