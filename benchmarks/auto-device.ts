/**
 * Auto device choice measurement: on a CPU-only machine, which backend trains a small conv net faster,
 * Wasm or WebGPU on Mesa llvmpipe? `autoChoice` in src/platform/devices.ts cites this result
 * (benchmarks/README.md, "auto device choice").
 *
 * Workload: a 2-layer conv net (1→16 3×3 SAME, ReLU, 16→32 3×3 stride 2 SAME, ReLU, dense 6272→10,
 * softmax cross-entropy) on a fixed batch of 32 random 28×28 images, one jitted step = valueAndGrad +
 * Adam. Each backend runs in a fresh child process: 3 warm-up steps (compilation included, not timed),
 * then `--steps` timed steps, each timed until its loss and new params are realised on the host side
 * (`await loss.data()`, `blockUntilReady(params)`). Median per step; `--rounds` repeats (alternating
 * order) give the spread, since other processes may share the CPU.
 *
 * Run: node --import tsx benchmarks/auto-device.ts [--rounds 2] [--steps 15]
 * Writes benchmarks/results/<YYYY-MM-DD>-cpu-auto-device.json.
 */
import '../src/platform/node.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blockUntilReady, jit, lax, nn, numpy as np, random, tree, valueAndGrad } from '@jax-js/jax';
import { initDevice, type Backend } from '../src/platform/devices.js';
import { adamInit, adamUpdate, type AdamState } from '../src/train/adam.js';
import { splitKeyList } from '../src/random/seeds.js';

const BATCH = 32, WARMUP = 3;
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

/** Child mode: time one backend, print one JSON line. */
async function measure(backend: Backend, steps: number) {
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
  for (let i = 0; i < WARMUP + steps; i++) {
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
  tree.dispose([params, state, x, onehot]);
  const sorted = [...times].sort((a, b) => a - b);
  const median = (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;
  if (!(losses[losses.length - 1] < losses[0])) throw new Error(`${backend}: loss did not fall (${losses[0]} → ${losses.at(-1)})`);
  console.log(JSON.stringify({ backend, device: info.name, medianMs: median, minMs: sorted[0], maxMs: sorted.at(-1), firstStepMs: compileMs, stepsMs: times, loss: [losses[0], losses.at(-1)] }));
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
  if (child >= 0) return measure(args[child + 1] as Backend, steps);

  const self = fileURLToPath(import.meta.url);
  const runs: any[] = [];
  for (let r = 0; r < rounds; r++) {
    const order: Backend[] = r % 2 === 0 ? ['wasm', 'webgpu'] : ['webgpu', 'wasm'];
    for (const b of order) {
      const load = os.loadavg()[0];
      const res = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', b, '--steps', String(steps)], {
        encoding: 'utf8',
        env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' },
      });
      const line = res.stdout.split('\n').find((l) => l.startsWith('{'));
      if (res.status !== 0 || !line) throw new Error(`${b} run failed: ${res.stderr.split('\n').filter((l) => /Error/.test(l))[0] ?? res.status}`);
      const m = { round: r + 1, loadAvg1mBefore: load, ...JSON.parse(line) };
      runs.push(m);
      console.log(`round ${m.round} ${b.padEnd(6)} median ${m.medianMs.toFixed(1)} ms/step (min ${m.minMs.toFixed(1)}, max ${m.maxMs.toFixed(1)}; first step ${m.firstStepMs.toFixed(0)} ms; load ${load.toFixed(2)})`);
    }
  }
  const per = (b: Backend) => runs.filter((m) => m.backend === b).map((m) => m.medianMs);
  const summary = Object.fromEntries((['wasm', 'webgpu'] as Backend[]).map((b) => [b, { medianMsPerRound: per(b), best: Math.min(...per(b)), worst: Math.max(...per(b)) }]));
  const faster = summary.wasm.worst < summary.webgpu.best ? 'wasm' : summary.webgpu.worst < summary.wasm.best ? 'webgpu' : 'overlapping';
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
      // jax-js's Wasm backend only uses worker threads when a global Worker exists (not in Node 20)
      wasmThreads: typeof (globalThis as any).Worker === 'undefined' ? 1 : 'workers',
      lpNumThreads: process.env.LP_NUM_THREADS ?? null,
      adapter: runs.find((m) => m.backend === 'webgpu')?.device ?? null,
    },
    runs,
    summary,
    faster,
  };
  const dir = join(dirname(self), 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${now.toISOString().slice(0, 10)}-cpu-auto-device.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`faster: ${faster}; wrote ${file}`);
}

main().catch((e) => {
  console.error(`auto-device: error: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
