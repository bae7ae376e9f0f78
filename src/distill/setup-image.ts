/**
 * The paper's image setting: an EDM teacher checkpoint (shipped name or path) distilled into its own
 * denoiser evaluated at one σ_init (Diff-Instruct §4.1). Generator and fake score both start as copies
 * of the teacher (the reference copies `data['ema']` into G, Sg and Gema). Snapshots are evaluated with
 * our Fashion-MNIST/MNIST feature network (FD-FMNIST etc., src/metrics/) when it is available.
 */
import { jit, numpy as np, tree } from '@jax-js/jax';
import { encodeGridPng } from '../io/png.js';
import { writeFileAtomic } from '../io/atomic.js';
import { parseSeeds } from '../random/seeds.js';
import type { DistillConfig } from './config.js';
import { oneHot, oneStepGenerator, type GeneratorModel, type Params } from './generator.js';
import type { DistillSetup } from './setup.js';

/** Generates images for `seeds` in batches with a jitted generator; labels [N] int (or null). Returns NCHW float32. */
export async function generateForSeeds(gen: GeneratorModel, params: Params, seeds: number[], labels: Int32Array | null, batch = 250): Promise<Float32Array> {
  const apply = gen.labelDim > 0 ? jit((p: Params, z: np.Array, l: np.Array) => gen.apply(p, z, l, { train: false })) : jit((p: Params, z: np.Array) => gen.apply(p, z, null, { train: false }));
  const per = gen.outputShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(seeds.length * per);
  try {
    for (let i = 0; i < seeds.length; i += batch) {
      const s = seeds.slice(i, i + batch);
      const z = gen.latentForSeeds(s);
      const x =
        gen.labelDim > 0
          ? (apply as any)(tree.ref(params), z, oneHot(np.array(Int32Array.from(labels!.subarray(i, i + s.length))), gen.labelDim))
          : (apply as any)(tree.ref(params), z);
      out.set(await x.data(), i * per);
    }
  } finally {
    tree.dispose(params);
    apply.dispose?.();
  }
  return out;
}

/** Class label of each seed for conditional evaluation: uniform and fixed per seed (seed mod classes). */
export const labelsForSeeds = (seeds: number[], labelDim: number) => Int32Array.from(seeds, (s) => s % labelDim);

export async function setupImageTeacher(cfg: DistillConfig): Promise<DistillSetup> {
  const { loadDenoiser } = await import('../teacher/load.js');
  const t = await loadDenoiser(cfg.teacher);
  const meta = t.meta;
  const channels: number = meta.channels ?? meta.netConfig?.inChannels ?? 1;
  const res: number = meta.resolution ?? meta.netConfig?.imgResolution;
  const labelDim: number = meta.labelDim ?? meta.netConfig?.labelDim ?? 0;
  const dataShape = [channels, res, res];
  const generator = oneStepGenerator(t.denoiser, cfg.sigmaInit, dataShape, labelDim);
  const dataset: string | undefined = meta.dataset;
  const evalMod = await import('../metrics/evaluate.js').catch(() => null);

  const gridSeeds = parseSeeds(cfg.gridSeeds);
  // One row per class for conditional models (EDM/Diff-Instruct grids group classes by row).
  const cols = labelDim > 0 ? Math.max(1, Math.ceil(gridSeeds.length / labelDim)) : Math.ceil(Math.sqrt(gridSeeds.length));
  const gridLabels = labelDim > 0 ? Int32Array.from(gridSeeds, (_, i) => Math.floor(i / cols) % labelDim) : null;

  return {
    teacherName: cfg.teacher,
    models: { teacher: t.denoiser, fake: t.denoiser, generator },
    teacherParams: t.params,
    theta0: tree.ref(t.params),
    phi0: tree.ref(t.params),
    generatorMeta: {
      format: 'diff-instruct/generator@1',
      kind: 'generator',
      generator: 'edm-one-step',
      sigmaInit: cfg.sigmaInit,
      teacher: cfg.teacher,
      net: meta.net,
      netConfig: meta.netConfig,
      precond: meta.precond,
      sigmaData: meta.sigmaData,
      labelDim,
      resolution: res,
      channels,
      dataset,
      cond: labelDim > 0,
    },
    evaluate:
      evalMod && dataset
        ? async (ema, n) => {
            const seeds = Array.from({ length: n }, (_, i) => i);
            const labels = labelDim > 0 ? labelsForSeeds(seeds, labelDim) : null;
            const images = await generateForSeeds(generator, ema, seeds, labels);
            const r: any = await evalMod.evaluateImages(images, { dataset, labels: labels ?? undefined });
            return Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
          }
        : undefined,
    drawGrid: async (ema, run, kimg) => {
      const x = await generateForSeeds(generator, ema, gridSeeds, gridLabels);
      const { png, width, height, channels: c } = encodeGridPng({ data: x, n: gridSeeds.length, c: channels, h: res, w: res }, { cols });
      writeFileAtomic(run.file(`fakes-${String(Math.round(kimg)).padStart(6, '0')}.png`), png);
      run.tb.image('Samples/generator', png, height, width, c, Math.round(kimg * 1000));
    },
  };
}
