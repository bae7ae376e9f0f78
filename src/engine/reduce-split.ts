/**
 * How far jax-js's WebGPU reductions spread their loops over a workgroup (jax-js patch 'reduce-split',
 * patches/README.md). The patch always splits loops longer than 60,000 iterations (llvmpipe stops any
 * shader loop after 65,535); below that it splits the reductions with fewer than 16,384 outputs whose
 * loop (after the tuner's 4-term unrolling) has at least `minIterations` iterations, until each thread
 * keeps ≥ 16. On a GPU the few-output reductions of a training step need it: GroupNorm statistics (4,096
 * outputs × 784 iterations at batch 128) and bias gradients (128 outputs, 16 threads each, × 392) ran one
 * thread per output (or 16), at ~30 GB/s on an H100. On software adapters (llvmpipe) workgroup barriers
 * are emulated on the CPU and cost more than the longer loop: they keep the patch's 1,024.
 * `DI_REDUCE_SPLIT_MIN=<n>` overrides.
 */
const HOOK = Symbol.for('diff-instruct.reduceSplit');

/** Sets the loop length from which few-output reductions are split: 32 on hardware adapters, 1,024 on software ones. */
export function installReduceSplit({ software = false }: { software?: boolean } = {}): void {
  const env = typeof process === 'undefined' ? undefined : process.env?.DI_REDUCE_SPLIT_MIN;
  const n = env === undefined || env === '' ? (software ? 1024 : 32) : Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`DI_REDUCE_SPLIT_MIN must be a positive integer, not '${env}'`);
  setReduceSplitMinIterations(n);
}

/** Sets the loop length from which few-output reductions are split, for kernels compiled from now on. */
export function setReduceSplitMinIterations(n: number): void {
  (globalThis as any)[HOOK] = { minIterations: n };
}

/** The loop length from which few-output reductions are split now (the patch's 1,024 where none is installed). */
export function reduceSplitMinIterations(): number {
  return (globalThis as any)[HOOK]?.minIterations ?? 1024;
}
