/** Shared CLI plumbing: the `--device` option, one-line error reporting, config flags. */
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { checkDeviceChoice, DEVICE_CHOICES, initDevice, type DeviceInfo } from '../platform/devices.js';

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
      process.stderr.write(`diff-instruct: error: ${msg.split('\n')[0]}\n`);
      if (process.env.DI_DEBUG) console.error(e);
      process.exitCode = 1;
      // Dawn keeps the event loop alive; leave promptly once the error is printed.
      setTimeout(() => process.exit(1), 50).unref();
    }
  };
}

/**
 * Runs a training loop with Ctrl-C wired to an AbortSignal: the first SIGINT asks the loop to finish its
 * step and write a snapshot and training state (so the run can `--resume`) instead of dying mid-write.
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSig = () => {
    process.stderr.write('\ninterrupted: finishing the step, writing a snapshot and the training state...\n');
    ac.abort();
  };
  process.once('SIGINT', onSig);
  try {
    return await fn(ac.signal);
  } finally {
    process.off('SIGINT', onSig);
  }
}

/**
 * `--dry-run`: checks, before any compute, what a real run would check first (the device name; `checks`
 * for input files: they exist and hold the right kind of network), then prints the resolved config as
 * plain JSON, which `--config` reads back as it is (each key's reason is in `--help`).
 */
export function dryRun(cfg: object, device: unknown, checks: (() => unknown)[] = []): void {
  if (typeof device === 'string') checkDeviceChoice(device);
  for (const check of checks) check();
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
    const args = process.argv.slice(2);
    const i = args.findIndex((a) => a === '--batch' || a.startsWith('--batch='));
    if (i >= 0) args.splice(i, args[i] === '--batch' ? 2 : 1);
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...args, '--batch', String(half)], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  }
}
