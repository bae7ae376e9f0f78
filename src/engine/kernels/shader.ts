/**
 * The shape of a WebGPU shader that jax-js's backend runs for a routine (its `createRoutineShader`
 * result), and small WGSL helpers shared by our kernel families. A routine's shaders run one after the
 * other; each binds all of the routine's inputs (read-only storage, bindings 0…) and then all of its
 * outputs (read-write storage), and runs one dispatch per pass.
 */

/** One compute shader of a routine: WGSL source and the dispatches to run. */
export interface RoutineShader {
  code: string;
  numInputs: number;
  numOutputs: number;
  hasUniform: false;
  passes: { grid: [number, number] }[];
}

/** WebGPU's guaranteed maximum number of workgroups along one dispatch dimension. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * Mesa llvmpipe (our CPU WebGPU) stops a shader invocation's loops after 65,535 iterations in total,
 * silently; every kernel here keeps each invocation's loop iterations at or below this.
 */
export const MAX_LOOP_ITERATIONS = 60000;

/** A 1-D count of workgroups as a 2-D grid within the per-dimension limit; `wid` recovers the index. */
export function grid2d(workgroups: number): [number, number] {
  if (workgroups <= MAX_WORKGROUPS_PER_DIM) return [workgroups, 1];
  const y = Math.ceil(workgroups / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(workgroups / y), y];
}

/**
 * Storage bindings for `inputs` (read-only) then `outputs` (read-write), and the phony uses that keep
 * every binding in the pipeline's automatic layout (jax-js binds all of them for every shader).
 */
export function bindings(inputs: string[], outputs: string[]): { decl: string; uses: string } {
  const decl = [
    ...inputs.map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}: array<f32>;`),
    ...outputs.map((n, i) => `@group(0) @binding(${inputs.length + i}) var<storage, read_write> ${n}: array<f32>;`),
  ].join('\n');
  const uses = [...inputs, ...outputs].map((n) => `_ = &${n};`).join(' ');
  return { decl, uses };
}

/** An i32 WGSL literal (negative values parenthesised). */
export function i32(v: number): string {
  if (!Number.isInteger(v) || Math.abs(v) > 2 ** 31 - 1) throw new Error(`kernel constant ${v} is not a 32-bit integer`);
  return v < 0 ? `(${v})` : `${v}`;
}
