/**
 * Kernel count and wall time of one SongUNet teacher step on WebGPU in one of three modes, each in its
 * own process (the switches are read when jax-js loads): our kernels forced on (src/engine/ convs and
 * the jax-js patch 'reduce-split'; `DI_CUSTOM_KERNELS=1`), `--split-only` (stock convs, 'reduce-split'
 * on: the default on software adapters) or `--stock` (both off). Dispatches are counted at
 * `GPUComputePassEncoder.dispatchWorkgroups` (one per kernel pass, so a split-K conv counts two), which
 * works on llvmpipe, where jax-js's profiler has no timestamp queries. `--convs` times single jitted
 * convs (forward, weight and input gradient, [8,32,28,28] ⊛ [32,32,3,3]) with our kernels and stock.
 *
 * Run: `node --import tsx benchmarks/custom-kernels.ts [--stock|--split-only] [--convs] [--preset fmnist-small] [--batch 8] [--steps 3]`
 * Prints one JSON line.
 */
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const stock = args.includes('--stock');
const splitOnly = args.includes('--split-only');
process.env.DI_CUSTOM_KERNELS = stock || splitOnly ? '0' : '1';
process.env.DI_REDUCE_SPLIT = stock ? '0' : '1';
const mode = stock ? 'stock' : splitOnly ? 'reduce-split' : 'custom-kernels+reduce-split';
const { numpy: np, random, tree, jit, lax, grad } = await import('@jax-js/jax');
const { initDevice } = await import('../src/platform/devices.js');
const { precondition } = await import('../src/edm/precond.js');
const { initSongUNet, songUNet, songUNetConfig } = await import('../src/nets/song-unet.js');
const { makeTeacherStep } = await import('../src/teacher/trainer.js');
const { adamInit } = await import('../src/train/adam.js');
const { keyForSeed } = await import('../src/random/seeds.js');
const { hostname, cpus } = await import('node:os');

const preset = arg('preset', 'fmnist-small') as 'fmnist-small';
const B = Number(arg('batch', '8'));
const steps = Number(arg('steps', '3'));
const device = await initDevice('webgpu');
const facts = () => ({ date: new Date().toISOString(), device: device.name, host: { hostname: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '' } });

if (args.includes('--convs')) {
  const { setCustomKernels } = await import('../src/engine/custom-kernels.js');
  const x = random.normal(random.key(1), [8, 32, 28, 28]);
  const w = random.normal(random.key(2), [32, 32, 3, 3]);
  const conv = (a: any, b: any) => lax.conv(a, b, [1, 1], [[1, 1], [1, 1]]);
  const time = async (f: () => any) => {
    await f().data();
    const t = performance.now();
    for (let i = 0; i < 3; i++) await f().data();
    return Math.round((performance.now() - t) / 3);
  };
  const ms: Record<string, number> = {};
  for (const on of [false, true]) {
    setCustomKernels(on);
    const tag = on ? 'ours' : 'stock';
    const fwd = jit(conv);
    const wg = jit(grad((b: any) => conv(x.ref, b).sum()));
    const dg = jit(grad((a: any) => conv(a, w.ref).sum()));
    ms[`forward ${tag}`] = await time(() => fwd(x.ref, w.ref));
    ms[`weightGrad ${tag}`] = await time(() => wg(w.ref));
    ms[`inputGrad ${tag}`] = await time(() => dg(x.ref));
  }
  console.log(JSON.stringify({ ...facts(), part: 'convs [8,32,28,28] x [32,32,3,3], mean of 3 after one warm-up', ms }));
  process.exit(0);
}
const cfg = songUNetConfig(preset, { imgResolution: 28, channels: 1, labelDim: 0 });
const D = precondition('edm', (p: any, x: any, c: any, l: any, o?: any) => songUNet(cfg, p, x, c, l, o), { sigmaData: 0.5 });
const init = initSongUNet(random.key(0), cfg);
const x = random.uniform(random.key(1), [B, 1, 28, 28]).mul(2).sub(1);
const step = makeTeacherStep(D, { adam: { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, pMean: -1.2, pStd: 1.2, sigmaData: 0.5 });
let s: any = { params: tree.ref(init), ema: tree.ref(init), opt: adamInit(init) };
const proto = (globalThis as any).GPUComputePassEncoder.prototype;
const dispatch = proto.dispatchWorkgroups;
let dispatches = 0;
proto.dispatchWorkgroups = function (...a: unknown[]) {
  dispatches++;
  return dispatch.apply(this, a);
};
const ms: number[] = [];
const counts: number[] = [];
const losses: number[] = [];
for (let i = 0; i <= steps; i++) {
  dispatches = 0;
  const t = performance.now();
  const [ns, st] = step(s, x.ref, [], keyForSeed(i, 99), np.array(1), np.array(0.999));
  s = ns;
  tree.dispose([st.gradNorm, st.finite]);
  losses.push(((await st.loss.data()) as Float32Array)[0]);
  ms.push(performance.now() - t);
  counts.push(dispatches);
}
const timed = ms.slice(1).sort((a, b) => a - b);
console.log(
  JSON.stringify({
    ...facts(),
    mode,
    preset,
    batch: B,
    dispatchesPerStep: counts.at(-1),
    firstStepMs: Math.round(ms[0]),
    medianStepMs: Math.round(timed[Math.floor(timed.length / 2)]),
    stepsMs: ms.map(Math.round),
    losses,
  }),
);
tree.dispose([s, x]);
