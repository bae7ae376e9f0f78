/**
 * Run folders in the style of EDM's train.py: every run gets `<outdir>/<NNNNN>-<desc>/`, where NNNNN is
 * one more than the largest numeric prefix among the folders already in `outdir` (`{id:05d}-{desc}`),
 * and holds:
 *   training_options.json                        the resolved config (+ meta), written once, atomically
 *   log.txt                                      everything `log()` printed
 *   stats.jsonl                                  one JSON object per line (`stats()`)
 *   events.out.tfevents.*                        TensorBoard scalars and sample grids (`tb`)
 *   <prefix>-<kimg, 6 digits>.safetensors        snapshots, found again by `latestSnapshot`
 * `openRunDir` reopens a folder to resume a run: the logs are appended to, never truncated.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { appendLine, makeDirs, writeFileAtomic } from '../io/atomic.js';
import { TensorBoardWriter } from '../io/tensorboard.js';

export const OPTIONS_FILE = 'training_options.json';

/** What `training_options.json` holds. */
export interface RunOptions {
  config: unknown;
  meta: unknown;
}

export interface RunDirOptions {
  /** Print `log()` lines on stdout as well as appending them to log.txt (default true). */
  echo?: boolean;
}

export interface RunDir {
  /** The run folder. */
  readonly path: string;
  /** The contents of training_options.json. */
  readonly options: RunOptions;
  /** Appends `line` to log.txt and prints it on stdout. */
  log(line: string): void;
  /** Appends `obj` as one JSON line to stats.jsonl (NaN/Infinity become null, as JSON has none). */
  stats(obj: object): void;
  /** Path of `name` inside the run folder (subfolders allowed; it may not climb out). */
  file(name: string): string;
  /** TensorBoard writer for this folder, created on first use. */
  readonly tb: TensorBoardWriter;
  /**
   * For `--resume` from `step` (`kimg`): what the run wrote past that point (stats.jsonl rows of later
   * steps; snapshots, training states and grids of later kimg) moves into a new `superseded-N/` folder,
   * so the resumed run neither repeats rows nor overwrites a later file with different content. Returns
   * a one-line summary of what moved ('' when nothing did).
   */
  rewind(step: number, kimg: number): string;
  /** Flushes and closes what the run folder opened (the TensorBoard file). */
  close(): void;
  /** Closes and deletes the folder: for a new run that failed before its first step (nothing in it is worth keeping). */
  discard(): void;
}

class RunFolder implements RunDir {
  private tbWriter: TensorBoardWriter | null = null;
  constructor(
    readonly path: string,
    readonly options: RunOptions,
    private readonly echo: boolean,
  ) {}

  log(line: string): void {
    appendLine(join(this.path, 'log.txt'), line);
    // on a terminal, first erase a live progress line (run/progress.ts) that may stand there
    if (this.echo) process.stdout.write((process.stdout.isTTY ? '\r\x1b[K' : '') + line + '\n');
  }

  stats(obj: object): void {
    appendLine(join(this.path, 'stats.jsonl'), JSON.stringify(obj));
  }

  file(name: string): string {
    const n = normalize(name);
    if (!name || isAbsolute(name) || n === '..' || n.startsWith('..' + sep)) {
      throw new Error(`run folder file '${name}' must be a relative path inside '${this.path}'`);
    }
    return join(this.path, n);
  }

  get tb(): TensorBoardWriter {
    this.tbWriter ??= new TensorBoardWriter(this.path);
    return this.tbWriter;
  }

  rewind(step: number, kimg: number): string {
    const statsPath = join(this.path, 'stats.jsonl');
    const keep: string[] = [], later: string[] = [];
    if (existsSync(statsPath)) {
      for (const line of readFileSync(statsPath, 'utf8').split('\n')) {
        if (!line) continue;
        let rowStep: unknown;
        try {
          rowStep = JSON.parse(line).step;
        } catch {
          /* a torn last line from a killed run: dropped with the rows after the resumed step */
          later.push(line);
          continue;
        }
        (typeof rowStep === 'number' && rowStep > step ? later : keep).push(line);
      }
    }
    const files = readdirSync(this.path).filter((n) => {
      const m = FILE_KIMG_RE.exec(n);
      return m !== null && Math.round(Number(m[1]) * 1000) > Math.round(kimg * 1000);
    });
    if (!later.length && !files.length) return '';
    let n = 0;
    while (existsSync(join(this.path, `superseded-${n}`))) n++;
    const dir = join(this.path, `superseded-${n}`);
    mkdirSync(dir);
    if (later.length) {
      writeFileAtomic(join(dir, 'stats.jsonl'), later.join('\n') + '\n');
      writeFileAtomic(statsPath, keep.length ? keep.join('\n') + '\n' : '');
    }
    for (const f of files) renameSync(join(this.path, f), join(dir, f));
    return `moved what the run wrote after step ${step} into ${dir}: ${later.length} stats rows, ${files.length} files`;
  }

  close(): void {
    this.tbWriter?.close();
  }

  discard(): void {
    this.close();
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** `<prefix>-<kimgStem>.safetensors|png`: the snapshots, states and grids a run writes by kimg. */
const FILE_KIMG_RE = /^[A-Za-z][A-Za-z0-9_-]*-(\d{6,}(?:\.\d{3})?)\.(?:safetensors|png)$/;

const DESC_RE = /^[A-Za-z0-9][A-Za-z0-9._+=-]*$/;

/** Ids already used in `outdir`: the leading digits of each subfolder's name (EDM: `re.match(r'^\d+', x)`). */
function existingIds(outdir: string): number[] {
  const ids: number[] = [];
  for (const ent of readdirSync(outdir, { withFileTypes: true })) {
    const m = /^\d+/.exec(ent.name);
    if (m && ent.isDirectory()) ids.push(Number(m[0]));
  }
  return ids;
}

/**
 * Creates `<outdir>/<NNNNN>-<desc>/` with NNNNN = 1 + the largest existing id (00000 in an empty or new
 * `outdir`) and writes training_options.json = `{config, meta}` atomically.
 */
export function createRunDir(outdir: string, desc: string, config: object, meta: object = {}, opts: RunDirOptions = {}): RunDir {
  if (!DESC_RE.test(desc)) throw new Error(`run description '${desc}' may only contain letters, digits and . _ + = - (and must start with a letter or digit)`);
  makeDirs(outdir);
  let id = Math.max(-1, ...existingIds(outdir)) + 1;
  let path: string;
  for (;;) {
    path = join(outdir, `${String(id).padStart(5, '0')}-${desc}`);
    try {
      mkdirSync(path); // not recursive: EEXIST means another process took this id at the same moment
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create run folder '${path}': ${(e as NodeJS.ErrnoException).code}`);
      id++;
    }
  }
  const options: RunOptions = { config, meta };
  writeFileAtomic(join(path, OPTIONS_FILE), JSON.stringify(options, null, 2) + '\n');
  return new RunFolder(path, options, opts.echo ?? true);
}

/** Reopens an existing run folder (for `--resume`): logs, stats and TensorBoard append to what is there. */
export function openRunDir(path: string, opts: RunDirOptions = {}): RunDir {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new Error(`cannot open run folder '${path}': no such folder`);
  }
  if (!isDir) throw new Error(`cannot open run folder '${path}': not a folder`);
  let text: string;
  try {
    text = readFileSync(join(path, OPTIONS_FILE), 'utf8');
  } catch {
    throw new Error(`'${path}' is not a run folder (no ${OPTIONS_FILE})`);
  }
  let options: RunOptions;
  try {
    options = JSON.parse(text);
  } catch {
    throw new Error(`'${join(path, OPTIONS_FILE)}' is not valid JSON`);
  }
  if (typeof options !== 'object' || options === null || !('config' in options)) {
    throw new Error(`'${join(path, OPTIONS_FILE)}' has no 'config' key`);
  }
  return new RunFolder(path, options, opts.echo ?? true);
}

/**
 * The kimg part of EDM's file names: whole kimg as 6 digits (`000200`, as EDM); a kimg between whole
 * numbers adds its thousandths (`000000.128`: the CPU quick start's ticks are 0.128 kimg; `000001.500`),
 * so two snapshots or grids of one run never share a name. kimg 0 is `000000`.
 */
function kimgStem(kimg: number, what: string): string {
  if (!Number.isFinite(kimg) || kimg < 0) throw new Error(`${what} kimg ${kimg} is not a non-negative number`);
  const milli = Math.round(kimg * 1000);
  const whole = String(Math.floor(milli / 1000)).padStart(6, '0');
  return milli % 1000 ? `${whole}.${String(milli % 1000).padStart(3, '0')}` : whole;
}

/** EDM's snapshot name: `<prefix>-<kimg>.safetensors` (e.g. `network-snapshot-000200.safetensors`; kimgStem). */
export function snapshotName(prefix: string, kimg: number): string {
  return `${prefix}-${kimgStem(kimg, 'snapshot')}.safetensors`;
}

/** File name of a sample grid at `kimg`: EDM's `<prefix>-<kimg>.png` (`fakes-000200.png`, `fakes-000000.128.png`). */
export function gridName(kimg: number, prefix = 'fakes'): string {
  return `${prefix}-${kimgStem(kimg, 'grid')}.png`;
}

/** Path of the snapshot `<prefix>-<kimg>.safetensors` with the highest kimg in `runPath`, or null if none. */
export function latestSnapshot(runPath: string, prefix: string): string | null {
  let names: string[];
  try {
    names = readdirSync(runPath);
  } catch {
    throw new Error(`cannot read run folder '${runPath}': no such folder`);
  }
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{6,}(?:\\.\\d{3})?)\\.safetensors$`);
  let best: string | null = null;
  let bestKimg = -1;
  for (const n of names) {
    const m = re.exec(n);
    if (m && Number(m[1]) > bestKimg) {
      bestKimg = Number(m[1]);
      best = n;
    }
  }
  return best === null ? null : join(runPath, best);
}

/**
 * Resolves `--resume` (a run folder, whose latest `<prefix>-*.safetensors` is taken, or a state file)
 * to the run folder and state file; a missing path or a folder without states is a one-line error.
 */
export function resolveResume(resume: string, prefix: string): { runPath: string; statePath: string } {
  if (!existsSync(resume)) throw new Error(`resume: '${resume}' does not exist`);
  if (statSync(resume).isDirectory()) {
    const s = latestSnapshot(resume, prefix);
    if (!s) throw new Error(`resume: '${resume}' holds no ${prefix}-*.safetensors`);
    return { runPath: resume, statePath: s };
  }
  return { runPath: dirname(resume), statePath: resume };
}
