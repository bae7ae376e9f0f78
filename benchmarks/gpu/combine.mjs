#!/usr/bin/env node
/**
 * Combines one engine comparison (benchmarks/gpu/engine.sh's output folder) into one JSON: per preset,
 * the `bench` results (engine: executor + eager submission + our conv kernels; lazy: the same with
 * jax-js's lazy submission; noconv: executor without our conv kernels; stock: jax-js's own), the PyTorch
 * peers from the same call, and "ratios" (ours / PyTorch median wall time of a step waited for, and of
 * steps run back to back: "pipelined") at the top level. Where the folder has conv-sweep.json and
 * conv-torch.jsonl (engine.sh CONVSWEEP=1), "convs" compares our conv kernels with cuDNN on the same
 * shapes: per preset, Σ layers × ms over the step's convs for our default tiling, the best single
 * variant, the best variant per conv, the f16 kernels, and cuDNN with TF32 off and on.
 *   node benchmarks/gpu/combine.mjs <folder> <out.json>
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, outFile] = process.argv.slice(2);
if (!dir || !outFile) {
  console.error('usage: node benchmarks/gpu/combine.mjs <folder> <out.json>');
  process.exit(1);
}
// file names are <date>-<tag>-<preset>-b<batch>.json; the tag's first word names the variant
const runs = readdirSync(dir)
  .filter((f) => /^\d{4}-\d{2}-\d{2}-.+-b\d+\.json$/.test(f))
  .map((f) => ({ ...JSON.parse(readFileSync(join(dir, f), 'utf8')), variant: f.slice(11).split('-')[0] }));
const torch = (existsSync(join(dir, 'pytorch.jsonl')) ? readFileSync(join(dir, 'pytorch.jsonl'), 'utf8') : '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const gpu = readFileSync(join(dir, 'gpu.txt'), 'utf8').trim().split('\n').slice(1).join('; ');
const presets = {};
const ratios = {};
for (const r of runs) {
  const p = r.config.preset;
  // the run's tag names it (engine-, noconv-, lazy-, stock-<preset>: benchmarks/gpu/engine.sh)
  const which = ['engine', 'noconv', 'lazy', 'toggles', 'f16', 'tile', 'split1024', 'noview', 'norecompute', 'stock'].includes(r.variant) ? r.variant : r.engine?.executor ? (r.engine.customKernels ? 'engine' : 'noconv') : 'stock';
  (presets[p] ??= {})[which] = r;
}
const pick = (t) => t && { medianMs: t.medianMs, pipelinedMs: t.pipelinedMs, issueMsPerStep: t.issueMsPerStep, kernelsPerStep: t.kernelsPerStep, cpuMsPerStep: t.cpuMsPerStep, encodeMsPerStep: t.encodeMsPerStep, submitMsPerStep: t.submitMsPerStep, passesPerStep: t.passesPerStep, gpuMsPerStep: t.gpuMsPerStep };
const summary = {};
for (const [p, v] of Object.entries(presets)) {
  const pt = torch.find((t) => t.preset === p && t.part === 'teacher');
  const pd = torch.find((t) => t.preset === p && t.part === 'distill');
  v.pytorch = { teacher: pt, distill: pd };
  summary[p] = {
    teacherStep: { engine: pick(v.engine?.teacherStep), lazy: pick(v.lazy?.teacherStep), toggles: pick(v.toggles?.teacherStep), f16: pick(v.f16?.teacherStep), tile: pick(v.tile?.teacherStep), split1024: pick(v.split1024?.teacherStep), noview: pick(v.noview?.teacherStep), norecompute: pick(v.norecompute?.teacherStep), noconv: pick(v.noconv?.teacherStep), stock: pick(v.stock?.teacherStep), pytorchMs: pt?.medianMs, pytorchPipelinedMs: pt?.pipelinedMs },
    distillIteration: { engine: pick(v.engine?.distillIteration), lazy: pick(v.lazy?.distillIteration), toggles: pick(v.toggles?.distillIteration), f16: pick(v.f16?.distillIteration), tile: pick(v.tile?.distillIteration), split1024: pick(v.split1024?.distillIteration), noview: pick(v.noview?.distillIteration), norecompute: pick(v.norecompute?.distillIteration), stock: pick(v.stock?.distillIteration), pytorchMs: pd?.medianMs, pytorchPipelinedMs: pd?.pipelinedMs },
    verify: v.engine?.verify,
  };
  const r = (ours, theirs) => (ours && theirs ? Math.round((ours / theirs) * 100) / 100 : null);
  ratios[p] = {
    teacherStep: {
      engine: r(v.engine?.teacherStep?.medianMs, pt?.medianMs),
      lazy: r(v.lazy?.teacherStep?.medianMs, pt?.medianMs),
      toggles: r(v.toggles?.teacherStep?.medianMs, pt?.medianMs),
      f16: r(v.f16?.teacherStep?.medianMs, pt?.medianMs),
      tile: r(v.tile?.teacherStep?.medianMs, pt?.medianMs),
      split1024: r(v.split1024?.teacherStep?.medianMs, pt?.medianMs),
      noview: r(v.noview?.teacherStep?.medianMs, pt?.medianMs),
      norecompute: r(v.norecompute?.teacherStep?.medianMs, pt?.medianMs),
      noconv: r(v.noconv?.teacherStep?.medianMs, pt?.medianMs),
      stock: r(v.stock?.teacherStep?.medianMs, pt?.medianMs),
    },
    distillIteration: { engine: r(v.engine?.distillIteration?.medianMs, pd?.medianMs), lazy: r(v.lazy?.distillIteration?.medianMs, pd?.medianMs), toggles: r(v.toggles?.distillIteration?.medianMs, pd?.medianMs), f16: r(v.f16?.distillIteration?.medianMs, pd?.medianMs), tile: r(v.tile?.distillIteration?.medianMs, pd?.medianMs), split1024: r(v.split1024?.distillIteration?.medianMs, pd?.medianMs), noview: r(v.noview?.distillIteration?.medianMs, pd?.medianMs), norecompute: r(v.norecompute?.distillIteration?.medianMs, pd?.medianMs), stock: r(v.stock?.distillIteration?.medianMs, pd?.medianMs) },
    // steps back to back (ours: 4 in flight; PyTorch: one synchronisation at the end), as training runs
    pipelined: {
      teacherStep: r(v.engine?.teacherStep?.pipelinedMs, pt?.pipelinedMs),
      distillIteration: r(v.engine?.distillIteration?.pipelinedMs, pd?.pipelinedMs),
    },
  };
}

/** Our conv kernels (conv-sweep.json) against cuDNN (conv-torch.jsonl) on the same convs, or null. */
function compareConvs() {
  const [sf, tf] = [join(dir, 'conv-sweep.json'), join(dir, 'conv-torch.jsonl')];
  if (!existsSync(sf) || !existsSync(tf)) return null;
  const sweep = JSON.parse(readFileSync(sf, 'utf8').split('\n').find((l) => l.startsWith('{')));
  const cudnn = readFileSync(tf, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const key = (c) => `${c.preset} ${c.kind} ${c.C} ${c.O} ${c.H} ${c.k}`;
  const theirs = new Map(cudnn.map((c) => [`${key(c)} ${c.tf32}`, c.ms]));
  const out = {};
  for (const c of sweep.convs) {
    const s = (out[c.preset] ??= { oursDefaultMs: 0, oursBestPerConvMs: 0, oursF16Ms: null, cudnnFp32Ms: 0, cudnnTf32Ms: 0, byKind: {}, rows: [] });
    const def = c.results[sweep.variants[0]].ms;
    const best = c.results[c.best].ms;
    const f16s = Object.entries(c.results).filter(([v, r]) => v.startsWith('f16-') && r.ms !== undefined).map(([, r]) => r.ms);
    const f16 = f16s.length ? Math.min(...f16s) : null; // the best f16 tile shape for this conv
    const [fp32, tf32] = [theirs.get(`${key(c)} false`), theirs.get(`${key(c)} true`)];
    s.oursDefaultMs += c.count * def;
    s.oursBestPerConvMs += c.count * best;
    if (f16 !== null) s.oursF16Ms = (s.oursF16Ms ?? 0) + c.count * f16;
    s.cudnnFp32Ms += c.count * (fp32 ?? NaN);
    s.cudnnTf32Ms += c.count * (tf32 ?? NaN);
    const k = (s.byKind[c.kind] ??= { oursDefaultMs: 0, oursBestPerConvMs: 0, cudnnFp32Ms: 0 });
    k.oursDefaultMs += c.count * def;
    k.oursBestPerConvMs += c.count * best;
    k.cudnnFp32Ms += c.count * (fp32 ?? NaN);
    s.rows.push({ conv: `${c.kind} ${c.C}→${c.O} ${c.H}×${c.H} k${c.k} ×${c.count}`, gflop: c.gflop, oursDefaultMs: def, best: c.best, oursBestMs: best, oursF16Ms: f16, cudnnFp32Ms: fp32, cudnnTf32Ms: tf32 });
  }
  const r2 = (v) => (v === null ? null : Math.round(v * 100) / 100);
  for (const s of Object.values(out)) {
    for (const f of ['oursDefaultMs', 'oursBestPerConvMs', 'oursF16Ms', 'cudnnFp32Ms', 'cudnnTf32Ms']) s[f] = r2(s[f]);
    for (const k of Object.values(s.byKind)) for (const f of Object.keys(k)) k[f] = r2(k[f]);
  }
  return { device: sweep.device, batch: sweep.batch, variants: sweep.variants, sweepSummary: sweep.summary, wrong: sweep.wrong, presets: out };
}
const convs = compareConvs();
writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), card: gpu, ratios, summary, convs, runs: presets }, null, 1) + '\n');
console.log(JSON.stringify({ ratios, summary, convs: convs && Object.fromEntries(Object.entries(convs.presets).map(([p, s]) => [p, { ...s, rows: undefined }])) }, null, 1));
