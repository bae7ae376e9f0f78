/**
 * The gallery: the shipped one-step Fashion-MNIST generator (models/fmnist-cond-onestep.safetensors)
 * beside its teacher's 35-evaluation Heun sampler (models/fmnist-cond.safetensors, the teacher it was
 * distilled from; EDM's 18 steps) on
 * the same image seeds and class, each with its measured time per batch. Both files are fetched and
 * parsed in the page; a missing file is said so plainly. `?models=<url prefix>` loads them from
 * elsewhere (default: models/ next to the page); `?galleryBatch=N` sets the batch (default 16), and
 * `?teacherSteps=N` the teacher's Heun steps (default EDM's 18; fewer for a quick look, and the tests).
 */
import { jit, numpy as np, tree } from '@jax-js/jax';
import { generator, sampler, schedule } from 'diff-instruct';
import { fetchCheckpoint, type FetchResult, type LoadedCheckpoint } from './checkpoint.js';
import { h, row, select } from './dom.js';
import { drawImageGrid } from './plot.js';
import { pageState } from './state.js';
import { urlSettings } from './url-settings.js';

export const GENERATOR_FILE = 'fmnist-cond-onestep.safetensors';
/** The teacher the shipped generator was distilled from (models/README.md). */
export const TEACHER_FILE = 'fmnist-cond.safetensors';
/** EDM's deterministic sampler: 18 Heun steps = 35 denoiser evaluations (`?teacherSteps=N`, 1–100, changes it). */
const TEACHER_STEPS = urlSettings().page.teacherSteps;
/** Images per batch (`?galleryBatch=N`, 1–64, changes it). */
const BATCH = urlSettings().page.galleryBatch;
const COLS = Math.min(4, BATCH);
const SCALE = 3;

const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

function describe(c: LoadedCheckpoint): string {
  const m = c.meta;
  const bits = [`${(c.paramCount / 1e6).toFixed(2)} M params`, `${(c.bytes / 2 ** 20).toFixed(1)} MiB`];
  if (typeof m.kimg === 'number') bits.push(`${m.kimg} kimg`);
  if (m.loss || m.lossKind) bits.push(`loss ${m.loss ?? m.lossKind}`);
  if (m.sigmaInit) bits.push(`σ_init ${m.sigmaInit}`);
  const note = typeof m.description === 'string' ? ` — ${m.description}` : '';
  return `${c.url.split('/').pop()}: ${bits.join(', ')}${note}`;
}

export async function mountGallery(root: HTMLElement): Promise<void> {
  const prefix = urlSettings().page.models;
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  const status = h('div', { id: 'gallery-status', class: 'status' }, 'Fetching the models…');
  root.append(
    h('h2', {}, 'One-step generation: Fashion-MNIST'),
    h(
      'p',
      { class: 'explain' },
      'Left: the distilled one-step generator (one network evaluation per image). Right: the teacher it was distilled from, sampled with EDM’s ' +
        `Heun solver in ${2 * TEACHER_STEPS - 1} evaluations, from the same seeds and class.`,
    ),
    status,
  );
  pageState.gallery = { status: 'loading' };

  let gen: FetchResult, teach: FetchResult;
  try {
    [gen, teach] = await Promise.all([fetchCheckpoint(base + GENERATOR_FILE, 'generator'), fetchCheckpoint(base + TEACHER_FILE, 'teacher')]);
  } catch (e) {
    status.textContent = `Could not load the models: ${(e as Error).message}`;
    status.classList.add('error');
    pageState.gallery = { status: 'error' };
    return;
  }
  const missing = [gen, teach].filter((r): r is Extract<FetchResult, { status: 'missing' }> => r.status === 'missing');
  const g = gen.status === 'ok' ? gen.ckpt : null;
  const t = teach.status === 'ok' ? teach.ckpt : null;
  if (!g && !t) {
    status.replaceChildren(
      h('strong', {}, 'Model files not found. '),
      `The gallery needs the shipped one-step generator and its teacher, served next to this page: ${missing.map((m) => m.message).join('; ')}.`,
    );
    status.id = 'gallery-missing';
    pageState.gallery = { status: 'missing' };
    return;
  }
  const ref = (g ?? t)!;
  const cfg = ref.netConfig;
  const shape = [cfg.inChannels, cfg.imgResolution, cfg.imgResolution];
  const labelDim = cfg.labelDim;
  const dataset = String(ref.meta.dataset ?? 'fashion-mnist');
  const names = dataset === 'fashion-mnist' ? FASHION_CLASSES : Array.from({ length: labelDim }, (_, i) => `class ${i}`);
  const classSel = select('gallery-class', Array.from({ length: labelDim }, (_, i) => [String(i), `${i}: ${names[i] ?? i}`]), '0');
  const seedBase = h('input', { id: 'gallery-seed', type: 'number', value: 0, min: 0, step: BATCH });
  const withTeacher = h('input', { id: 'gallery-with-teacher', type: 'checkbox', checked: true });
  const sampleBtn = h('button', { id: 'gallery-sample', class: 'primary' }, 'Sample');
  const cancelBtn = h('button', { id: 'gallery-cancel', hidden: true }, 'Cancel the teacher');
  const genCanvas = h('canvas', { id: 'gallery-generator', class: 'grid' });
  const teachCanvas = h('canvas', { id: 'gallery-teacher', class: 'grid' });
  const genTime = h('div', { id: 'gallery-generator-time', class: 'time' }, g ? '' : missing.find((m) => m.url.endsWith(GENERATOR_FILE))!.message);
  const teachTime = h('div', { id: 'gallery-teacher-time', class: 'time' }, t ? '' : missing.find((m) => m.url.endsWith(TEACHER_FILE))!.message);
  status.replaceChildren(...[g, t].filter(Boolean).map((c) => h('div', { class: 'ckpt' }, describe(c!))));
  if (missing.length) status.append(h('div', { class: 'error' }, missing.map((m) => m.message).join('; ')));
  root.append(
    h(
      'div',
      { class: 'gallery-controls' },
      labelDim > 0 ? row('Class', classSel) : '',
      row('First seed', seedBase, `${BATCH} images from seeds s … s+${BATCH - 1}`),
      t ? h('label', { class: 'check' }, withTeacher, ` also run the teacher (${2 * TEACHER_STEPS - 1} evaluations, slow)`) : '',
      sampleBtn,
      cancelBtn,
    ),
    h(
      'div',
      { class: 'gallery-grids' },
      h('figure', {}, h('figcaption', {}, 'One-step generator (1 evaluation)'), genCanvas, genTime),
      h('figure', {}, h('figcaption', {}, `Teacher, Heun ${TEACHER_STEPS} steps (${2 * TEACHER_STEPS - 1} evaluations)`), teachCanvas, teachTime),
    ),
  );

  const oneStep = g ? generator.oneStepGenerator(g.denoiser, g.meta.sigmaInit, shape, labelDim) : null;
  const applyGen = oneStep ? jit((p: generator.Params, z: np.Array, l: np.Array[]) => oneStep.apply(p, z, l[0] ?? null)) : null;
  const labelsOf = (n: number, cls: number) => (labelDim > 0 ? [generator.oneHot(np.full([n], cls, { dtype: np.int32 }), labelDim)] : []);
  const fresh = { gen: true, teacher: true };
  const COMPILE_NOTE = ' (first batch: includes compiling the kernels)';
  pageState.gallery = { status: 'ready' };

  let cancel: AbortController | null = null;
  cancelBtn.addEventListener('click', () => cancel?.abort());
  /** Blanks a panel whose images are not of the current seeds. */
  const blank = (canvas: HTMLCanvasElement, time: HTMLElement, why: string) => {
    canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
    time.textContent = why;
  };

  sampleBtn.addEventListener('click', async () => {
    sampleBtn.disabled = true;
    const cls = Number(classSel.value);
    const s0 = Math.max(0, Math.floor(seedBase.valueAsNumber || 0));
    const seedList = Array.from({ length: BATCH }, (_, i) => s0 + i);
    pageState.gallery = { status: 'sampling', batch: BATCH, label: cls };
    try {
      // Times one sampler from call to read-back (the first batch includes compiling), then draws it.
      const timed = async (canvas: HTMLCanvasElement, time: HTMLElement, which: 'gen' | 'teacher', sample: () => Promise<np.Array>) => {
        const t0 = performance.now();
        const data = (await (await sample()).data()) as Float32Array;
        const ms = performance.now() - t0;
        drawImageGrid(canvas, data, BATCH, shape, COLS, SCALE);
        time.textContent = `${ms.toFixed(0)} ms per batch of ${BATCH}${fresh[which] ? COMPILE_NOTE : ''}`;
        fresh[which] = false;
        return ms;
      };
      if (g && oneStep && applyGen) {
        genTime.textContent = 'sampling…';
        pageState.gallery.generatorMs = await timed(genCanvas, genTime, 'gen', async () => applyGen(tree.ref(g.params), oneStep.latentForSeeds(seedList), labelsOf(BATCH, cls)));
      }
      if (t && withTeacher.checked) {
        const evals = 2 * TEACHER_STEPS - 1;
        const t0 = performance.now();
        teachTime.textContent = `sampling: step 0 of ${TEACHER_STEPS} (${evals} evaluations)…`;
        cancel = new AbortController();
        cancelBtn.hidden = false;
        const sigmas = schedule.karrasSigmas(TEACHER_STEPS);
        pageState.gallery.teacherMs = await timed(teachCanvas, teachTime, 'teacher', () =>
          sampler.edmSampleSeeds(t.denoiser, tree.ref(t.params), seedList, shape, sigmas, labelDim > 0 ? (b) => labelsOf(b.length, cls)[0] : null, {
            batchSize: BATCH,
            signal: cancel!.signal,
            onStep: (done, total) => {
              pageState.gallery.teacherStepsDone = done;
              const sec = (performance.now() - t0) / 1000;
              const left = done > 0 ? ` · about ${Math.ceil((sec / done) * (total - done))} s left` : '';
              teachTime.textContent = `sampling: step ${done} of ${total} (${evals} evaluations), ${sec.toFixed(0)} s${left}…`;
            },
          }),
        );
      } else if (t) {
        blank(teachCanvas, teachTime, `not run for seeds ${s0}–${s0 + BATCH - 1} (tick "also run the teacher")`);
      }
      pageState.gallery.status = 'done';
    } catch (e) {
      if ((e as Error).message === 'sampling cancelled') {
        pageState.gallery.status = 'cancelled';
        blank(teachCanvas, teachTime, 'cancelled');
      } else {
        pageState.gallery.status = 'error';
        status.append(h('div', { class: 'error' }, `Sampling failed: ${(e as Error).message}`));
        console.error(e);
      }
    } finally {
      cancel = null;
      cancelBtn.hidden = true;
      sampleBtn.disabled = false;
    }
  });
}
