/**
 * Crash-safe file writes for checkpoints, run options and logs.
 *
 * A checkpoint that is half-written when the process dies (Ctrl-C, out of memory, a killed job) must
 * never replace a good one, so whole files are written to a temporary file in the *same* folder
 * (rename is only atomic within one file system), flushed to disk with fsync, and renamed over the
 * target. Line-oriented logs (`log.txt`, `stats.jsonl`) are appended instead: a torn last line is the
 * worst a crash can do to them.
 */
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

let tmpCounter = 0;

/**
 * Walks up from `dir` to its first existing ancestor (or itself): returns the missing folders, deepest
 * first, and throws `<prefix>: '<path>' is a file, not a folder` (or the stat error's code) on the way.
 */
function missingFolders(dir: string, prefix: string): string[] {
  const missing: string[] = [];
  for (let d = resolve(dir); ; ) {
    let st;
    try {
      st = statSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(`${prefix}: ${code ?? (e as Error).message} at '${d}'`);
      missing.push(d);
      const up = dirname(d);
      if (up === d) return missing;
      d = up;
      continue;
    }
    if (!st.isDirectory()) throw new Error(`${prefix}: '${d}' is a file, not a folder`);
    return missing;
  }
}

/**
 * Checks, without creating anything, that `dir` is a folder or could be made one: its first existing
 * ancestor (or itself) must be a folder. For output flags, checked before any compute; `what` names the
 * flag in the error (`--outdir 'x': '/abs/x' is a file, not a folder`).
 */
export function checkFolderTarget(dir: string, what: string): void {
  missingFolders(dir, `${what} '${dir}'`);
}

/**
 * `mkdir -p` that fails instead of hanging: Node 20's `mkdirSync(dir, {recursive: true})` loops forever
 * where mkdir answers ENOENT under an existing parent (e.g. `/proc/x`, measured). Creates each missing
 * folder in turn; errors name the folder and the reason (`ENOENT`, `EACCES`, `ENOTDIR`, …).
 */
export function makeDirs(dir: string): void {
  for (const m of missingFolders(dir, `cannot create folder '${dir}'`).reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new Error(`cannot create folder '${dir}': ${code ?? (e as Error).message}${m !== resolve(dir) ? ` at '${m}'` : ''}`);
    }
  }
}

/**
 * Writes `data` to `path` atomically: readers see either the old file or the complete new one.
 * Creates missing parent folders. Strings are written as UTF-8.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  makeDirs(dir);
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
    makeDirs(dirname(path));
    appendFileSync(path, line + '\n');
  }
}
