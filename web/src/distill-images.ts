/**
 * Image distillation in the tab: the shipped class-conditional Fashion-MNIST teacher
 * (models/fmnist-cond) distilled into a one-step generator by Diff-Instruct, live (image-session.ts),
 * with a grid of fixed-seed samples, FD-FMNIST and class accuracy on a small sample set, img/s, and the
 * trained generator as a safetensors file that `diff-instruct sample --network <file>` reads.
 *
 * The teacher, the session and the metrics live in a Web Worker (distill-worker.ts): compiling and
 * running a step, drawing the grids' images and evaluating never block this thread, which draws and
 * takes clicks (Pause is acknowledged at once and taken after the step in progress). A failed step
 * leaves only Reset.
 *
 * Defaults are the CLI's quick-start presets (configs/quickstart-fmnist-{cpu,gpu}.json: WebAssembly takes
 * the CPU one, a hardware WebGPU adapter the GPU one); the teacher, classifier and reference statistics
 * are fetched on the first Start. URL parameters (for links and tests): distillSteps (stop after N
 * generator steps; default the preset's duration), distillEvery (evaluate every N steps), distillEvalN
 * (images per evaluation), distillBatch, distillLoss, distillLrGen, distillLrFake.
 */
import { DistillConfig, GENERATOR_LOSSES } from 'diff-instruct';
import cpuPreset from '../../configs/quickstart-fmnist-cpu.json';
import gpuPreset from '../../configs/quickstart-fmnist-gpu.json';
import { fmt, h, numberInput, row, select } from './dom.js';
import { drawImageGrid, drawLines, setupCanvas } from './plot.js';
import { LOSS_TEXT } from './labels.js';
import { pageState } from './state.js';
import { WorkerClient } from './rpc.js';
import { urlSettings } from './url-settings.js';

/** Grid: two seeds per class, one column per class (the CLI's grids put a class per row). */
const PER_CLASS = 2;
const SCALE = 2;
/** Images in the first, rough evaluation (one per class): a number within seconds of Start. */
const QUICK_EVAL_N = 10;


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

export function mountImageDistill(root: HTMLElement): void {
  const { page } = urlSettings();
  // absolute: the worker would resolve a relative URL against its own script's folder
  const base = new URL(page.models.endsWith('/') ? page.models : `${page.models}/`, location.href).href;
  const preset = pageState.backend === 'webgpu' ? gpuPreset : cpuPreset;
  const batch0 = page.distillBatch ?? preset.batch;
  const lossSel = select('distill-loss', GENERATOR_LOSSES.map((l) => [l, LOSS_TEXT[l]?.[0] ?? l]), page.distillLoss ?? preset.loss);
  const batchIn = numberInput('distill-batch', batch0, { min: 1, max: 256, step: 1 });
  const lrGenIn = numberInput('distill-lrGen', page.distillLrGen ?? preset.lrGen, { min: 0 });
  const lrFakeIn = numberInput('distill-lrFake', page.distillLrFake ?? preset.lrFake, { min: 0 });
  const stepsIn = numberInput('distill-steps', page.distillSteps ?? Math.ceil((preset.duration * 1000) / batch0), { min: 1, step: 1 });
  const everyIn = numberInput('distill-every', page.distillEvery ?? Math.max(1, Math.round((preset.tick * 1000) / batch0)), { min: 1, step: 1 });
  const evalNIn = numberInput('distill-evalN', page.distillEvalN ?? Math.min(preset.evalN, 200), { min: 2, step: 1 });
  const startBtn = h('button', { id: 'distill-start', class: 'primary' }, 'Start distilling');
  const resetBtn = h('button', { id: 'distill-reset', disabled: true }, 'Reset distillation');
  const downloadBtn = h('button', { id: 'distill-download', disabled: true, title: 'The EMA generator as a .safetensors file: diff-instruct sample --network <file>' }, 'Download');
  const status = h('div', { id: 'distill-status', class: 'status', role: 'status' }, 'Idle: press Start distilling to fetch the teacher (2.5 MB) and the metric network, and distill.');
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
  const firstGrid = h('canvas', { id: 'distill-grid-initial', class: 'grid', role: 'img', 'aria-label': 'Initial generator samples (step 0): not drawn yet' });
  const liveGrid = h('canvas', { id: 'distill-grid', class: 'grid', role: 'img', 'aria-label': 'Current generator samples: not drawn yet' });
  const liveCaption = h('figcaption', {}, 'Now (EMA generator)');
  const chart = h('canvas', { id: 'distill-chart', role: 'img' });
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
          'FD-FMNIST (blue) compares the statistics of the generator’s images with real test images, lower is better; class accuracy (orange) is the share of images that look like the class they were asked for. ' +
            'Both are measured on a few hundred images at most, so they are noisy: the CLI’s `eval` on 10,000 images is the number to quote.',
        )),
      ),
    ),
  );

  // The session lives in a worker (distill-worker.ts); this thread keeps what it shows and one state
  // machine: `want` is what the user asked for, `loop` the training in progress; a broken session (a
  // failed step) can only be Reset.
  const worker = new WorkerClient(new Worker(new URL('./distill-worker.ts', import.meta.url), { type: 'module' }));
  const ready = worker.call('init', { device: pageState.backend });
  let session: { genSteps: number; kimg: number; skipped: number; labelDim: number; shape: number[]; batch: number } | null = null;
  let broken = false;
  let want = false;
  let loop: Promise<void> | null = null;
  let stepMs = 0, stepImages = 0, evalMsPerImage = 0;
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
    const x = await worker.call<Float32Array>('images', { seeds, classes: gridClasses(seeds) });
    drawImageGrid(canvas, x, seeds.length, session.shape, Math.max(1, session.labelDim), SCALE);
    canvas.setAttribute('aria-label', `${seeds.length} generator samples at step ${session.genSteps}: ${PER_CLASS} fixed seeds for each of the ${Math.max(1, session.labelDim)} classes, one class per column`);
  };
  const drawChart = () => {
    const xs = metrics.map((m) => m.genSteps);
    drawLines(cc, CH_W, CH_H, 'log scale', [
      { xs, ys: metrics.map((m) => m.fd), color: '#1f77b4', label: 'FD-FMNIST' },
      { xs, ys: metrics.map((m) => Math.max(1e-3, m.classAcc) * 100), color: '#ff7f0e', label: 'class acc %' },
    ], { log: true });
    chart.setAttribute('aria-label', metrics.length ? `FD-FMNIST and class accuracy by generator step: ${metrics.map((m) => `step ${m.genSteps}: FD ${fmt(m.fd)}, ${(m.classAcc * 100).toFixed(1)}%`).join('; ')}` : 'FD-FMNIST and class accuracy by generator step: no evaluation yet');
  };
  const evaluate = async () => {
    if (!session) return;
    const n = Math.max(2, Math.floor(evalNIn.valueAsNumber) || 100);
    const eta = evalMsPerImage > 0 ? `, about ${Math.ceil((evalMsPerImage * n) / 1000)} s` : '';
    status.textContent = `Evaluating on ${n} images at step ${session.genSteps}${eta}…`;
    const t0 = performance.now();
    const m = await worker.call<Omit<DistillMetricsPoint, 'genSteps' | 'kimg'>>('evaluate', { n });
    evalMsPerImage = (performance.now() - t0) / n;
    metrics.push({ ...m, genSteps: session.genSteps, kimg: session.kimg });
    const first = metrics[0];
    read.fd.textContent = metrics.length > 1 ? `${fmt(first.fd)} → ${fmt(m.fd)}` : fmt(m.fd);
    read.acc.textContent = metrics.length > 1 ? `${(first.classAcc * 100).toFixed(1)}% → ${(m.classAcc * 100).toFixed(1)}%` : `${(m.classAcc * 100).toFixed(1)}%`;
    drawChart();
  };
  /**
   * A first number within seconds: FD and class accuracy of QUICK_EVAL_N images at step 0, shown as
   * rough until the full evaluation replaces it (FD on so few images is biased high; not charted).
   */
  const quickLook = async () => {
    if (!session) return;
    status.textContent = `A first look: scoring ${QUICK_EVAL_N} images (the first call compiles the network)…`;
    const m = await worker.call<Omit<DistillMetricsPoint, 'genSteps' | 'kimg'>>('evaluate', { n: QUICK_EVAL_N });
    pageState.distill.quick = { n: m.n, fd: m.fd, classAcc: m.classAcc, ms: performance.now() - startedAt };
    read.fd.textContent = `${fmt(m.fd)} (rough: ${m.n} images)`;
    read.acc.textContent = `${(m.classAcc * 100).toFixed(0)}% (rough: ${m.n} images)`;
  };
  const budget = () => Math.max(1, Math.floor(stepsIn.valueAsNumber) || 1);
  const every = () => Math.max(1, Math.floor(everyIn.valueAsNumber) || 1);
  let startedAt = 0;

  /** What is left of the run, from the measured step and evaluation times. */
  const etaText = () => {
    if (!session || stepMs === 0) return '';
    const left = budget() - session.genSteps;
    const evals = Math.floor(budget() / every()) - Math.floor(session.genSteps / every());
    const n = Math.max(2, Math.floor(evalNIn.valueAsNumber) || 100);
    const sec = (left * stepMs) / Math.max(1, stepImages / session.batch) / 1000 + (evals * evalMsPerImage * n) / 1000;
    return sec > 0 ? ` About ${sec < 90 ? `${Math.ceil(sec)} s` : `${Math.ceil(sec / 60)} min`} left.` : '';
  };

  const build = async () => {
    set('loading');
    status.textContent = 'Fetching the teacher and the metric network…';
    await ready;
    const cfg = formConfig();
    const r = await worker.call<{ labelDim: number; shape: number[]; genSteps: number; kimg: number; skipped: number }>('build', { base, cfg });
    session = { ...r, batch: cfg.batch };
    settingsNote.hidden = true;
    // the first number before the grid: the grid's 20 images would delay it by twice the quick look's 10
    await quickLook();
    status.textContent = 'Drawing the initial generator…';
    await drawGridOf(firstGrid);
    liveGrid.width = firstGrid.width;
    liveGrid.height = firstGrid.height;
    liveGrid.getContext('2d')!.drawImage(firstGrid, 0, 0);
    await evaluate();
  };

  const train = async () => {
    while (want && session && session.genSteps < budget()) {
      const t0 = performance.now();
      status.textContent = `Step ${session.genSteps + 1} of ${budget()}${session.genSteps === 0 ? ' (compiling the training step first)' : ''}…${etaText()}`;
      const r = await worker.call<{ fakeLoss: number; genLoss: number; genSteps: number; kimg: number; skipped: number }>('run', { n: 1 });
      const ms = performance.now() - t0;
      Object.assign(session, { genSteps: r.genSteps, kimg: r.kimg, skipped: r.skipped });
      if (session.genSteps > 1) {
        // the first step includes compiling; the rate counts the rest
        stepMs += ms;
        stepImages += session.batch;
      }
      const ips = stepMs > 0 ? (stepImages * 1000) / stepMs : (session.batch * 1000) / ms;
      pageState.distill.genSteps = session.genSteps;
      pageState.distill.kimg = session.kimg;
      pageState.distill.imagesPerSec = ips;
      read.steps.textContent = `${session.genSteps} (${session.kimg.toFixed(3)} kimg)${session.skipped ? `, ${session.skipped} skipped` : ''}`;
      read.ips.textContent = ips.toFixed(2);
      read.fake.textContent = fmt(r.fakeLoss);
      read.gen.textContent = fmt(r.genLoss);
      await drawGridOf(liveGrid);
      liveCaption.textContent = `Now: step ${session.genSteps} (EMA generator)`;
      if (session.genSteps % every() === 0 || session.genSteps >= budget()) await evaluate();
    }
  };

  const showState = () => {
    const s = session;
    const busy = loop !== null;
    startBtn.textContent = `${want ? 'Pause' : s && s.genSteps > 0 ? (s.genSteps >= budget() ? 'Run on' : 'Resume') : 'Start'} distilling`;
    // a Pause asked for is acknowledged and waits for the step in progress
    startBtn.disabled = broken || (busy && !want);
    resetBtn.disabled = busy || !s;
    downloadBtn.disabled = busy || !s || broken;
    if (!busy && s && !broken) {
      const last = metrics.at(-1);
      status.textContent = `${s.genSteps >= budget() ? 'Done' : 'Paused'} at step ${s.genSteps} (${s.kimg.toFixed(3)} kimg)${last ? `: FD-FMNIST ${fmt(last.fd)}, class accuracy ${(last.classAcc * 100).toFixed(1)}% on ${last.n} images` : ''}.`;
    }
  };

  const fail = (e: unknown) => {
    want = false;
    set('error');
    errorBox.hidden = false;
    const msg = (e as Error).message ?? String(e);
    // Chromium's SwiftShader lost its device on the first training step here (the GPU process dropped
    // the WebGPU instance); say what to do rather than only the browser's words.
    const lost = /Instance dropped|no longer exists|device (was )?lost|DeviceLost/i.test(msg);
    errorBox.textContent = lost
      ? `Distillation failed: the browser lost the GPU device during a training step (${msg}). A software GPU can be stopped on a step this large; reload with ?device=wasm to train on the CPU.`
      : `Distillation failed: ${msg}`;
    // the session's state is unknown after a failed step: only Reset (or a reload) goes on
    if (session) broken = true;
    status.textContent = session ? 'Stopped by the error above: press Reset to start again.' : 'Stopped by the error above.';
    console.error(e);
  };

  startBtn.addEventListener('click', () => {
    if (want) {
      want = false; // the loop stops after the current step
      status.textContent = 'Pausing after this step…';
      showState();
      return;
    }
    if (loop || broken) return;
    if (session && session.genSteps >= budget()) stepsIn.value = String(session.genSteps + every());
    want = true;
    startedAt = performance.now();
    errorBox.hidden = true;
    loop = (async () => {
      try {
        if (!session) await build();
        set('running');
        await train();
        set(session && session.genSteps >= budget() ? 'done' : 'paused');
      } catch (e) {
        fail(e);
      } finally {
        want = false;
        loop = null;
        showState();
      }
    })();
    showState();
  });

  resetBtn.addEventListener('click', async () => {
    if (loop) return;
    resetBtn.disabled = true;
    session = null;
    broken = false;
    metrics.length = 0;
    stepMs = stepImages = 0;
    for (const c of [firstGrid, liveGrid]) c.getContext('2d')?.clearRect(0, 0, c.width, c.height);
    for (const r of Object.values(read)) r.textContent = '–';
    liveCaption.textContent = 'Now (EMA generator)';
    drawChart();
    Object.assign(pageState.distill, { status: 'idle', genSteps: 0, kimg: 0, imagesPerSec: 0, fileBytes: 0 });
    settingsNote.hidden = true;
    errorBox.hidden = true;
    status.textContent = 'Reset: press Start distilling to distill with the settings above.';
    try {
      await worker.call('dispose');
    } catch (e) {
      fail(e);
    }
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
    if (!session || loop || broken) return;
    downloadBtn.disabled = true;
    try {
      const last = metrics.at(-1);
      const bytes = await worker.call<Uint8Array>('generatorFile', { extra: last ? { browserMetrics: { ...last, metric: 'FD-FMNIST' } } : {} });
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
      downloadBtn.disabled = !!loop || !session || broken;
    }
  });
  drawChart();
}
