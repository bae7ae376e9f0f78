/**
 * The gallery: the shipped one-step Fashion-MNIST generator (models/fmnist-cond-onestep.safetensors)
 * beside its teacher's 35-evaluation Heun sampler (models/fmnist-cond.safetensors, the teacher it was
 * distilled from; EDM's 18 steps) on
 * the same image seeds and class, each with its measured time per batch. Both files are fetched,
 * parsed and sampled in a Web Worker (gallery-worker.ts), the teacher step by step with progress and a
 * Cancel; the page only draws. A missing file is said so plainly. `?models=<url prefix>` loads them from
 * elsewhere (default: models/ next to the page); `?galleryBatch=N` sets the batch (default 16), and
 * `?teacherSteps=N` the teacher's Heun steps (default EDM's 18; fewer for a quick look, and the tests).
 */
import { WorkerClient } from './rpc.js';
import type { CheckpointInfo } from './gallery-worker.js';
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

function describe(c: CheckpointInfo): string {
  const m = c.meta as Record<string, any>;
  const bits = [`${(c.paramCount / 1e6).toFixed(2)} M params`, `${(c.bytes / 2 ** 20).toFixed(1)} MiB`];
  if (typeof m.kimg === 'number') bits.push(`${m.kimg} kimg`);
  if (m.loss || m.lossKind) bits.push(`loss ${m.loss ?? m.lossKind}`);
  if (m.sigmaInit) bits.push(`σ_init ${m.sigmaInit}`);
  const note = typeof m.description === 'string' ? ` — ${m.description}` : '';
  return `${c.url.split('/').pop()}: ${bits.join(', ')}${note}`;
}

type Loaded = { status: 'ok'; info: CheckpointInfo } | { status: 'missing'; url: string; message: string };

export async function mountGallery(root: HTMLElement): Promise<void> {
  const prefix = urlSettings().page.models;
  // absolute: the worker would resolve a relative URL against its own script's folder
  const base = new URL(prefix.endsWith('/') ? prefix : `${prefix}/`, location.href).href;
  const status = h('div', { id: 'gallery-status', class: 'status', role: 'status' }, 'Fetching the models…');
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

  // Both models are fetched, parsed and sampled in a worker (gallery-worker.ts); this thread draws.
  const worker = new WorkerClient(new Worker(new URL('./gallery-worker.ts', import.meta.url), { type: 'module' }));
  let loaded: { generator: Loaded; teacher: Loaded };
  try {
    await worker.call('init', { device: pageState.backend });
    loaded = await worker.call('load', { generatorUrl: base + GENERATOR_FILE, teacherUrl: base + TEACHER_FILE });
  } catch (e) {
    status.textContent = `Could not load the models: ${(e as Error).message}`;
    status.classList.add('error');
    pageState.gallery = { status: 'error' };
    return;
  }
  const missing = [loaded.generator, loaded.teacher].filter((r): r is Extract<Loaded, { status: 'missing' }> => r.status === 'missing');
  const g = loaded.generator.status === 'ok' ? loaded.generator.info : null;
  const t = loaded.teacher.status === 'ok' ? loaded.teacher.info : null;
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
  const shape = ref.shape;
  const labelDim = ref.labelDim;
  const dataset = String(ref.meta.dataset ?? 'fashion-mnist');
  const names = dataset === 'fashion-mnist' ? FASHION_CLASSES : Array.from({ length: labelDim }, (_, i) => `class ${i}`);
  const classSel = select('gallery-class', Array.from({ length: labelDim }, (_, i) => [String(i), `${i}: ${names[i] ?? i}`]), '0');
  const seedBase = h('input', { id: 'gallery-seed', type: 'number', value: 0, min: 0, step: BATCH });
  const withTeacher = h('input', { id: 'gallery-with-teacher', type: 'checkbox', checked: true });
  const sampleBtn = h('button', { id: 'gallery-sample', class: 'primary' }, 'Sample');
  const cancelBtn = h('button', { id: 'gallery-cancel', hidden: true }, 'Cancel the teacher');
  const genCanvas = h('canvas', { id: 'gallery-generator', class: 'grid', role: 'img', 'aria-label': 'One-step generator samples: none yet' });
  const teachCanvas = h('canvas', { id: 'gallery-teacher', class: 'grid', role: 'img', 'aria-label': 'Teacher samples: none yet' });
  const genTime = h('div', { id: 'gallery-generator-time', class: 'time' }, g ? '' : missing.find((m) => m.url.endsWith(GENERATOR_FILE))!.message);
  const teachTime = h('div', { id: 'gallery-teacher-time', class: 'time', role: 'status' }, t ? '' : missing.find((m) => m.url.endsWith(TEACHER_FILE))!.message);
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

  const fresh = { gen: true, teacher: true };
  const COMPILE_NOTE = ' (first batch: includes compiling the kernels)';
  pageState.gallery = { status: 'ready' };

  cancelBtn.addEventListener('click', () => {
    teachTime.textContent = 'cancelling after this step…';
    void worker.call('cancel');
  });
  /** Blanks a panel whose images are not of the current seeds. */
  const blank = (canvas: HTMLCanvasElement, time: HTMLElement, why: string) => {
    canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
    canvas.setAttribute('aria-label', `${canvas === genCanvas ? 'One-step generator' : 'Teacher'} samples: ${why}`);
    time.textContent = why;
  };

  sampleBtn.addEventListener('click', async () => {
    sampleBtn.disabled = true;
    const cls = Number(classSel.value);
    const s0 = Math.max(0, Math.floor(seedBase.valueAsNumber || 0));
    const seedList = Array.from({ length: BATCH }, (_, i) => s0 + i);
    const what = `${BATCH} images of class ${names[cls] ?? cls}, seeds ${s0}–${s0 + BATCH - 1}`;
    pageState.gallery = { status: 'sampling', batch: BATCH, label: cls };
    try {
      // Times one sampler from call to read-back (the first batch includes compiling), then draws it.
      const timed = async (canvas: HTMLCanvasElement, time: HTMLElement, which: 'gen' | 'teacher', sample: () => Promise<Float32Array>) => {
        const t0 = performance.now();
        const data = await sample();
        const ms = performance.now() - t0;
        drawImageGrid(canvas, data, BATCH, shape, COLS, SCALE);
        canvas.setAttribute('aria-label', `${which === 'gen' ? 'One-step generator' : 'Teacher'} samples: ${what}`);
        time.textContent = `${ms.toFixed(0)} ms per batch of ${BATCH}${fresh[which] ? COMPILE_NOTE : ''}`;
        fresh[which] = false;
        return ms;
      };
      if (g) {
        genTime.textContent = 'sampling…';
        pageState.gallery.generatorMs = await timed(genCanvas, genTime, 'gen', () => worker.call<Float32Array>('generate', { seeds: seedList, cls }));
      }
      if (t && withTeacher.checked) {
        const evals = 2 * TEACHER_STEPS - 1;
        const t0 = performance.now();
        teachTime.textContent = `sampling: step 0 of ${TEACHER_STEPS} (${evals} evaluations)…`;
        cancelBtn.hidden = false;
        worker.onProgress = ({ done, total }: { done: number; total: number }) => {
          pageState.gallery.teacherStepsDone = done;
          const sec = (performance.now() - t0) / 1000;
          const left = done > 0 ? ` · about ${Math.ceil((sec / done) * (total - done))} s left` : '';
          teachTime.textContent = `sampling: step ${done} of ${total} (${evals} evaluations), ${sec.toFixed(0)} s${left}…`;
        };
        pageState.gallery.teacherMs = await timed(teachCanvas, teachTime, 'teacher', () => worker.call<Float32Array>('teacher', { seeds: seedList, cls, steps: TEACHER_STEPS }));
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
        status.append(h('div', { class: 'error', role: 'alert' }, `Sampling failed: ${(e as Error).message}`));
        console.error(e);
      }
    } finally {
      worker.onProgress = () => {};
      cancelBtn.hidden = true;
      sampleBtn.disabled = false;
    }
  });
}
