/**
 * Shared by the GPU conv benchmarks (f16-check.mjs, conv-sweep.mjs): the distinct convs of a SongUNet
 * preset, and running our conv kernels' plans (src/engine/kernels/conv-gemm*.ts) directly on a WebGPU
 * device — seeded operand buffers, a plan's shaders as pipelines, timing, reading back, relative error.
 */
import { songUNetConfig, songUNetShapes } from '../../src/nets/song-unet.ts';

export const LABELS = 10;

/** The value after `--name` on the command line, or `dflt`. */
export function argOpt(name, dflt) {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
}

/**
 * Distinct convs of a SongUNet preset on 28×28×1 data, each with how many layers have it:
 * { C, O, H, k, count }, the resolution read from the EDM parameter name.
 */
export function songUNetConvs(preset) {
  const shapes = songUNetShapes(songUNetConfig(preset, { imgResolution: 28, channels: 1, labelDim: LABELS }));
  const seen = new Map();
  for (const [name, s] of Object.entries(shapes)) {
    if (s.length !== 4 || !name.endsWith('.weight')) continue;
    const res = /\.(\d+)x\d+_/.exec(name);
    if (!res) throw new Error(`cannot read the resolution of conv ${name}`);
    const [O, C, k] = s;
    const key = `${C}-${O}-${res[1]}-${k}`;
    const row = seen.get(key) ?? { C, O, H: Number(res[1]), k, count: 0 };
    row.count++;
    seen.set(key, row);
  }
  return [...seen.values()];
}

/** max |a − e| / max |e|. */
export function relErr(a, e) {
  let d = 0, m = 0;
  for (let i = 0; i < e.length; i++) {
    d = Math.max(d, Math.abs(a[i] - e[i]));
    m = Math.max(m, Math.abs(e[i]));
  }
  return d / (m || 1);
}

export const round = (v, d = 4) => Number(v.toPrecision(d));

/** Buffers, routines and timing on `dev` (a GPUDevice). */
export function gpuKit(dev) {
  const U = globalThis.GPUBufferUsage;
  /** A storage buffer of `n` floats, uniform in [−1, 1) (seeded, so every run uses the same operands). */
  function randomBuffer(n, seed) {
    const a = new Float32Array(n);
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      a[i] = s / 2 ** 31 - 1;
    }
    const b = dev.createBuffer({ size: n * 4, usage: U.STORAGE | U.COPY_DST | U.COPY_SRC });
    dev.queue.writeBuffer(b, 0, a);
    return b;
  }
  /** An output buffer of `n` floats. */
  const outBuffer = (n) => dev.createBuffer({ size: n * 4, usage: U.STORAGE | U.COPY_SRC });
  /** A plan's shaders as pipelines bound to (lhs, rhs, out, scratch…); `run(n)` dispatches the routine n times in one pass. */
  function routine(plan, lhs, rhs, out) {
    const scratch = plan.scratchBytes.map((size) => dev.createBuffer({ size, usage: U.STORAGE }));
    const steps = plan.shaders.map((sh) => {
      const module = dev.createShaderModule({ code: sh.code });
      const pipe = dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const bufs = [lhs, rhs, out, ...scratch].slice(0, sh.numInputs + sh.numOutputs);
      const bg = dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: bufs.map((buffer, binding) => ({ binding, resource: { buffer } })) });
      return { pipe, bg, passes: sh.passes };
    });
    const run = (n) => {
      const enc = dev.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let r = 0; r < n; r++)
        for (const s of steps) {
          pass.setPipeline(s.pipe);
          pass.setBindGroup(0, s.bg);
          for (const p of s.passes) pass.dispatchWorkgroups(p.grid[0], p.grid[1]);
        }
      pass.end();
      dev.queue.submit([enc.finish()]);
    };
    return { run, dispose: () => scratch.forEach((b) => b.destroy()) };
  }
  async function read(buf, n) {
    const rb = dev.createBuffer({ size: n * 4, usage: U.MAP_READ | U.COPY_DST });
    const enc = dev.createCommandEncoder();
    enc.copyBufferToBuffer(buf, 0, rb, 0, n * 4);
    dev.queue.submit([enc.finish()]);
    await rb.mapAsync(globalThis.GPUMapMode.READ);
    const out = new Float32Array(rb.getMappedRange()).slice();
    rb.unmap();
    rb.destroy();
    return out;
  }
  /**
   * ms per run of `r` (wall time of runs back to back in one pass: GPU-bound). First ≥ 50 ms of warm-up
   * runs, then at least `reps` runs and ≥ 25 ms: a GPU left idle between short bursts (pipeline
   * compiles in between) runs at low clocks — an H100 at 345 MHz of 1,980 timed every conv 2–6× slower
   * than inside a training step (2026-12-08, before this warm-up).
   */
  async function timeRoutine(r, reps) {
    const elapsed = async (n) => {
      const t = performance.now();
      r.run(n);
      await dev.queue.onSubmittedWorkDone();
      return performance.now() - t;
    };
    let per = await elapsed(1);
    for (let warm = 0; warm < 50; ) {
      const n = Math.min(1000, Math.max(1, Math.ceil(10 / Math.max(per, 1e-3))));
      const ms = await elapsed(n);
      per = ms / n;
      warm += ms;
    }
    const n = Math.max(reps, Math.min(5000, Math.ceil(25 / Math.max(per, 1e-3))));
    return (await elapsed(n)) / n;
  }
  return { randomBuffer, outBuffer, routine, read, timeRoutine };
}
