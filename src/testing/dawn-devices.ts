/**
 * Dawn devices for testing our kernels' shaders outside jax-js on a CPU machine: Mesa llvmpipe (Dawn's
 * OpenGL ES backend: runs them) and Dawn's null backend (compiles and validates them, runs nothing), a
 * runner for a plan's shaders, and a float64 convolution of strided views to compare with. Use one of the
 * two per test file (each file runs in its own process): with Dawn's null instance and an llvmpipe device
 * in the same process, a case took 20–270 s instead of ~0.2 s (2-core CPU machine, 2026-12-07).
 */
import assert from 'node:assert/strict';
import { create as createDawn, globals as dawnGlobals } from 'webgpu';
import type { ConvGemmSpec } from '../engine/kernels/conv-gemm.js';

/** out = conv(spec) in float64 from the flat buffers, operands rounded by `round` (the spec's own definition, independent of the kernels). */
export function convOfViews(spec: ConvGemmSpec, lhs: Float32Array, rhs: Float32Array, round: (x: number) => number): Float64Array {
  const [N, C, H, W] = spec.lhs.shape;
  const [O, , kh, kw] = spec.rhs.shape;
  const [, , Ho, Wo] = spec.outShape;
  const at = (v: ConvGemmSpec['lhs'], a: Float32Array, i: number[]) => round(a[v.offset + i.reduce((s, x, d) => s + x * v.strides[d], 0)]);
  const out = new Float64Array(N * O * Ho * Wo);
  for (let b = 0; b < N; b++)
    for (let o = 0; o < O; o++)
      for (let y = 0; y < Ho; y++)
        for (let x = 0; x < Wo; x++) {
          let s = 0;
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = y + ky - spec.padLo[0];
                const ix = x + kx - spec.padLo[1];
                if (iy >= 0 && iy < H && ix >= 0 && ix < W) s += at(spec.lhs, lhs, [b, c, iy, ix]) * at(spec.rhs, rhs, [o, c, ky, kx]);
              }
          out[((b * O + o) * Ho + y) * Wo + x] = s;
        }
  return out;
}

/** The Dawn instances behind the devices, held for the process's life (Dawn crashes if one is collected while its device lives). */
let gles: GPU | null = null;
let nullGpu: GPU | null = null;

/**
 * A device on Dawn's null backend (`allow_unsafe_apis`) with `features`, and its instance, or the reason
 * there is none: WGSL is compiled and pipelines validated, nothing runs.
 */
export async function nullDevice(features: GPUFeatureName[] = []): Promise<{ gpu: GPU; device: GPUDevice } | string> {
  let mod: any;
  try {
    mod = await import('webgpu');
  } catch (e) {
    return `the webgpu package does not load (${(e as Error).message})`;
  }
  Object.assign(globalThis, mod.globals);
  nullGpu ??= mod.create(['enable-dawn-features=allow_unsafe_apis', 'backend=null']) as GPU;
  const adapter = await nullGpu.requestAdapter({});
  if (!adapter) return "Dawn's null backend gives no adapter";
  const missing = features.filter((f) => !adapter.features.has(f));
  if (missing.length) return `Dawn's null adapter lacks ${missing.join(', ')}`;
  const { maxComputeWorkgroupSizeX, maxComputeInvocationsPerWorkgroup } = adapter.limits;
  return { gpu: nullGpu, device: await adapter.requestDevice({ requiredFeatures: features, requiredLimits: { maxComputeWorkgroupSizeX, maxComputeInvocationsPerWorkgroup } }) };
}

/** Compiles `code` on `dev` and makes its pipeline; the compiler's errors and the validation error, if any (empty: accepted). */
export async function compileErrors(dev: GPUDevice, code: string): Promise<string[]> {
  const module = dev.createShaderModule({ code });
  const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}: ${m.message}`);
  dev.pushErrorScope('validation');
  await dev.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } }).catch((e: Error) => errors.push(e.message));
  const v = await dev.popErrorScope();
  if (v) errors.push(v.message);
  return errors;
}

/** Dawn's OpenGL ES adapter (Mesa llvmpipe), or the reason there is none. */
export async function llvmpipeDevice(): Promise<GPUDevice | string> {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  Object.assign(globalThis, dawnGlobals);
  gles ??= createDawn(['backend=opengles']) as GPU;
  const adapter = await gles.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  if (!adapter) return "Dawn's OpenGL ES backend gives no adapter";
  // 256 invocations (the split-K sum, the largest tiles); the f16 kernels' tiles emulated in f32 take twice their workgroup memory
  const { maxComputeWorkgroupSizeX, maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupStorageSize } = adapter.limits;
  return adapter.requestDevice({ requiredLimits: { maxComputeWorkgroupSizeX, maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupStorageSize } });
}

/** Runs a plan's shaders once on (lhs, rhs) and reads the output. */
export async function runPlan(dev: GPUDevice, shaders: { code: string; numInputs: number; numOutputs: number; passes: { grid: [number, number] }[] }[], scratchBytes: number[], lhs: Float32Array, rhs: Float32Array, outLen: number): Promise<Float32Array> {
  const U = GPUBufferUsage;
  const buf = (size: number, data?: Float32Array) => {
    const b = dev.createBuffer({ size, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
    if (data) dev.queue.writeBuffer(b, 0, data.buffer as ArrayBuffer);
    return b;
  };
  const all = [buf(lhs.byteLength, lhs), buf(rhs.byteLength, rhs), buf(outLen * 4), ...scratchBytes.map((b) => buf(b))];
  const enc = dev.createCommandEncoder();
  for (const sh of shaders) {
    dev.pushErrorScope('validation');
    const pipe = dev.createComputePipeline({ layout: 'auto', compute: { module: dev.createShaderModule({ code: sh.code }), entryPoint: 'main' } });
    const bg = dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: all.slice(0, sh.numInputs + sh.numOutputs).map((buffer, binding) => ({ binding, resource: { buffer } })) });
    const err = await dev.popErrorScope();
    assert.equal(err?.message, undefined);
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, bg);
    for (const p of sh.passes) pass.dispatchWorkgroups(p.grid[0], p.grid[1]);
    pass.end();
  }
  const read = dev.createBuffer({ size: outLen * 4, usage: U.MAP_READ | U.COPY_DST });
  enc.copyBufferToBuffer(all[2], 0, read, 0, outLen * 4);
  dev.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(read.getMappedRange()).slice();
  read.unmap();
  for (const b of [...all, read]) b.destroy();
  return out;
}

