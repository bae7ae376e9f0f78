/**
 * The paper's image setting: an EDM teacher checkpoint (shipped name or path) distilled into its own
 * denoiser evaluated at one σ_init (Diff-Instruct §4.1). Generator and fake score both start as copies
 * of the teacher (the reference copies `data['ema']` into G, Sg and Gema). Snapshots are evaluated with
 * our Fashion-MNIST/MNIST feature network (FD-FMNIST etc., src/metrics/) when it is available.
 */
import { tree } from '@jax-js/jax';
import { encodeGridPng } from '../io/png.js';
import { writeFileAtomic } from '../io/atomic.js';
import { parseSeeds } from '../random/seeds.js';
import type { DistillConfig } from './config.js';
import { classesForSeeds, generateImages, type Network } from '../teacher/generate.js';
import { loadDenoiser } from '../teacher/load.js';
import { oneStepGenerator, oneStepGeneratorMeta, type Params } from './generator.js';
import type { DistillSetup } from './setup.js';
import { gridName } from '../run/run-dir.js';

export async function setupImageTeacher(cfg: DistillConfig): Promise<DistillSetup> {
  const t = await loadDenoiser(cfg.teacher);
  const meta = t.meta;
  const { dataShape, labelDim } = t.net;
  if (dataShape.length !== 3) throw new Error(`teacher '${t.path}' is not an image model (data shape [${dataShape}]); use toy:<name> for 2-D teachers`);
  const [channels, res] = dataShape;
  const generator = oneStepGenerator(t.denoiser, cfg.sigmaInit, dataShape, labelDim);
  const dataset = typeof meta.dataset === 'string' ? meta.dataset : undefined;
  // The EMA generator as a `Network`, so snapshots are sampled by the same code as `diff-instruct sample`.
  const asNetwork = (params: Params): Network => ({ kind: 'generator', path: '(training)', denoiser: t.denoiser, params, meta: { ...meta, kind: 'generator', sigmaInit: cfg.sigmaInit }, net: t.net, dataShape, labelDim });
  const generate = async (params: Params, seeds: number[], classes: Int32Array | null, onBatch?: (done: number, total: number) => void) => {
    // At the training batch: on Wasm every new buffer size costs memory for good (4 GiB in all), and
    // the training step has already allocated these.
    const x = await generateImages(asNetwork(params), seeds, { classes: classes ? Array.from(classes) : null, batchSize: cfg.batch, onBatch });
    tree.dispose(params);
    return (await x.data()) as Float32Array;
  };
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
    generatorMeta: oneStepGeneratorMeta(meta, cfg.teacher, cfg.sigmaInit, dataShape, labelDim),
    evaluate:
      evalMod && dataset
        ? async (ema, n, onImages) => {
            const seeds = Array.from({ length: n }, (_, i) => i);
            const labels = labelDim > 0 ? await classesForSeeds(seeds, labelDim) : null; // per-seed classes, as `sample` draws them
            const images = await generate(ema, seeds, labels, onImages);
            const r: any = await evalMod.evaluateImages(images, { dataset, labels: labels ?? undefined });
            return Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
          }
        : undefined,
    drawGrid: async (ema, run, kimg, onImages) => {
      const x = await generate(ema, gridSeeds, gridLabels, onImages);
      const { png, width, height, channels: c } = encodeGridPng({ data: x, n: gridSeeds.length, c: channels, h: res, w: res }, { cols });
      writeFileAtomic(run.file(gridName(kimg)), png);
      run.tb.image('Samples/generator', png, height, width, c, Math.round(kimg * 1000));
    },
  };
}
