/**
 * Crash-safe file writes for checkpoints, run options and logs.
 *
 * A checkpoint that is half-written when the process dies (Ctrl-C, out of memory, a killed job) must
 * never replace a good one, so whole files are written to a temporary file in the *same* folder
 * (rename is only atomic within one file system), flushed to disk with fsync, and renamed over the
 * target. Line-oriented logs (`log.txt`, `stats.jsonl`) are appended instead: a torn last line is the
 * worst a crash can do to them.
 */
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let tmpCounter = 0;

/**
 * Writes `data` to `path` atomically: readers see either the old file or the complete new one.
 * Creates missing parent folders. Strings are written as UTF-8.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  // pid + counter keep concurrent writers (two processes, or two calls in one) off each other's temp file
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${tmpCounter++}`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx');
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* the temp file may not exist yet */
    }
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot write '${path}': ${code ?? (e as Error).message}`);
  }
  syncDir(dir);
}

/** fsyncs a folder so the rename itself survives a power loss; some file systems refuse, which is harmless. */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* not supported here (e.g. some network or Windows file systems) */
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Appends `line` plus a newline to `path`, creating the file and its folders when missing. */
export function appendLine(path: string, line: string): void {
  try {
    appendFileSync(path, line + '\n');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new Error(`cannot append to '${path}': ${code ?? (e as Error).message}`);
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, line + '\n');
  }
}
