/**
 * f16 subgroup-matrix conv kernels (src/engine/kernels/conv-gemm-f16.ts) against the f32 ones
 * (conv-gemm.ts, the reference) on a GPU that has f16 subgroup matrices (NVIDIA through Dawn):
 *  1. every distinct conv of SongUNet fmnist-small and fmnist-base at batch 128 (3×3 and 1×1; forward,
 *     input gradient, weight gradient with split-K; operands as the jit hook binds them): max relative
 *     error max|f16 − f32| / max|f32| on uniform [−1, 1) operands, and the time of each kernel (wall
 *     time of `reps` back-to-back runs in one compute pass, after a warm-up run; GPU-bound);
 *  2. a whole teacher step's gradient (valueAndGrad of the batch-mean EDM loss, as makeTeacherStep
 *     computes it) with DI_F16=1 against DI_F16=0, each in its own child process, same params, batch, σ
 *     and noise: per-tensor max relative error — for each preset at initialisation and for the shipped
 *     trained teacher (`teacher:fmnist-cond`: at initialisation EDM's zero-initialised output layers
 *     leave many gradients near 0, where a per-tensor relative error is noise).
 * Prints one JSON line on stdout. Exits 1 with a one-line message where the device has no f16 subgroup
 * matrices (llvmpipe, or Dawn without `allow_unsafe_apis`), or if a kernel's error is not finite; exits 2
 * after printing when a kernel's error exceeds MAX_KERNEL_REL_ERR (f16 rounding of operands in [−1, 1)
 * gives ~1e-3: more means the kernel is wrong, not imprecise).
 *   node --import tsx benchmarks/gpu/f16-check.mjs [--reps 20] [--batch 128] [--presets fmnist-small,fmnist-base]
 *     [--grads-on fmnist-small,fmnist-base,teacher:fmnist-cond] [--no-grads]
 * On the GPU machine, where tsx does not travel, bundle it first (as scripts/device-pack.sh bundles the CLI):
 *   node_modules/.bin/esbuild benchmarks/gpu/f16-check.mjs --bundle --platform=node --format=esm --target=node20 \
 *     --external:webgpu --external:@jax-js/jax --outfile=dist/f16-check.mjs \
 *     --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
 *   bash scripts/device-pack.sh dist/f16-check.mjs
 *   (device) source .device/boot.sh && node dist/f16-check.mjs > $OUT/f16-check.json
 */
import '../../src/platform/node.ts';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getWebGPUDevice, jit, random, valueAndGrad } from '@jax-js/jax';
import { initDevice } from '../../src/platform/devices.ts';
import { adapterInfo, convKernelPath, customKernelStats, f16KernelTile } from '../../src/engine/custom-kernels.ts';
import { convGemmPlan } from '../../src/engine/kernels/conv-gemm.ts';
import { convGemmF16Plan, trainingConvSpecs } from '../../src/engine/kernels/conv-gemm-f16.ts';
import { songUNetConfig } from '../../src/nets/song-unet.ts';
import { teacherNet } from '../../src/teacher/net.ts';
import { loadDenoiser } from '../../src/teacher/load.ts';
import { precondition } from '../../src/edm/precond.ts';
import { edmLoss } from '../../src/edm/loss.ts';
import { oneHot } from '../../src/distill/generator.ts';
import { argOpt, gpuKit, LABELS, relErr, round, songUNetConvs } from './conv-harness.mjs';

const MAX_KERNEL_REL_ERR = 1e-2;
const args = process.argv.slice(2);
const opt = argOpt;
const BATCH = Number(opt('batch', '128'));
/** Gradient child processes still running (killed when the check fails). */
const children = new Set();
const fail = (msg) => {
  console.error(`f16-check: ${msg}`);
  for (const c of children) c.kill();
  process.exit(1);
};

// ---------------------------------------------------------------- child: one teacher-step gradient
if (args[0] === '--grads-child') {
  const [, preset, outFile] = args; // and --batch
  const info = await initDevice('webgpu');
  // 'teacher:<name>': a trained checkpoint (at initialisation EDM's zero-initialised output layers leave
  // many gradients ~0, where a relative error says nothing); else a preset at initialisation
  let tn, D, params;
  if (preset.startsWith('teacher:')) {
    const t = await loadDenoiser(preset.slice('teacher:'.length));
    if (t.meta.netConfig.labelDim !== LABELS) fail(`${preset}: a ${LABELS}-class teacher is needed, this one has ${t.meta.netConfig.labelDim} labels`);
    ({ net: tn, denoiser: D, params } = t);
  } else {
    tn = teacherNet({ net: 'song-unet', netConfig: songUNetConfig(preset, { imgResolution: 28, channels: 1, labelDim: LABELS }) });
    D = precondition('edm', tn.raw, { sigmaData: 0.5 });
    params = tn.init(random.key(0));
  }
  const x = random.uniform(random.key(1), [BATCH, ...tn.dataShape]).mul(2).sub(1);
  const labels = oneHot(random.randint(random.key(2), { minval: 0, maxval: LABELS, shape: [BATCH] }), LABELS);
  const step = jit((p, xx, ll, key) => {
    const keys = random.split(key, 2);
    const kLoss = keys.ref.slice(0);
    const kDrop = keys.slice(1);
    const lossFn = (pp) => edmLoss((q, a, s, l) => D(q, a, s, l, { key: kDrop.ref, train: true }), pp, xx.ref, ll.ref, kLoss.ref, { pMean: -1.2, pStd: 1.2, sigmaData: 0.5 }).mean();
    const out = valueAndGrad(lossFn)(p);
    xx.dispose();
    ll.dispose();
    kLoss.dispose();
    kDrop.dispose();
    return out;
  });
  const [loss, grads] = step(params, x, labels, random.key(3));
  const names = Object.keys(grads).sort();
  const parts = [];
  for (const n of names) parts.push(await grads[n].data());
  const flat = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  const index = names.map((n, i) => {
    flat.set(parts[i], o);
    o += parts[i].length;
    return [n, o - parts[i].length, parts[i].length];
  });
  writeFileSync(outFile, Buffer.from(flat.buffer));
  writeFileSync(`${outFile}.json`, JSON.stringify({ device: info.name, path: convKernelPath(), kernels: customKernelStats(), loss: (await loss.data())[0], index }));
  process.exit(0);
}

// ---------------------------------------------------------------- main
const info = await initDevice('webgpu');
const tile = f16KernelTile();
if (!tile) fail(`no subgroup matrices: ${info.name} offers no f16 → f32 subgroup matrices to jax-js's device (features: ${info.features.join(', ') || 'none'}; adapter info ${JSON.stringify(adapterInfo(getWebGPUDevice()))}; on NVIDIA, Dawn needs the toggles allow_unsafe_apis,vulkan_enable_f16_on_nvidia)`);
const dev = getWebGPUDevice();
const reps = Number(opt('reps', '20'));
const presets = opt('presets', 'fmnist-small,fmnist-base').split(',');
/** Whose teacher-step gradients to compare: presets at initialisation and/or `teacher:<checkpoint>`. */
const gradsOn = opt('grads-on', [...presets, 'teacher:fmnist-cond'].join(',')).split(',');
const { randomBuffer, outBuffer, routine, read, timeRoutine } = gpuKit(dev);

const kernels = {};
const worst = { relErr: 0, where: '' };
for (const preset of presets) {
  const rows = [];
  let f32Ms = 0, f16Ms = 0;
  for (const { C, O, H, k } of songUNetConvs(preset)) {
    const x = randomBuffer(BATCH * C * H * H, 1 + C * 7 + H);
    const w = randomBuffer(O * C * k * k, 2 + O * 13 + k);
    const dy = randomBuffer(BATCH * O * H * H, 3 + O * 5 + H);
    const specs = trainingConvSpecs(BATCH, C, H, H, O, k);
    const operands = { fwd: [x, w], dgrad: [dy, w], wgrad: [x, dy] };
    for (const [kind, spec] of Object.entries(specs)) {
      const n = spec.outShape.reduce((a, b) => a * b, 1);
      const [lhs, rhs] = operands[kind];
      const outs = [0, 1].map(() => outBuffer(n));
      const p32 = convGemmPlan(spec);
      const r32 = routine(p32, lhs, rhs, outs[0]);
      const r16 = routine(convGemmF16Plan(spec, tile), lhs, rhs, outs[1]);
      const ms32 = await timeRoutine(r32, reps);
      const ms16 = await timeRoutine(r16, reps);
      const err = relErr(await read(outs[1], n), await read(outs[0], n));
      const where = `${preset} ${kind} ${C}→${O} ${H}×${H} k${k}`;
      if (!Number.isFinite(err)) fail(`${where}: f16 result not finite`);
      if (err > worst.relErr) Object.assign(worst, { relErr: err, where });
      f32Ms += ms32;
      f16Ms += ms16;
      rows.push({ kind, C, O, H, k, splits: p32.splits, f32Ms: round(ms32), f16Ms: round(ms16), speedup: round(ms32 / ms16, 3), relErr: round(err, 3) });
      r32.dispose();
      r16.dispose();
      outs.forEach((b) => b.destroy());
    }
    [x, w, dy].forEach((b) => b.destroy());
  }
  kernels[preset] = { convs: rows, sumF32Ms: round(f32Ms), sumF16Ms: round(f16Ms), maxRelErr: round(Math.max(...rows.map((r) => r.relErr)), 3) };
  console.error(`f16-check: ${preset}: ${rows.length} convs, Σ f32 ${f32Ms.toFixed(2)} ms, Σ f16 ${f16Ms.toFixed(2)} ms (each conv once; a step runs some several times), max rel err ${kernels[preset].maxRelErr}`);
}

/** One gradient per (preset, DI_F16) in child processes, all at once (compiling is CPU-bound). */
async function stepGrads() {
  const dir = mkdtempSync(join(tmpdir(), 'f16-check-'));
  const self = fileURLToPath(import.meta.url);
  const child = (preset, f16) =>
    new Promise((resolve) => {
      const out = join(dir, `${preset}-${f16}.f32`);
      // execArgv: `--import tsx` when run from source, nothing when bundled
      const p = spawn(process.execPath, [...process.execArgv, self, '--grads-child', preset, out, '--batch', String(BATCH)], { env: { ...process.env, DI_F16: f16 }, stdio: ['ignore', 'inherit', 'pipe'] });
      children.add(p);
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => {
        children.delete(p);
        const lines = err.trim().split('\n');
        const why = lines.filter((l) => /Error: /.test(l)).pop() ?? lines.slice(-3).join(' | ');
        if (code !== 0) fail(`gradient child (${preset}, DI_F16=${f16}) exited ${code}: ${why.trim()}`);
        resolve({ data: new Float32Array(readFileSync(out).buffer.slice(0)), meta: JSON.parse(readFileSync(`${out}.json`, 'utf8')) });
      });
    });
  const res = {};
  try {
    const runs = await Promise.all(gradsOn.flatMap((p) => [child(p, '0'), child(p, '1')]));
    gradsOn.forEach((preset, i) => {
      const [a, b] = [runs[2 * i], runs[2 * i + 1]];
      if (a.meta.path !== 'f32' || b.meta.path !== 'f16') fail(`${preset}: gradient children ran ${a.meta.path} / ${b.meta.path}, expected f32 / f16`);
      const per = b.meta.index.map(([name, off, len]) => [name, relErr(b.data.subarray(off, off + len), a.data.subarray(off, off + len))]).sort((x, y) => y[1] - x[1]);
      const errs = per.map(([, e]) => e).sort((x, y) => x - y);
      res[preset] = {
        lossF32: a.meta.loss,
        lossF16: b.meta.loss,
        tensors: per.length,
        maxRelErr: round(per[0][1], 3),
        medianRelErr: round(errs[Math.floor(errs.length / 2)], 3),
        wholeRelErr: round(relErr(b.data, a.data), 3),
        worstTensors: per.slice(0, 5).map(([n, e]) => [n, round(e, 3)]),
        f16Kernels: b.meta.kernels,
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

const grads = args.includes('--no-grads') ? null : await stepGrads();
console.log(
  JSON.stringify({
    date: new Date().toISOString(),
    device: info.name,
    tile,
    batch: BATCH,
    reps,
    metric: 'max|f16 − f32| / max|f32| per output (kernels) or per gradient tensor (teacher step)',
    kernels,
    worstKernel: { ...worst, relErr: round(worst.relErr, 3) },
    teacherStepGrads: grads,
    ok: worst.relErr <= MAX_KERNEL_REL_ERR,
  }),
);
if (worst.relErr > MAX_KERNEL_REL_ERR) {
  console.error(`f16-check: ${worst.where}: max rel err ${worst.relErr} > ${MAX_KERNEL_REL_ERR}: the f16 kernel is wrong there`);
  process.exit(2);
}
process.exit(0);
