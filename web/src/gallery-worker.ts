/**
 * The gallery's worker: fetches the one-step generator and its teacher and samples both (the teacher
 * with EDM's Heun solver, step by step, cancellable) off the page's main thread. Progress of the
 * teacher's steps comes back as `{progress: {done, total}}` messages (rpc.ts).
 */
import { jit, numpy as np, tree } from '@jax-js/jax';
import { generator, initDevice, sampler, schedule } from 'diff-instruct';
import { fetchCheckpoint, type FetchResult, type LoadedCheckpoint } from './checkpoint.js';
import { serveWorker } from './rpc.js';

/** What the page shows of a loaded checkpoint. */
export interface CheckpointInfo {
  url: string;
  bytes: number;
  paramCount: number;
  meta: Record<string, unknown>;
  labelDim: number;
  shape: number[];
}

let gen: LoadedCheckpoint | null = null;
let teach: LoadedCheckpoint | null = null;
let oneStep: generator.GeneratorModel | null = null;
let applyGen: ((p: generator.Params, z: np.Array, l: np.Array[]) => np.Array) | null = null;
let cancel: AbortController | null = null;

const info = (c: LoadedCheckpoint): CheckpointInfo => ({
  url: c.url,
  bytes: c.bytes,
  paramCount: c.paramCount,
  meta: c.meta,
  labelDim: c.netConfig.labelDim,
  shape: [c.netConfig.inChannels, c.netConfig.imgResolution, c.netConfig.imgResolution],
});
const summary = (r: FetchResult) => (r.status === 'ok' ? { status: 'ok' as const, info: info(r.ckpt) } : r);
const labelsOf = (labelDim: number, n: number, cls: number) => (labelDim > 0 ? [generator.oneHot(np.full([n], cls, { dtype: np.int32 }), labelDim)] : []);

serveWorker(
  {
    init: ({ device }: { device: string }) => initDevice(device),
    load: async ({ generatorUrl, teacherUrl }: { generatorUrl: string; teacherUrl: string }) => {
      const [g, t] = await Promise.all([fetchCheckpoint(generatorUrl, 'generator'), fetchCheckpoint(teacherUrl, 'teacher')]);
      gen = g.status === 'ok' ? g.ckpt : null;
      teach = t.status === 'ok' ? t.ckpt : null;
      if (gen) {
        const c = gen.netConfig;
        const m = generator.oneStepGenerator(gen.denoiser, gen.meta.sigmaInit, [c.inChannels, c.imgResolution, c.imgResolution], c.labelDim);
        oneStep = m;
        applyGen = jit((p: generator.Params, z: np.Array, l: np.Array[]) => m.apply(p, z, l[0] ?? null));
      }
      return { generator: summary(g), teacher: summary(t) };
    },
    /** The one-step generator's images for `seeds` of class `cls` ([n·C·H·W]). */
    generate: async ({ seeds, cls }: { seeds: number[]; cls: number }) => {
      if (!gen || !oneStep || !applyGen) throw new Error('the generator is not loaded');
      const x = applyGen(tree.ref(gen.params), oneStep.latentForSeeds(seeds), labelsOf(gen.netConfig.labelDim, seeds.length, cls));
      return (await x.data()) as Float32Array;
    },
    /** The teacher's Heun sampler in `steps` steps; progress after each; the `cancel` call stops it before its next step. */
    teacher: async ({ seeds, cls, steps }: { seeds: number[]; cls: number; steps: number }, progress) => {
      if (!teach) throw new Error('the teacher is not loaded');
      const t = teach;
      const c = t.netConfig;
      cancel = new AbortController();
      try {
        const x = await sampler.edmSampleSeeds(t.denoiser, tree.ref(t.params), seeds, [c.inChannels, c.imgResolution, c.imgResolution], schedule.karrasSigmas(steps), c.labelDim > 0 ? (b) => labelsOf(c.labelDim, b.length, cls)[0] : null, {
          batchSize: seeds.length,
          signal: cancel.signal,
          onStep: (done, total) => progress({ done, total }),
        });
        return (await x.data()) as Float32Array;
      } finally {
        cancel = null;
      }
    },
  },
  { cancel: () => cancel?.abort() },
);
