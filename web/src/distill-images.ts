/**
 * Image distillation in the tab: the shipped class-conditional Fashion-MNIST teacher
 * (models/fmnist-cond) distilled into a one-step generator by Diff-Instruct, live (image-session.ts),
 * with a grid of fixed-seed samples, FD-FMNIST and class accuracy on a small sample set, img/s, and the
 * trained generator as a safetensors file that `diff-instruct sample --network <file>` reads.
 *
 * Defaults are the CLI's quick-start presets (configs/quickstart-fmnist-{cpu,gpu}.json: WebAssembly takes
 * the CPU one, a hardware WebGPU adapter the GPU one); the teacher, classifier and reference statistics
 * are fetched on the first Start. URL parameters (for links and tests): distillSteps (stop after N
 * generator steps; default the preset's duration), distillEvery (evaluate every N steps), distillEvalN
 * (images per evaluation), distillBatch, distillLoss, distillLrGen, distillLrFake.
 */
import { DistillConfig, GENERATOR_LOSSES, classifier, imageMetrics, referenceStats, safetensors } from 'diff-instruct';
import cpuPreset from '../../configs/quickstart-fmnist-cpu.json';
import gpuPreset from '../../configs/quickstart-fmnist-gpu.json';
import { fetchBytes, fetchCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import { fmt, h, numberInput, row, select } from './dom.js';
import { drawImageGrid, drawLines, setupCanvas } from './plot.js';
import { LOSS_TEXT } from './labels.js';
import { pageState } from './state.js';
import { ImageSession } from './image-session.js';
import { urlSettings } from './url-settings.js';

const TEACHER_FILE = 'fmnist-cond.safetensors';
const CLASSIFIER_FILE = 'classifier-fmnist.safetensors';
const REFERENCE_FILE = 'ref-fmnist-test.safetensors';
/** Grid: two seeds per class, one column per class (the CLI's grids put a class per row). */
const PER_CLASS = 2;
const SCALE = 2;


export interface DistillMetricsPoint {
  genSteps: number;
  kimg: number;
  n: number;
  fd: number;
  classAcc: number;
  precision: number;
  recall: number;
  seconds: number;
}

/** The metric network and its reference statistics, checked against each other (sha256), as `diff-instruct eval` does. */
async function loadEvaluator(base: string): Promise<imageMetrics.ImageEvaluator> {
  const [c, r] = await Promise.all([fetchBytes(base + CLASSIFIER_FILE), fetchBytes(base + REFERENCE_FILE)]);
  if ('missing' in c || 'missing' in r) throw new Error([c, r].flatMap((x) => ('missing' in x ? [x.missing] : [])).join('; '));
  const clf = await classifier.classifierFromBytes(c.bytes, base + CLASSIFIER_FILE);
  const ref = referenceStats.referenceStatsFromSafetensors(safetensors.parseSafetensors(r.bytes, base + REFERENCE_FILE), base + REFERENCE_FILE, { classifier: clf, dataset: 'fashion-mnist' });
  return new imageMetrics.ImageEvaluator('fashion-mnist', clf, ref);
}

const nextFrame = () => new Promise<void>((r) => requestAnimationFrame(() => r()));

export function mountImageDistill(root: HTMLElement): void {
  const { page } = urlSettings();
  const base = page.models.endsWith('/') ? page.models : `${page.models}/`;
  const preset = pageState.backend === 'webgpu' ? gpuPreset : cpuPreset;
  const batch0 = page.distillBatch ?? preset.batch;
  const lossSel = select('distill-loss', GENERATOR_LOSSES.map((l) => [l, LOSS_TEXT[l]?.[0] ?? l]), page.distillLoss ?? preset.loss);
  const batchIn = numberInput('distill-batch', batch0, { min: 1, max: 256, step: 1 });
  const lrGenIn = numberInput('distill-lrGen', page.distillLrGen ?? preset.lrGen, { min: 0 });
  const lrFakeIn = numberInput('distill-lrFake', page.distillLrFake ?? preset.lrFake, { min: 0 });
  const stepsIn = numberInput('distill-steps', page.distillSteps ?? Math.ceil((preset.duration * 1000) / batch0), { min: 1, step: 1 });
  const everyIn = numberInput('distill-every', page.distillEvery ?? Math.max(1, Math.round((preset.tick * 1000) / batch0)), { min: 1, step: 1 });
  const evalNIn = numberInput('distill-evalN', page.distillEvalN ?? Math.min(preset.evalN, 200), { min: 2, step: 1 });
  const startBtn = h('button', { id: 'distill-start', class: 'primary' }, 'Start');
  const resetBtn = h('button', { id: 'distill-reset', disabled: true }, 'Reset');
  const downloadBtn = h('button', { id: 'distill-download', disabled: true, title: 'The EMA generator as a .safetensors file: diff-instruct sample --network <file>' }, 'Download');
  const status = h('div', { id: 'distill-status', class: 'status' }, 'Idle: press Start to fetch the teacher (2.5 MB) and the metric network, and distill.');
  const settingsNote = h('div', { id: 'distill-settings-note', class: 'hint', hidden: true }, 'Changed settings apply at the next Reset.');
  const errorBox = h('div', { id: 'distill-error', class: 'error', hidden: true });
  const read = {
    steps: h('span', { id: 'distill-stat-steps' }, '0'),
    ips: h('span', { id: 'distill-stat-ips' }, '–'),
    fake: h('span', { id: 'distill-stat-fake' }, '–'),
    gen: h('span', { id: 'distill-stat-gen' }, '–'),
    fd: h('span', { id: 'distill-stat-fd' }, '–'),
    acc: h('span', { id: 'distill-stat-acc' }, '–'),
  };
  const firstGrid = h('canvas', { id: 'distill-grid-initial', class: 'grid' });
  const liveGrid = h('canvas', { id: 'distill-grid', class: 'grid' });
  const liveCaption = h('figcaption', {}, 'Now (EMA generator)');
  const chart = h('canvas', { id: 'distill-chart' });
  const CH_W = 360, CH_H = 150;
  const cc = setupCanvas(chart, CH_W, CH_H);

  root.append(
    h('h2', {}, 'Distill an image model in this tab'),
    h(
      'p',
      { class: 'explain' },
      'The shipped Fashion-MNIST teacher (a 1.2 M-parameter EDM U-Net that needs 35 network evaluations per image) is distilled here into a one-step generator: ' +
        'the generator starts as the teacher evaluated once at a fixed noise level, and Diff-Instruct moves it until, diffused to every noise level, its images look to the teacher like the teacher’s own. ' +
        'This is the same computation as `npm start` (the CLI’s quick start), run by this page on ' +
        (pageState.backend === 'webgpu' ? 'your GPU.' : 'the CPU: each step takes a few seconds.'),
    ),
    h(
      'div',
      { class: 'di-layout' },
      h(
        'div',
        { class: 'controls' },
        row('Loss', lossSel),
        row('Batch', batchIn, 'generator images per step'),
        row('Generator lr', lrGenIn),
        row('Fake-score lr', lrFakeIn),
        row('Stop after', stepsIn, 'generator steps'),
        row('Evaluate every', everyIn, 'generator steps'),
        row('Evaluation images', evalNIn, 'more: steadier numbers, slower'),
        h('div', { class: 'buttons' }, startBtn, resetBtn, downloadBtn),
        settingsNote,
        errorBox,
        status,
        h(
          'table',
          { class: 'stats' },
          h('tr', {}, h('th', {}, 'generator steps'), h('td', {}, read.steps)),
          h('tr', { title: 'Generator images per second of training (evaluations and grids not counted)' }, h('th', {}, 'images / s'), h('td', {}, read.ips)),
          h('tr', { title: 'How well the fake score denoises the generator’s images (EDM loss); it need not fall' }, h('th', {}, 'fake-score loss'), h('td', {}, read.fake)),
          h('tr', { title: 'The surrogate whose gradient is the update; its value is not a distance and may be negative' }, h('th', {}, 'generator loss'), h('td', {}, read.gen)),
          h('tr', { title: 'Fréchet distance to the Fashion-MNIST test set in our classifier’s feature space: lower is better' }, h('th', {}, 'FD-FMNIST'), h('td', {}, read.fd)),
          h('tr', { title: 'Fraction of images our classifier assigns to the class they were asked for: higher is better' }, h('th', {}, 'class accuracy'), h('td', {}, read.acc)),
        ),
      ),
      h(
        'div',
        { class: 'di-views' },
        h('figure', {}, h('figcaption', {}, 'Before: the teacher evaluated once (step 0)'), firstGrid),
        h('figure', {}, liveCaption, liveGrid),
        h('p', { class: 'explain small' }, `Columns are the ten classes (T-shirt … ankle boot), ${PER_CLASS} fixed seeds each: the same noise every time, so the change you see is the generator’s.`),
        h('div', { class: 'di-chart' }, chart, h(
          'p',
          { class: 'explain small' },
          'FD-FMNIST (blue, left) compares the statistics of the generator’s images with real test images, lower is better; class accuracy (orange) is the share of images that look like the class they were asked for. ' +
            'Both are measured on a few hundred images at most, so they are noisy: the CLI’s `eval` on 10,000 images is the number to quote.',
        )),
      ),
    ),
  );

  let session: ImageSession | null = null;
  let teacher: LoadedCheckpoint | null = null;
  let evaluator: imageMetrics.ImageEvaluator | null = null;
  let running = false;
  let loop: Promise<void> | null = null;
  let stepMs = 0, stepImages = 0;
  const metrics: DistillMetricsPoint[] = [];
  pageState.distill = { status: 'idle', genSteps: 0, kimg: 0, imagesPerSec: 0, metrics, fileBytes: 0 };

  const set = (s: string) => {
    pageState.distill.status = s;
  };
  const formConfig = (): DistillConfig => {
    const over = { teacher: preset.teacher, loss: lossSel.value, batch: batchIn.valueAsNumber, lrGen: lrGenIn.valueAsNumber, lrFake: lrFakeIn.valueAsNumber, desc: 'browser' };
    const r = DistillConfig.strict().safeParse(over);
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    return r.data;
  };
  const gridSeeds = () => {
    const n = (session?.labelDim || 10) * PER_CLASS;
    return Array.from({ length: n }, (_, i) => 1000 + i);
  };
  // one column per class: image i has class i mod labelDim
  const gridClasses = (seeds: number[]) => (session && session.labelDim > 0 ? seeds.map((_, i) => i % session!.labelDim) : null);
  const drawGridOf = async (canvas: HTMLCanvasElement) => {
    if (!session) return;
    const seeds = gridSeeds();
    const x = await session.images(seeds, gridClasses(seeds));
    drawImageGrid(canvas, x, seeds.length, session.shape, Math.max(1, session.labelDim), SCALE);
  };
  const drawChart = () => {
    const xs = metrics.map((m) => m.genSteps);
    drawLines(cc, CH_W, CH_H, 'log scale', [
      { xs, ys: metrics.map((m) => m.fd), color: '#1f77b4', label: 'FD-FMNIST' },
      { xs, ys: metrics.map((m) => Math.max(1e-3, m.classAcc) * 100), color: '#ff7f0e', label: 'class acc %' },
    ], { log: true });
  };
  const evaluate = async () => {
    if (!session || !evaluator) return;
    const n = Math.max(2, Math.floor(evalNIn.valueAsNumber) || 100);
    status.textContent = `Evaluating on ${n} images at step ${session.genSteps}…`;
    const m = await session.evaluate(evaluator, n);
    metrics.push({ genSteps: session.genSteps, kimg: session.kimg, n: m.n, fd: m.fd, classAcc: m.classAcc ?? NaN, precision: m.precision, recall: m.recall, seconds: m.seconds });
    const first = metrics[0];
    read.fd.textContent = metrics.length > 1 ? `${fmt(first.fd)} → ${fmt(m.fd)}` : fmt(m.fd);
    read.acc.textContent = metrics.length > 1 ? `${(first.classAcc * 100).toFixed(1)}% → ${((m.classAcc ?? NaN) * 100).toFixed(1)}%` : `${((m.classAcc ?? NaN) * 100).toFixed(1)}%`;
    drawChart();
  };
  const budget = () => Math.max(1, Math.floor(stepsIn.valueAsNumber) || 1);

  const build = async () => {
    set('loading');
    status.textContent = 'Fetching the teacher and the metric network…';
    teacher ??= await (async () => {
      const r = await fetchCheckpoint(base + TEACHER_FILE, 'teacher');
      if (r.status === 'missing') throw new Error(r.message);
      return r.ckpt;
    })();
    evaluator ??= await loadEvaluator(base);
    session = new ImageSession(teacher, formConfig());
    settingsNote.hidden = true;
    status.textContent = 'Drawing the initial generator (the first call compiles the network)…';
    await drawGridOf(firstGrid);
    liveGrid.width = firstGrid.width;
    liveGrid.height = firstGrid.height;
    liveGrid.getContext('2d')!.drawImage(firstGrid, 0, 0);
    await evaluate();
  };

  const train = async () => {
    while (running && session && session.genSteps < budget()) {
      const t0 = performance.now();
      status.textContent = `Step ${session.genSteps + 1} of ${budget()}${session.genSteps === 0 ? ' (compiling the training step first)' : ''}…`;
      const r = await session.run(1);
      const ms = performance.now() - t0;
      if (session.genSteps > 1) {
        // the first step includes compiling; the rate counts the rest
        stepMs += ms;
        stepImages += session.cfg.batch;
      }
      const ips = stepMs > 0 ? (stepImages * 1000) / stepMs : (session.cfg.batch * 1000) / ms;
      pageState.distill.genSteps = session.genSteps;
      pageState.distill.kimg = session.kimg;
      pageState.distill.imagesPerSec = ips;
      read.steps.textContent = `${session.genSteps} (${session.kimg.toFixed(3)} kimg)${session.skipped ? `, ${session.skipped} skipped` : ''}`;
      read.ips.textContent = ips.toFixed(2);
      read.fake.textContent = fmt(r.fakeLoss);
      read.gen.textContent = fmt(r.genLoss);
      await drawGridOf(liveGrid);
      liveCaption.textContent = `Now: step ${session.genSteps} (EMA generator)`;
      const every = Math.max(1, Math.floor(everyIn.valueAsNumber) || 1);
      if (session.genSteps % every === 0 || session.genSteps >= budget()) await evaluate();
      await nextFrame();
    }
  };

  const showState = () => {
    const s = session;
    startBtn.textContent = running ? 'Pause' : s && s.genSteps > 0 ? (s.genSteps >= budget() ? 'Run on' : 'Resume') : 'Start';
    resetBtn.disabled = running || !s;
    downloadBtn.disabled = running || !s;
    if (!running && s) {
      const last = metrics.at(-1);
      status.textContent = `${s.genSteps >= budget() ? 'Done' : 'Paused'} at step ${s.genSteps} (${s.kimg.toFixed(3)} kimg)${last ? `: FD-FMNIST ${fmt(last.fd)}, class accuracy ${(last.classAcc * 100).toFixed(1)}% on ${last.n} images` : ''}.`;
    }
  };

  const fail = (e: unknown) => {
    running = false;
    set('error');
    errorBox.hidden = false;
    const msg = (e as Error).message ?? String(e);
    // Chromium's SwiftShader lost its device on the first training step here (the GPU process dropped
    // the WebGPU instance); say what to do rather than only the browser's words.
    const lost = /Instance dropped|no longer exists|device (was )?lost|DeviceLost/i.test(msg);
    errorBox.textContent = lost
      ? `Distillation failed: the browser lost the GPU device during a training step (${msg}). A software GPU can be stopped on a step this large; reload with ?device=wasm to train on the CPU.`
      : `Distillation failed: ${msg}`;
    console.error(e);
    showState();
  };

  startBtn.addEventListener('click', () => {
    if (running) {
      running = false; // the loop stops after the current step
      startBtn.disabled = true;
      status.textContent = 'Pausing after this step…';
      return;
    }
    if (loop) return;
    if (session && session.genSteps >= budget()) stepsIn.value = String(session.genSteps + Math.max(1, Math.floor(everyIn.valueAsNumber) || 1));
    running = true;
    errorBox.hidden = true;
    showState();
    loop = (async () => {
      try {
        if (!session) await build();
        set('running');
        await train();
        set(session && session.genSteps >= budget() ? 'done' : 'paused');
      } catch (e) {
        fail(e);
      } finally {
        running = false;
        loop = null;
        startBtn.disabled = false;
        showState();
      }
    })();
  });

  resetBtn.addEventListener('click', () => {
    if (running || loop) return;
    session?.dispose();
    session = null;
    metrics.length = 0;
    stepMs = stepImages = 0;
    for (const c of [firstGrid, liveGrid]) c.getContext('2d')?.clearRect(0, 0, c.width, c.height);
    for (const r of Object.values(read)) r.textContent = '–';
    liveCaption.textContent = 'Now (EMA generator)';
    drawChart();
    Object.assign(pageState.distill, { status: 'idle', genSteps: 0, kimg: 0, imagesPerSec: 0, fileBytes: 0 });
    settingsNote.hidden = true;
    status.textContent = 'Reset: press Start to distill with the settings above.';
    showState();
  });

  for (const el of [lossSel, batchIn, lrGenIn, lrFakeIn]) {
    el.addEventListener('change', () => {
      try {
        formConfig();
        errorBox.hidden = true;
        settingsNote.hidden = !session;
      } catch (e) {
        errorBox.hidden = false;
        errorBox.textContent = `Setting not valid: ${(e as Error).message}`;
      }
    });
  }

  downloadBtn.addEventListener('click', async () => {
    if (!session || running) return;
    downloadBtn.disabled = true;
    try {
      const last = metrics.at(-1);
      const bytes = await session.generatorFile(last ? { browserMetrics: { ...last, metric: 'FD-FMNIST' } } : {});
      pageState.distill.fileBytes = bytes.length;
      const name = `fmnist-cond-onestep-browser-${session.genSteps}steps.safetensors`;
      const a = h('a', { href: URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' })), download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
      status.textContent = `Saved ${name} (${(bytes.length / 2 ** 20).toFixed(1)} MiB): diff-instruct sample --network ${name} --seeds 0-63`;
    } catch (e) {
      fail(e);
    } finally {
      downloadBtn.disabled = running || !session;
    }
  });
  drawChart();
}
