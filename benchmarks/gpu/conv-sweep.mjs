/**
 * Times every f32 tile variant of our conv kernels (src/engine/kernels/conv-gemm.ts `F32_VARIANTS`) and,
 * where the device has f16 subgroup matrices, the f16 kernels in each tile shape (conv-gemm-f16.ts
 * `F16_SHAPES`: `f16-<shape>`; a shape the device's matrices cannot use is reported, not run), on each distinct conv of SongUNet presets
 * at batch 128 (forward, input gradient, weight gradient with split-K; operands as the jit hook binds
 * them), so that the default tiling, or a per-shape choice, is picked from measurements (issue 26). Each
 * variant's output is compared with the default's (max |Δ| / max |default|); a variant above 1e-4 is
 * wrong, not imprecise (exit 2 after printing). Per preset it sums count × ms over the step's convs
 * (count: layers with that shape; each runs forward, input and weight gradient once per teacher step).
 * Prints one JSON line, which `DI_CONV_TILES=<file>` takes as a per-conv tile table (each row's `key`
 * and `best`: src/engine/custom-kernels.ts); `--shapes-out F` also writes the conv list for benchmarks/pytorch/bench_convs.py
 * (cuDNN on the same shapes, run right after in the same call: benchmarks/gpu/engine.sh CONVSWEEP=1).
 *   node --import tsx benchmarks/gpu/conv-sweep.mjs [--presets fmnist-small,fmnist-base] [--batch 128]
 *     [--reps 20] [--variants all|name,name] [--shapes-out convs.json] [--budget-s 600]
 * Past `--budget-s` seconds no further conv is started, and the JSON says `complete: false` (its sums
 * cover the convs measured).
 * Bundled for the GPU machine by scripts/device-pack.sh (dist/conv-sweep.mjs). On llvmpipe it runs too
 * (slowly: `--batch 2 --reps 1 --presets fmnist-small --variants m64n64,m64n64-v4`), as a smoke test.
 */
import '../../src/platform/node.ts';
import { writeFileSync } from 'node:fs';
import { getWebGPUDevice } from '@jax-js/jax';
import { initDevice } from '../../src/platform/devices.ts';
import { f16KernelTile } from '../../src/engine/custom-kernels.ts';
import { convGemmPlan, convKey, DEFAULT_F32_VARIANT, f32Choice, F32_VARIANTS, gemmSizes } from '../../src/engine/kernels/conv-gemm.ts';
import { convGemmF16Plan, F16_SHAPES, trainingConvSpecs } from '../../src/engine/kernels/conv-gemm-f16.ts';
import { argOpt, gpuKit, relErr, round, songUNetConvs } from './conv-harness.mjs';

const MAX_VARIANT_REL_ERR = 1e-4;
const opt = argOpt;
const BATCH = Number(opt('batch', '128'));
const reps = Number(opt('reps', '20'));
const presets = opt('presets', 'fmnist-small,fmnist-base').split(',');
const asked = opt('variants', 'all');
const budgetMs = Number(opt('budget-s', '600')) * 1e3;
const started = performance.now();
let complete = true;
const listed = asked === 'all' ? Object.keys(F32_VARIANTS) : asked.split(',');
for (const v of listed) f32Choice(v); // a one-line error for an unknown name
// the default first: it is the reference every other result is compared with (and combine.mjs's `variants[0]`)
const variants = [DEFAULT_F32_VARIANT, ...listed.filter((v) => v !== DEFAULT_F32_VARIANT)];

const info = await initDevice('webgpu');
const dev = getWebGPUDevice();
const f16 = f16KernelTile();
const { randomBuffer, outBuffer, routine, read, timeRoutine } = gpuKit(dev);
const planOf = (spec, variant) => (variant.startsWith('f16-') ? convGemmF16Plan(spec, f16, undefined, variant.slice(4)) : convGemmPlan(spec, undefined, f32Choice(variant)));
const f16Variants = f16 ? Object.keys(F16_SHAPES).map((s) => `f16-${s}`) : [];
const all = [...variants, ...f16Variants];

const rows = [];
const summary = {};
const wrong = [];
const shapes = [];
for (const preset of presets) {
  const sums = Object.fromEntries(all.map((v) => [v, 0]));
  let bestSum = 0;
  for (const { C, O, H, k, count } of songUNetConvs(preset)) {
    if (performance.now() - started > budgetMs) {
      complete = false;
      break;
    }
    shapes.push({ preset, C, O, H, k, count });
    const x = randomBuffer(BATCH * C * H * H, 1 + C * 7 + H);
    const w = randomBuffer(O * C * k * k, 2 + O * 13 + k);
    const dy = randomBuffer(BATCH * O * H * H, 3 + O * 5 + H);
    const operands = { fwd: [x, w], dgrad: [dy, w], wgrad: [x, dy] };
    for (const [kind, spec] of Object.entries(trainingConvSpecs(BATCH, C, H, H, O, k))) {
      const { M, N, K } = gemmSizes(spec);
      const flops = 2 * M * N * K;
      const n = spec.outShape.reduce((a, b) => a * b, 1);
      const [lhs, rhs] = operands[kind];
      const results = {};
      let reference = null;
      for (const v of all) {
        let plan;
        try {
          plan = planOf(spec, v);
        } catch (e) {
          results[v] = { error: e.message };
          sums[v] = NaN;
          continue;
        }
        const out = outBuffer(n);
        const r = routine(plan, lhs, rhs, out);
        const ms = await timeRoutine(r, reps);
        const got = await read(out, n);
        reference ??= got; // the default variant runs first
        const err = relErr(got, reference);
        results[v] = { ms: round(ms), tflops: round(flops / ms / 1e9, 3), splits: plan.splits, relErr: round(err, 3) };
        if (!(err <= (v.startsWith('f16-') ? 1e-2 : MAX_VARIANT_REL_ERR))) wrong.push(`${preset} ${kind} ${C}→${O} ${H}×${H} k${k} ${v}: rel err ${err}`);
        sums[v] += count * ms;
        r.dispose();
        out.destroy();
      }
      const f32 = variants.map((v) => [v, results[v].ms]).sort((a, b) => a[1] - b[1]);
      bestSum += count * f32[0][1];
      rows.push({ preset, C, O, H, k, count, kind, key: convKey(kind, spec), M, N, K, gflop: round(flops / 1e9), best: f32[0][0], results });
      console.error(`conv-sweep: ${preset} ${kind} ${C}→${O} ${H}×${H} k${k} ×${count}: ${all.map((v) => `${v} ${results[v].ms ?? 'n/a'} ms`).join(', ')}`);
    }
    [x, w, dy].forEach((b) => b.destroy());
  }
  const stepMs = Object.fromEntries(Object.entries(sums).map(([v, s]) => [v, round(s)]));
  const bestVariant = variants.reduce((a, b) => (sums[b] < sums[a] ? b : a));
  summary[preset] = { stepMs, bestVariant, bestPerConvMs: round(bestSum), defaultMs: round(sums[DEFAULT_F32_VARIANT]) };
  console.error(`conv-sweep: ${preset}: Σ count × ms per step: ${JSON.stringify(stepMs)}; best single variant ${bestVariant}, best per conv ${bestSum.toFixed(2)} ms`);
}
const shapesOut = opt('shapes-out', null);
if (shapesOut) writeFileSync(shapesOut, JSON.stringify({ batch: BATCH, convs: shapes }));
console.log(JSON.stringify({ date: new Date().toISOString(), device: info.name, batch: BATCH, reps, f16Tile: f16, variants: all, complete, summary, convs: rows, wrong }));
if (wrong.length) {
  console.error(`conv-sweep: ${wrong.length} results off the default's: ${wrong[0]}`);
  process.exit(2);
}
process.exit(0);
