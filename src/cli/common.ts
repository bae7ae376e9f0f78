/** Shared CLI plumbing: the `--device` option, one-line error reporting, config flags. */
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { z } from 'zod';
import { configFromOptions, defaultsNotGiven, describeValues, type Schema } from '../config/config.js';
import { WASM_IMAGE_DEFAULTS } from '../distill/config.js';
import { FIT_PROBE_ENV, FitProbeDone, isFitProbe } from '../train/loop.js';
import { checkDeviceChoice, DEVICE_CHOICES, initDevice, type DeviceInfo } from '../platform/devices.js';
import { silenceHeartbeats } from '../run/heartbeat.js';

/** Adds `--device auto|webgpu|wasm` to a command. */
export function addDeviceOption(cmd: Command): Command {
  return cmd.option(`--device <${DEVICE_CHOICES.join('|')}>`, 'compute device; auto: a hardware GPU through WebGPU, else Wasm (default: auto)');
}

/** Initialises the device named by `--device` and says on stderr which one runs. */
export async function useDevice(choice: string | undefined, quiet = false): Promise<DeviceInfo> {
  const info = await initDevice(choice ?? 'auto');
  if (!quiet) process.stderr.write(`device: ${info.backend} — ${info.name}${choice === 'auto' || !choice ? ' (auto)' : ''}\n`);
  return info;
}

/** Wraps a command action so any thrown error becomes `diff-instruct: error: <one line>` and exit code 1. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      const msg = isWasmOutOfMemory(e)
        ? "out of WebAssembly memory (jax-js's Wasm is capped at 4 GiB): lower --batch, or use --device webgpu"
        : e instanceof Error
          ? e.message
          : String(e);
      silenceHeartbeats(); // no live line redrawn after the error
      process.stderr.write(`diff-instruct: error: ${msg.split('\n')[0]}\n`);
      if (process.env.DI_DEBUG) console.error(e);
      // 1, or 128 + a signal for a run that a signal stopped
      const code = typeof (e as { exitCode?: unknown })?.exitCode === 'number' ? (e as { exitCode: number }).exitCode : 1;
      process.exitCode = code;
      // Dawn keeps the event loop alive; leave promptly once the error is printed.
      setTimeout(() => process.exit(code), 50).unref();
    }
  };
}

/**
 * A distill-style config (distill, refine) from the command line, with WASM_IMAGE_DEFAULTS in place of
 * the schema's defaults when the device is Wasm and the teacher an image model: the device is
 * initialised (quietly) first, and the defaults it brings are said on stderr (so also by --dry-run).
 */
export async function distillConfigFor<S extends Schema>(schema: S, opts: Record<string, unknown>): Promise<{ cfg: z.infer<S>; note: string }> {
  const plain = configFromOptions(schema, opts); // checks the file and flags first
  const dev = await useDevice(opts.device as string | undefined, true);
  if (dev.backend !== 'wasm' || String(plain.teacher).startsWith('toy:')) return { cfg: plain, note: '' };
  const under = defaultsNotGiven(schema, opts, WASM_IMAGE_DEFAULTS);
  if (!Object.keys(under).length) return { cfg: plain, note: '' };
  const note = `defaults on WebAssembly (CPU): ${describeValues(under)} (batch 128 does not fit in its 4 GiB and 200 kimg would take days; a flag or --config value overrides each)`;
  return { cfg: configFromOptions(schema, opts, under), note };
}

/** Exit codes of a run stopped by a signal (128 + the signal's number, as a shell reports it). */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;
let received: StopSignal | null = null;

/** True once a stop signal arrived: a closed terminal (SIGHUP) must not end the process mid-write (main.ts). */
export const isStopping = (): boolean => received !== null;

/**
 * Runs a training loop with SIGINT (Ctrl-C), SIGTERM (kill, a job scheduler) and SIGHUP (the terminal
 * closed) wired to an AbortSignal: the first asks the loop to finish its step and write a snapshot and
 * training state (so the run can `--resume`) instead of dying mid-write; a second one exits at once,
 * leaving the latest state written (states are written atomically, on a schedule: `stateMinutes`).
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSig = (sig: StopSignal) => {
    if (received) {
      silenceHeartbeats();
      process.stderr.write(`\n${sig} again: stopping now, without a final snapshot; --resume <run folder> continues from its latest training state\n`);
      process.exit(STOP_SIGNALS[sig]);
    }
    received = sig;
    process.stderr.write(`\n${sig}: finishing the step, then writing a snapshot and the training state (${sig} again stops at once)\n`);
    ac.abort();
  };
  const handlers = Object.keys(STOP_SIGNALS).map((sig) => [sig, () => onSig(sig as StopSignal)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  try {
    return await fn(ac.signal);
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

/**
 * After a training command: a run stopped by a signal exits non-zero (128 + the signal) and, like one
 * stopped by its wall-clock budget, prints the exact command that continues it.
 */
export function reportStop(r: { runDir: string; stopReason: '' | 'max-minutes' | 'interrupted'; steps: number }, command: string, device?: string): void {
  if (!r.stopReason) return;
  const sig = received ?? 'SIGINT';
  if (r.stopReason === 'interrupted') process.exitCode = STOP_SIGNALS[sig];
  const why = r.stopReason === 'interrupted' ? `stopped by ${sig}` : 'stopped at its wall-clock budget (--max-minutes)';
  if (r.steps === 0) {
    process.stderr.write(`diff-instruct: ${why} before its first step: nothing to resume; run the command again\n`);
    return;
  }
  const args = [command, '--resume', r.runDir, ...(device ? ['--device', device] : [])];
  process.stderr.write(`diff-instruct: ${why}; continue it with:\n  ${invocation()} ${args.map(shellQuote).join(' ')}\n`);
}

/** How this program was started, as a command to type again: `node bin/diff-instruct.mjs` (relative to the current folder). */
export function invocation(): string {
  const script = process.argv[1] ?? 'diff-instruct';
  const rel = relative(process.cwd(), script);
  return `node ${shellQuote(rel && !rel.startsWith('..') ? rel : script)}`;
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * `--dry-run`: checks, before any compute, what a real run would check first (the device name; `checks`
 * for input files: they exist and hold the right kind of network), then prints the resolved config as
 * plain JSON, which `--config` reads back as it is (each key's reason is in `--help`).
 */
export function dryRun(cfg: object, device: unknown, checks: (() => unknown)[] = [], note = ''): void {
  if (typeof device === 'string') checkDeviceChoice(device);
  for (const check of checks) check();
  if (note) process.stderr.write(note + '\n'); // what the config holds beyond the user's values (e.g. a device's defaults)
  console.log(JSON.stringify(cfg, null, 2));
}

/** True for jax-js's Wasm allocation failure (its linear memory is capped at 4 GiB). */
export function isWasmOutOfMemory(e: unknown): boolean {
  return e instanceof Error && /4 GiB memory32 limit/.test(e.message);
}

/**
 * Runs a command whose output depends on its seeds only, not on its batch size (sample, eval of a
 * network). When a batch does not fit in Wasm's 4 GiB, the process's Wasm memory is left fragmented
 * (jax-js never returns it), so the command runs again in a fresh process with half the batch, as
 * often as needed, and says so; at batch 1 it is a one-line error.
 */
export async function withBatchThatFits(batch: number, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (!isWasmOutOfMemory(e)) throw e;
    if (batch <= 1) throw new Error("one image does not fit in WebAssembly's 4 GiB memory for this network: use --device webgpu");
    const half = Math.ceil(batch / 2);
    process.stderr.write(`diff-instruct: batch ${batch} does not fit in WebAssembly's 4 GiB memory: running again with --batch ${half}\n`);
    const args = withoutFlag(process.argv.slice(2), '--batch');
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...args, '--batch', String(half)], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  }
}

/** The command line with `--<flag> <v>` / `--<flag>=<v>` removed. */
function withoutFlag(args: string[], flag: string): string[] {
  const out = [...args];
  const i = out.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i >= 0) out.splice(i, out[i] === flag ? 2 : 1);
  return out;
}

/**
 * Runs a trainer whose batch is part of its result, so a batch that does not fit in WebAssembly's 4 GiB
 * cannot be split behind the user's back. Instead, on that error the same command runs again in fresh
 * processes for one step at half the batch, a quarter, … (in a scratch run folder), and the error names
 * the largest of those that fits: `batch 64 does not fit …; batch 32 does …: run again with --batch 32`.
 * A resumed run keeps its batch, so it only gets the plain message. In the probe process itself the
 * loop ends after its first step (`FitProbeDone`) and the process exits 0.
 */
export async function withTrainingBatchThatFits(batch: number, run: () => Promise<void>, opts: { resumed?: boolean } = {}): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (e instanceof FitProbeDone) {
      process.exit(0);
    }
    if (!isWasmOutOfMemory(e) || isFitProbe()) throw e;
    const fits = opts.resumed ? null : withProbeSignals((stopped) => largestBatchThatFits(batch, tryTrainingStep(batch, stopped)));
    if (fits === null) throw new Error(`batch ${batch} does not fit in WebAssembly's 4 GiB memory${opts.resumed ? ' (a resumed run keeps its batch)' : ''}: use --device webgpu${opts.resumed ? '' : ', or a smaller --batch'}`);
    if (fits === 0) throw new Error(`not even batch 1 fits in WebAssembly's 4 GiB memory for this network: use --device webgpu`);
    throw new Error(`batch ${batch} does not fit in WebAssembly's 4 GiB memory; batch ${fits} does (one step measured in a fresh process): run again with --batch ${fits}, or use --device webgpu`);
  }
}

export type FitResult = 'fits' | 'out-of-memory' | 'failed';

/** The largest of batch/2, batch/4, …, 1 for which `tryBatch` fits (0: none does; null: a try failed for another reason). */
export function largestBatchThatFits(batch: number, tryBatch: (b: number) => FitResult): number | null {
  for (let b = Math.floor(batch / 2); b >= 1; b = Math.floor(b / 2)) {
    const r = tryBatch(b);
    if (r === 'fits') return b;
    if (r === 'failed') return null;
  }
  return 0;
}

/**
 * Runs the batch probe with SIGINT/SIGTERM/SIGHUP caught: a signal that lands while a probe process runs
 * (spawnSync blocks, so the handler runs when it returns) ends the probe after its scratch folder is
 * removed, with a one-line error and exit code 128 + the signal.
 */
function withProbeSignals<T>(fn: (stopped: () => StopSignal | null) => T): T {
  let got: StopSignal | null = null;
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, () => (got ??= sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  try {
    return fn(() => got);
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

/** One training step of this command line at batch b, in a fresh process and a scratch run folder (see FIT_PROBE_ENV). */
function tryTrainingStep(batch: number, stopped: () => StopSignal | null = () => null): (b: number) => FitResult {
  const base = withoutFlag(withoutFlag(process.argv.slice(2), '--batch'), '--outdir');
  return (b) => {
    process.stderr.write(`diff-instruct: batch ${batch} does not fit in WebAssembly's 4 GiB memory; trying one step at batch ${b} in a fresh process…\n`);
    const scratch = mkdtempSync(join(tmpdir(), 'di-fit-'));
    try {
      const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...base, '--batch', String(b), '--outdir', scratch], {
        encoding: 'utf8',
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, [FIT_PROBE_ENV]: '1' },
      });
      const sig = stopped() ?? (r.signal === 'SIGINT' || r.signal === 'SIGTERM' || r.signal === 'SIGHUP' ? r.signal : null);
      if (sig) {
        rmSync(scratch, { recursive: true, force: true });
        throw Object.assign(new Error(`stopped by ${sig} while trying batch ${b} in a fresh process (nothing was written)`), { exitCode: STOP_SIGNALS[sig] });
      }
      if (r.status === 0) return 'fits';
      return /out of WebAssembly memory|4 GiB memory32 limit/.test(r.stderr ?? '') ? 'out-of-memory' : 'failed';
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  };
}
