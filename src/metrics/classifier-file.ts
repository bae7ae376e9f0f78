/**
 * The feature classifier from a file (Node): `loadClassifier` reads it and hands the bytes to
 * `classifierFromBytes` (src/metrics/classifier.ts, which pages use on fetched bytes).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { classifierFromBytes, type LoadedClassifier } from './classifier.js';

/** sha256 (hex) of a file's bytes. */
export function fileSha256(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`cannot read '${path}'`);
  }
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Loads a classifier written by `diff-instruct train-classifier`; a missing file, a file that is not a
 * classifier, or a tensor whose shape disagrees with the stored config is a one-line error.
 */
export async function loadClassifier(path: string): Promise<LoadedClassifier> {
  if (!existsSync(path)) throw new Error(`classifier '${path}' does not exist (train one with: diff-instruct train-classifier --dataset <name> --out ${path})`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`cannot read '${path}'`);
  }
  return classifierFromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
