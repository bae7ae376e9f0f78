/**
 * Auto device choice measurement: on a CPU-only machine, which backend trains a small conv net faster,
 * Wasm (one thread, or a pool of worker threads: src/platform/node-worker.ts) or WebGPU on Mesa llvmpipe?
 * `autoChoice` in src/platform/devices.ts cites this result (benchmarks/README.md, "auto device choice").
 *
 * Workload: a 2-layer conv net (1→16 3×3 SAME, ReLU, 16→32 3×3 stride 2 SAME, ReLU, dense 6272→10,
 * softmax cross-entropy) on a fixed batch of 32 random 28×28 images, one jitted step = valueAndGrad +
 * Adam. Each backend runs in a fresh child process: 3 warm-up steps (compilation included, not timed),
 * then `--steps` timed steps, each timed until its loss and new params are realised on the host side
 * (`await loss.data()`, `blockUntilReady(params)`). Median per step; `--rounds` repeats (alternating
 * order) give the spread, since other processes may share the CPU.
 *
 * Configurations: `wasm-1t` (DI_WASM_THREADS=1: jax-js's Wasm on the main thread), `wasm` (worker pool,
 * DI_WASM_THREADS or all cores), `webgpu` (llvmpipe on a CPU-only machine). Each child also runs a
 * correctness probe: reductions longer than 65,535 terms (a jitted sum of 10^7 ones, an eager matmul
 * with K = 70,000), which llvmpipe truncates (docs/ARCHITECTURE.md, "Known pitfalls").
 *
 * Run: node --import tsx benchmarks/auto-device.ts [--rounds 2] [--steps 15] [--only wasm,webgpu] [--tag name]
 * Writes benchmarks/results/<YYYY-MM-DD>-cpu-auto-device[-tag].json (never overwrites: adds -2, -3, ...).
 */
import '../src/platform/node.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blockUntilReady, jit, lax, nn, numpy as np, random, tree, valueAndGrad } from '@jax-js/jax';
import { initDevice, type Backend } from '../src/platform/devices.js';
import { wasmThreads } from '../src/platform/node.js';
import { adamInit, adamUpdate, type AdamState } from '../src/train/adam.js';
import { splitKeyList } from '../src/random/seeds.js';

const BATCH = 32, WARMUP = 3;

/** What is measured: a backend, plus environment for the child (the Wasm thread count). */
const CONFIGS = {
  'wasm-1t': { backend: 'wasm', env: { DI_WASM_THREADS: '1' } },
  wasm: { backend: 'wasm', env: {} },
  webgpu: { backend: 'webgpu', env: {} },
} as const satisfies Record<string, { backend: Backend; env: Record<string, string> }>;
type ConfigId = keyof typeof CONFIGS;
type Params = Record<'conv0.weight' | 'conv0.bias' | 'conv1.weight' | 'conv1.bias' | 'fc.weight' | 'fc.bias', np.Array>;

function init(key: np.Array): Params {
  const [k0, k1, k2] = splitKeyList(key, 3);
  const he = (k: np.Array, shape: number[], fanIn: number) => random.normal(k, shape).mul(Math.sqrt(2 / fanIn));
  return {
    'conv0.weight': he(k0, [16, 1, 3, 3], 9),
    'conv0.bias': np.zeros([16]),
    'conv1.weight': he(k1, [32, 16, 3, 3], 16 * 9),
    'conv1.bias': np.zeros([32]),
    'fc.weight': he(k2, [10, 32 * 14 * 14], 32 * 14 * 14),
    'fc.bias': np.zeros([10]),
  };
}

function loss(p: Params, x: np.Array, onehot: np.Array): np.Array {
  let h = nn.relu(lax.conv(x, p['conv0.weight'], [1, 1], 'SAME').add(p['conv0.bias'].reshape([1, 16, 1, 1])));
  h = nn.relu(lax.conv(h, p['conv1.weight'], [2, 2], 'SAME').add(p['conv1.bias'].reshape([1, 32, 1, 1])));
  const logits = np.matmul(h.reshape([BATCH, -1]), p['fc.weight'].transpose()).add(p['fc.bias']);
  return nn.logSoftmax(logits).mul(onehot).sum().mul(-1 / BATCH);
}

const step = jit((p: Params, s: AdamState<Params>, x: np.Array, y: np.Array) => {
  const [l, g] = valueAndGrad(loss)(tree.ref(p), x, y);
  const out = adamUpdate(g, s, p, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  return { ...out, loss: l };
});

/** Reductions longer than llvmpipe's 65,535-iteration loop limit, with their exact values. */
async function probe(): Promise<Record<string, { got: number; expected: number }>> {
  const sum = (await jit((x: np.Array) => x.sum())(np.ones([10_000_000])).data())[0];
  const mm = (await np.matmul(np.ones([2, 70_000]), np.ones([70_000, 2])).data())[0];
  return { jitSumOnes1e7: { got: sum, expected: 1e7 }, eagerMatmulK70000: { got: mm, expected: 70_000 } };
}

/** Child mode: time one configuration, print one JSON line. */
async function measure(config: ConfigId, steps: number) {
  const backend = CONFIGS[config].backend;
  const info = await initDevice(backend);
  const [kp, kx, ky] = splitKeyList(random.key(0), 3);
  let params = init(kp);
  let state = adamInit(tree.ref(params));
  const x = random.uniform(kx, [BATCH, 1, 28, 28], { minval: -1, maxval: 1 });
  const labels = random.randint(ky, { minval: 0, maxval: 10, shape: [BATCH] });
  const onehot = np.equal(labels.reshape([BATCH, 1]), np.arange(10).astype(np.int32).reshape([1, 10])).astype(np.float32);
  const times: number[] = [];
  const losses: number[] = [];
  let compileMs = 0;
  let cpu0 = process.cpuUsage();
  for (let i = 0; i < WARMUP + steps; i++) {
    if (i === WARMUP) cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const out = step(params, state, x.ref, onehot.ref);
    params = out.params;
    state = out.state;
    await blockUntilReady(params);
    losses.push((await out.loss.data())[0]);
    const ms = performance.now() - t0;
    if (i === 0) compileMs = ms;
    if (i >= WARMUP) times.push(ms);
  }
  // CPU time of every thread of this process (Wasm workers, llvmpipe threads) per timed step: with other
  // jobs on the machine, cpuMs / wall ms shows how much parallelism the backend actually got
  const cpu = process.cpuUsage(cpu0);
  const cpuMsPerStep = (cpu.user + cpu.system) / 1000 / steps;
  tree.dispose([params, state, x, onehot]);
  const sorted = [...times].sort((a, b) => a - b);
  const median = (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;
  if (!(losses[losses.length - 1] < losses[0])) throw new Error(`${backend}: loss did not fall (${losses[0]} → ${losses.at(-1)})`);
  const checks = await probe();
  const threads = backend === 'wasm' ? wasmThreads : null;
  console.log(JSON.stringify({ config, backend, threads, device: info.name, probe: checks, medianMs: median, cpuMsPerStep, meanMs: times.reduce((a, b) => a + b, 0) / steps, minMs: sorted[0], maxMs: sorted.at(-1), firstStepMs: compileMs, stepsMs: times, loss: [losses[0], losses.at(-1)] }));
}

function cpuModel(): string {
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name: string, d: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const steps = opt('steps', 15), rounds = opt('rounds', 2);
  const child = args.indexOf('--child');
  if (child >= 0) return measure(args[child + 1] as ConfigId, steps);
  const sopt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const configs = (sopt('only')?.split(',') ?? Object.keys(CONFIGS)) as ConfigId[];
  for (const c of configs) if (!(c in CONFIGS)) throw new Error(`unknown configuration '${c}': expected one of ${Object.keys(CONFIGS).join(', ')}`);
  const tag = sopt('tag');

  const self = fileURLToPath(import.meta.url);
  const runs: any[] = [];
  for (let r = 0; r < rounds; r++) {
    // rotate the order each round (and reverse it on odd rounds) so no configuration always runs first
    const rot = configs.map((_, i) => configs[(i + r) % configs.length]);
    const order = r % 2 === 0 ? rot : [...rot].reverse();
    for (const b of order) {
      const load = os.loadavg()[0];
      const res = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', b, '--steps', String(steps)], {
        encoding: 'utf8',
        env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless', ...CONFIGS[b].env },
      });
      const line = res.stdout.split('\n').find((l) => l.startsWith('{'));
      if (res.status !== 0 || !line) throw new Error(`${b} run failed: ${res.stderr.split('\n').filter((l) => /Error/.test(l))[0] ?? res.status}`);
      const m = { round: r + 1, loadAvg1mBefore: load, ...JSON.parse(line) };
      runs.push(m);
      console.log(`round ${m.round} ${b.padEnd(7)} (${m.threads ?? '-'} threads) median ${m.medianMs.toFixed(1)} ms/step, CPU ${m.cpuMsPerStep.toFixed(0)} ms/step (min ${m.minMs.toFixed(1)}, max ${m.maxMs.toFixed(1)}; first step ${m.firstStepMs.toFixed(0)} ms; load ${load.toFixed(2)})`);
    }
  }
  const per = (b: ConfigId) => runs.filter((m) => m.config === b).map((m) => m.medianMs);
  const summary = Object.fromEntries(configs.map((b) => [b, { medianMsPerRound: per(b), best: Math.min(...per(b)), worst: Math.max(...per(b)) }]));
  // a configuration is "faster" only when its worst round beats every other configuration's best round
  const faster = configs.find((a) => configs.every((b) => b === a || summary[a].worst < summary[b].best)) ?? 'overlapping';
  const probes = Object.fromEntries(configs.map((b) => [b, runs.find((m) => m.config === b)?.probe]));
  const correct = Object.fromEntries(configs.map((b) => [b, Object.values(probes[b] ?? {}).every((p: any) => p.got === p.expected)]));
  const now = new Date();
  const result = {
    benchmark: 'auto-device',
    date: now.toISOString(),
    workload: { net: 'conv 1→16 3x3, conv 16→32 3x3/2, dense 6272→10', batch: BATCH, image: [1, 28, 28], step: 'jit(valueAndGrad + Adam)', warmupSteps: WARMUP, timedSteps: steps, rounds },
    machine: {
      cores: os.cpus().length,
      cpuModel: cpuModel(),
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      // jax-js's Wasm backend uses worker threads only when a global Worker exists (src/platform/node-worker.ts)
      wasmThreads: Object.fromEntries(runs.filter((m) => m.backend === 'wasm').map((m) => [m.config, m.threads])),
      lpNumThreads: process.env.LP_NUM_THREADS ?? null,
      adapter: runs.find((m) => m.backend === 'webgpu')?.device ?? null,
    },
    runs,
    summary,
    faster,
    // exact results of reductions longer than 65,535 terms, per configuration (first round)
    probes,
    correct,
  };
  const dir = join(dirname(self), 'results');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${now.toISOString().slice(0, 10)}-cpu-auto-device${tag ? `-${tag}` : ''}`);
  let file = `${base}.json`;
  for (let n = 2; existsSync(file); n++) file = `${base}-${n}.json`;
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`faster: ${faster}; exact on long reductions: ${JSON.stringify(correct)}; wrote ${file}`);
}

main().catch((e) => {
  console.error(`auto-device: error: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
