/**
 * Live 2-D Diff-Instruct: an analytic Gaussian-mixture teacher, an MLP generator and an MLP fake score
 * trained in the page (toy-session.ts), with the scatter of teacher vs generator samples, loss curves,
 * MMD² to the teacher and the controls of the `distill` config that matter here.
 *
 * The training runs in a Web Worker (toy-worker.ts); this thread only draws. The loop asks the worker
 * for a few steps per animation frame and draws what comes back (mean losses, and the plotted samples and
 * scores every ~150 ms). The number of steps per call adapts so a call's compute stays near FRAME_MS,
 * so pictures and clicks stay prompt. A run whose losses blow up or whose points fly off is stopped and
 * named ("diverged at step N").
 *
 * URL parameters (for links and tests): toy, loss, weighting, sigmaDist, lrGen, lrFake, fakeSteps, seed,
 * steps (pause after this many generator steps).
 */
import { GENERATOR_LOSSES, WEIGHTINGS, toyModels, type DistillConfig } from 'diff-instruct';
import { fmt, h, numberInput, row, select } from './dom.js';
import { drawLines, drawScatter, rangeFor, setupCanvas } from './plot.js';
import { LOSS_TEXT, SIGMA_TEXT, WEIGHTING_TEXT } from './labels.js';
import { pageState } from './state.js';
import { WorkerClient } from './rpc.js';
import type { ToyFrame, ToyScores } from './toy-worker.js';
import { LOSS_DEFAULTS, lossDefaults, playgroundConfig, RESET_KEYS, SDS_NOTE } from './toy-config.js';
import { urlSettings } from './url-settings.js';

const FRAME_MS = 60;
const PLOT_EVERY_MS = 150;
const SCATTER = 440;

export async function mountPlayground(root: HTMLElement): Promise<void> {
  const settings = urlSettings();
  // `?steps=N` pauses the first run after N generator steps; Resume then runs on.
  let stopAt = settings.page.steps ?? 0;
  const url = { values: settings.playground };
  let cfg: DistillConfig = playgroundConfig(url.values);

  // ---- controls ----
  const toySel = select('toy', toyModels.TOY_TEACHERS.map((t) => [t, t]), cfg.teacher.slice(4));
  const lossSel = select('loss', GENERATOR_LOSSES.map((l) => [l, LOSS_TEXT[l]?.[0] ?? l]), cfg.loss);
  const weightSel = select('weighting', WEIGHTINGS.map((w) => [w, WEIGHTING_TEXT[w]?.[0] ?? w]), cfg.weighting);
  const sigmaSel = select('sigmaDist', Object.keys(SIGMA_TEXT).map((s) => [s, SIGMA_TEXT[s][0]]), cfg.sigmaDist);
  const lossHint = h('span', { class: 'hint', id: 'loss-hint' });
  const weightHint = h('span', { class: 'hint', id: 'weighting-hint' });
  const sigmaHint = h('span', { class: 'hint', id: 'sigmaDist-hint' });
  const pMean = numberInput('pMean', cfg.pMean, { step: 0.1 });
  const pStd = numberInput('pStd', cfg.pStd, { min: 0.05, step: 0.1 });
  const sMin = numberInput('sigmaMin', cfg.sigmaMin, { min: 0.001 });
  const sMax = numberInput('sigmaMax', cfg.sigmaMax, { min: 0.01 });
  const sFixed = numberInput('sigmaFixed', cfg.sigmaFixed, { min: 0.001 });
  const lrGen = numberInput('lrGen', cfg.lrGen, { min: 0 });
  const lrFake = numberInput('lrFake', cfg.lrFake, { min: 0 });
  const ratio = numberInput('fakeSteps', cfg.fakeSteps, { min: 0, max: 20, step: 1 });
  const seed = numberInput('seed', cfg.seed, { min: 0, step: 1 });
  const startBtn = h('button', { id: 'start', class: 'primary' }, 'Start');
  const resetBtn = h('button', { id: 'reset' }, 'Reset');
  const status = h('div', { id: 'status', class: 'status', role: 'status' }, 'Building the models…');
  const error = h('div', { id: 'settings-error', class: 'error', hidden: true });
  const resetHint = h('div', { id: 'reset-hint', class: 'notice small', hidden: true });
  const sdsNote = h('div', { id: 'sds-note', class: 'notice small', hidden: cfg.loss !== 'sds' }, SDS_NOTE);

  const read = {
    steps: h('span', { id: 'stat-steps' }, '0'),
    sps: h('span', { id: 'stat-sps' }, '–'),
    fake: h('span', { id: 'stat-fake' }, '–'),
    gen: h('span', { id: 'stat-gen' }, '–'),
    mmd: h('span', { id: 'stat-mmd' }, '–'),
    modes: h('span', { id: 'stat-modes' }, '–'),
  };
  const scatterCanvas = h('canvas', { id: 'scatter', role: 'img', 'aria-label': 'Scatter of teacher and generator points: building' });
  const lossCanvas = h('canvas', { id: 'loss-chart', role: 'img', 'aria-label': 'Fake-score loss chart: no data yet' });
  const genCanvas = h('canvas', { id: 'gen-chart', role: 'img', 'aria-label': 'Generator loss chart: no data yet' });
  const mmdCanvas = h('canvas', { id: 'mmd-chart', role: 'img', 'aria-label': 'MMD² to the teacher chart: no data yet' });
  const sc = setupCanvas(scatterCanvas, SCATTER, SCATTER);
  const CH_W = 420, CH_H = 140;
  const lc = setupCanvas(lossCanvas, CH_W, CH_H);
  const gc = setupCanvas(genCanvas, CH_W, CH_H);
  const mc = setupCanvas(mmdCanvas, CH_W, CH_H);

  // one σ_min/σ_max pair of rows, shown for both distributions that use them (a control has one label)
  const minMaxRows = [row('σ_min', sMin), row('σ_max', sMax)];
  const sigmaRows = {
    lognormal: [row('P_mean', pMean), row('P_std', pStd)],
    loguniform: minMaxRows,
    karras: minMaxRows,
    fixed: [row('σ', sFixed)],
  } as Record<string, HTMLElement[]>;
  const sigmaBox = h('div', { class: 'sigma-params' });
  const lrFakeRow = row('Fake-score lr', lrFake);
  const ratioRow = row('Fake : generator steps', ratio);
  const fakeStatRow = h('tr', {}, h('th', {}, 'fake-score loss'), h('td', {}, read.fake));
  /** What only a fake score has: hidden for SDS. */
  const fakeOnly: HTMLElement[] = [lrFakeRow, ratioRow, fakeStatRow, lossCanvas];

  root.append(
    h('h2', {}, 'Live distillation of a 2-D teacher'),
    h(
      'p',
      { class: 'explain' },
      'The teacher is an analytic Gaussian mixture whose denoiser is exact. A small MLP generator maps 2-D noise to points in one step; ' +
        'a second MLP (the fake score) keeps learning the generator’s own distribution, and the generator follows the difference of the two scores ' +
        '(Diff-Instruct’s IKL gradient). Grey: teacher samples; red: the generator, at fixed latents.',
    ),
    h(
      'div',
      { class: 'pg' },
      h(
        'div',
        { class: 'controls' },
        // the run's buttons, status and numbers first: in view at 1280×800, and beside the plot on a phone
        h(
          'div',
          { class: 'run' },
          h('div', { class: 'buttons' }, startBtn, resetBtn),
          error,
          resetHint,
          sdsNote,
          status,
          h(
            'table',
            { class: 'stats' },
            h('tr', {}, h('th', {}, 'generator steps'), h('td', {}, read.steps)),
            h('tr', {}, h('th', {}, 'steps / s'), h('td', {}, read.sps)),
            fakeStatRow,
            h('tr', { title: 'The surrogate whose gradient is the method’s update; its value is not a distance.' }, h('th', {}, 'generator loss'), h('td', {}, read.gen)),
            h('tr', {}, h('th', {}, 'MMD² to teacher'), h('td', {}, read.mmd)),
            h('tr', { title: 'Modes with at least a quarter of their fair share of samples within 3 std (src/metrics/toy2d.ts)' }, h('th', {}, 'modes covered'), h('td', {}, read.modes)),
          ),
        ),
        h(
          'div',
          { class: 'settings' },
          row('Teacher', toySel),
          row('Loss', lossSel, lossHint),
          row('w(σ)', weightSel, weightHint),
          row('σ distribution', sigmaSel, sigmaHint),
          sigmaBox,
          row('Generator lr', lrGen),
          lrFakeRow,
          ratioRow,
          row('Seed', seed),
        ),
      ),
      h(
        'div',
        { class: 'plots' },
        scatterCanvas,
        h('div', { class: 'charts' }, lossCanvas, genCanvas, mmdCanvas),
        h(
          'dl',
          { class: 'chart-notes', id: 'chart-notes' },
          h('dt', {}, 'Fake-score loss'),
          h('dd', {}, 'how well the second network denoises the generator’s current points (EDM’s loss). It settles rather than falls to zero, because the generator keeps moving away from what it learnt.'),
          h('dt', {}, 'Generator loss'),
          h('dd', {}, 'the surrogate whose gradient is the update. Its value is not a distance to the teacher and may be negative or jump about: read progress from the scatter and MMD², not from it.'),
          h('dt', {}, 'MMD² to the teacher'),
          h('dd', {}, 'a kernel distance between 600 generator and 600 teacher points (log scale): lower is closer; ~1e-3 is as close as two teacher samples get. Modes covered counts the mixture’s components that receive points.'),
        ),
      ),
    ),
  );

  const showSigma = () => {
    sigmaBox.replaceChildren(...(sigmaRows[sigmaSel.value] ?? []));
    weightSel.disabled = lossSel.value === 'dmd' || lossSel.value === 'sid';
    lossHint.textContent = LOSS_TEXT[lossSel.value]?.[1] ?? '';
    weightHint.textContent = weightSel.disabled ? 'not used: DMD and SiD normalise per sample' : (WEIGHTING_TEXT[weightSel.value]?.[1] ?? '');
    sigmaHint.textContent = SIGMA_TEXT[sigmaSel.value]?.[1] ?? '';
    // SDS has no fake score: its settings, number and chart are hidden
    const sds = lossSel.value === 'sds';
    for (const el of fakeOnly) el.hidden = sds;
  };
  showSigma();

  const formConfig = (): DistillConfig =>
    playgroundConfig({
      ...url.values,
      teacher: `toy:${toySel.value}`,
      loss: lossSel.value as DistillConfig['loss'],
      weighting: weightSel.value as DistillConfig['weighting'],
      sigmaDist: sigmaSel.value as DistillConfig['sigmaDist'],
      pMean: pMean.valueAsNumber,
      pStd: pStd.valueAsNumber,
      sigmaMin: sMin.valueAsNumber,
      sigmaMax: sMax.valueAsNumber,
      sigmaFixed: sFixed.valueAsNumber,
      lrGen: lrGen.valueAsNumber,
      lrFake: lrFake.valueAsNumber,
      fakeSteps: ratio.valueAsNumber,
      seed: seed.valueAsNumber,
    });

  /** Puts `values` into the form's inputs (a loss's defaults). */
  const setForm = (values: Partial<DistillConfig>) => {
    const inputs: [HTMLInputElement | HTMLSelectElement, keyof DistillConfig][] = [
      [weightSel, 'weighting'], [sigmaSel, 'sigmaDist'], [pMean, 'pMean'], [pStd, 'pStd'], [sMin, 'sigmaMin'], [sMax, 'sigmaMax'],
      [sFixed, 'sigmaFixed'], [lrGen, 'lrGen'], [lrFake, 'lrFake'], [ratio, 'fakeSteps'],
    ];
    const full = playgroundConfig({ ...values, teacher: `toy:${toySel.value}`, seed: seed.valueAsNumber });
    for (const [el, k] of inputs) el.value = String(full[k]);
    showSigma();
  };

  // ---- state ----
  // The training runs in a worker (toy-worker.ts); this thread keeps one state machine: `want` is what the
  // user asked for (running or not), `running` whether the frame loop is on. Every action (Start/Pause,
  // Reset, a setting) is acknowledged at once in the status line and the buttons, then queued: actions
  // run one at a time, in order, so no click can land in the middle of a rebuild.
  const worker = new WorkerClient(new Worker(new URL('./toy-worker.ts', import.meta.url), { type: 'module' }));
  let built = false;
  let genSteps = 0;
  let teacherPoints: Float32Array = new Float32Array(0);
  let teacherRms = 1;
  let range = 4;
  let want = false;
  let running = false;
  let loop: Promise<void> | null = null;
  let queue: Promise<void> = Promise.resolve();
  let rebuildsQueued = 0;
  let lastSamples: Float32Array | null = null;
  let stepsPerFrame = 1;
  let rate = { t: 0, steps: 0 };

  const redraw = () => {
    if (!built) return;
    const hist = pageState.history;
    drawScatter(sc, SCATTER, range, teacherPoints, lastSamples, `${cfg.teacher.slice(4)} · ${cfg.loss.toUpperCase()} · step ${genSteps}`);
    // The fake score trains during the warm-up too, so its curve runs on the fake-step clock.
    const fx = hist.map((p) => p.fakeStep);
    drawLines(lc, CH_W, CH_H, 'fake-score loss (EDM denoising)', [{ xs: fx, ys: hist.map((p) => p.fakeLoss), color: '#1f77b4', label: 'fake' }], { xLabel: 'fake steps' });
    const g = hist.filter((p) => Number.isFinite(p.genLoss));
    drawLines(gc, CH_W, CH_H, `generator loss (${cfg.loss.toUpperCase()} surrogate)`, [{ xs: g.map((p) => p.genStep), ys: g.map((p) => p.genLoss), color: '#d62728', label: 'gen' }]);
    // text alternatives: what each picture shows, with its latest numbers
    const last = hist.at(-1);
    const lastMmd = pageState.mmd.at(-1);
    scatterCanvas.setAttribute('aria-label', `Scatter of 600 teacher points (grey) and 600 generator points (red) on ${cfg.teacher.slice(4)} at generator step ${genSteps}${lastMmd ? `: MMD² ${fmt(lastMmd.mmd)}` : ''}${pageState.modes ? `, ${pageState.modes.covered} of ${pageState.modes.total} modes covered` : ''}`);
    lossCanvas.setAttribute('aria-label', last ? `Fake-score loss over ${last.fakeStep} fake steps: latest ${fmt(last.fakeLoss)}` : 'Fake-score loss chart: no data yet');
    genCanvas.setAttribute('aria-label', g.length ? `Generator loss over ${g.at(-1)!.genStep} generator steps: latest ${fmt(g.at(-1)!.genLoss)}` : 'Generator loss chart: no data yet');
    mmdCanvas.setAttribute('aria-label', lastMmd ? `MMD² to the teacher by generator step: ${pageState.mmd.length} scores, first ${fmt(pageState.mmd[0].mmd)}, latest ${fmt(lastMmd.mmd)}` : 'MMD² chart: no data yet');
    drawLines(mc, CH_W, CH_H, 'MMD² to the teacher (log scale)', [{ xs: pageState.mmd.map((p) => p.genStep), ys: pageState.mmd.map((p) => Math.max(p.mmd, 1e-5)), color: '#2ca02c', label: 'MMD²' }], { log: true });
  };

  // The library's toy scores (src/metrics/toy2d.ts), computed in the worker, so the page's numbers are the CLI's.
  const showScores = (sc: ToyScores) => {
    pageState.mmd.push({ genStep: genSteps, mmd: sc.mmd });
    read.mmd.textContent = fmt(sc.mmd);
    if (sc.modes) {
      pageState.modes = { genStep: genSteps, covered: sc.modes.covered, total: sc.modes.total };
      read.modes.textContent = `${sc.modes.covered} / ${sc.modes.total} · ${Math.round(100 * sc.modes.highQuality)}% near one`;
    }
  };

  const setButtons = () => {
    startBtn.textContent = want ? 'Pause' : genSteps > 0 ? 'Resume' : 'Start';
    startBtn.disabled = !built && !want;
    pageState.running = running;
    pageState.want = want;
  };
  const say = (text: string) => {
    status.textContent = text;
  };

  /** An error in an action or the loop: the run stops and says why (never a silent "Training…"). */
  const stopWith = (e: unknown) => {
    want = false;
    running = false;
    say(`Stopped by an error: ${(e as Error).message}`);
    pageState.error = (e as Error).message;
    console.error(e);
    setButtons();
  };
  /** Queues an action after the ones before it; an error stops the run and is shown, never left pending. */
  const enqueue = (fn: () => Promise<void>) => {
    pageState.pending++;
    queue = queue.then(fn).finally(() => pageState.pending--).catch(stopWith);
    return queue;
  };

  const build = async () => {
    built = false;
    genSteps = 0;
    resetHint.hidden = true;
    pageState.history = [];
    pageState.mmd = [];
    pageState.modes = null;
    pageState.diverged = null;
    pageState.stepsPerSec = 0;
    lastSamples = null;
    setButtons();
    cfg = formConfig();
    say(`Building the models (${cfg.teacher.slice(4)})…`);
    const r = await worker.call<{ teacherPoints: Float32Array; samples: Float32Array; scores: ToyScores }>('build', { cfg });
    teacherPoints = r.teacherPoints;
    teacherRms = Math.sqrt(teacherPoints.reduce((a, v) => a + v * v, 0) / Math.max(1, teacherPoints.length)) || 1;
    range = rangeFor(teacherPoints);
    lastSamples = r.samples;
    built = true;
    pageState.runs++;
    pageState.teacher = cfg.teacher;
    showScores(r.scores);
    read.steps.textContent = '0';
    read.sps.textContent = '–';
    read.fake.textContent = '–';
    read.gen.textContent = '–';
    say(`Ready: ${cfg.batch} points per step, ${cfg.loss === 'sds' ? 'no fake score (SDS)' : `${cfg.fakeWarmup} warm-up fake-score steps first`}.`);
    redraw();
    setButtons();
  };

  const frame = () => new Promise<number>((r) => requestAnimationFrame(r));

  /** Why a frame says the run has diverged, or '' (the fake score's EDM loss is O(1) on these toys). */
  const divergence = (f: ToyFrame, ranFake: boolean): string => {
    if (ranFake && !Number.isFinite(f.fakeLoss)) return 'the fake-score loss is not finite';
    if (ranFake && f.fakeLoss > 1e3) return `the fake-score loss is ${fmt(f.fakeLoss)}`;
    if (f.samples) {
      let s2 = 0;
      for (const v of f.samples) s2 += v * v;
      const rms = Math.sqrt(s2 / f.samples.length);
      if (!Number.isFinite(rms)) return 'the generator’s points are not finite';
      if (rms > 20 * teacherRms) return `the generator’s points are ${Math.round(rms / teacherRms)}× farther out than the teacher’s`;
    }
    return '';
  };

  const runLoop = async () => {
    rate = { t: performance.now(), steps: genSteps };
    pageState.sharing = false;
    let lastPlot = 0;
    let fakeDone = pageState.history.at(-1)?.fakeStep ?? 0;
    while (running) {
      await frame();
      if (!running) break;
      const left = stopAt > 0 ? stopAt - genSteps : Infinity;
      if (left <= 0) break;
      const n = Math.max(1, Math.min(stepsPerFrame, left));
      const t0 = performance.now();
      const withSamples = t0 - lastPlot > PLOT_EVERY_MS || n >= left;
      const r = await worker.call<ToyFrame>('run', { n, withSamples });
      const dt = performance.now() - t0;
      // Aim for FRAME_MS of compute per call; move gently so one slow call does not swing it.
      stepsPerFrame = Math.max(1, Math.min(64, Math.round(stepsPerFrame * Math.min(2, Math.max(0.5, FRAME_MS / Math.max(dt, 1))))));
      const ranFake = r.fakeSteps > fakeDone;
      fakeDone = r.fakeSteps;
      genSteps = r.genSteps;
      pageState.history.push({ genStep: r.genSteps, fakeStep: r.fakeSteps, fakeLoss: r.fakeLoss, genLoss: r.genLoss, t: performance.now() });
      read.steps.textContent = r.warmingUp ? `0 (warm-up: ${r.fakeSteps}/${cfg.fakeWarmup} fake steps)` : String(r.genSteps);
      read.fake.textContent = fmt(r.fakeLoss);
      if (Number.isFinite(r.genLoss)) read.gen.textContent = fmt(r.genLoss);
      const now = performance.now();
      // the image distillation below shares the same cores (or GPU): say why the steps/s fell
      const shared = ['loading', 'running'].includes(pageState.distill.status);
      if (shared !== pageState.sharing) {
        pageState.sharing = shared;
        say(shared ? `Training… slower while the image distillation below runs too: both share the ${pageState.backend === 'webgpu' ? 'GPU' : 'CPU'}.` : 'Training…');
      }
      if (now - rate.t > 1000) {
        // steps/s over the last second or so: generator steps (each with `fakeSteps` fake steps).
        const g = genSteps - rate.steps;
        if (g > 0) {
          pageState.stepsPerSec = (g * 1000) / (now - rate.t);
          // with a step budget (?steps), the time it still needs at this rate
          const eta = stopAt > genSteps ? ` · about ${Math.ceil((stopAt - genSteps) / pageState.stepsPerSec)} s to step ${stopAt}` : '';
          read.sps.textContent = `${pageState.stepsPerSec.toFixed(1)}${cfg.loss === 'sds' ? '' : ` (×${cfg.fakeSteps} fake)`}${eta}`;
        }
        rate = { t: now, steps: genSteps };
      }
      if (r.samples) {
        lastSamples = r.samples;
        if (r.scores) showScores(r.scores);
        lastPlot = now;
        redraw();
      }
      const why = divergence(r, ranFake);
      if (why) {
        pageState.diverged = { genStep: genSteps, why };
        want = false;
        running = false;
        say(`Diverged at step ${genSteps}: ${why}. Lower the learning rates and press Reset.`);
        break;
      }
    }
    running = false;
    if (stopAt > 0 && genSteps >= stopAt) {
      want = false;
      say(`Paused after ${genSteps} generator steps (steps=${stopAt} in the URL).`);
      stopAt = 0;
    }
    setButtons();
    redraw();
  };

  const stopLoop = async () => {
    running = false;
    await loop;
    loop = null;
  };

  /** Brings the loop to what the user asked for (`want`). */
  const sync = async () => {
    if (want && !running && built && !pageState.diverged) {
      running = true;
      say('Training…');
      setButtons();
      loop = runLoop().catch(stopWith);
    } else if (!want && running) {
      await stopLoop();
      if (!pageState.diverged) say(`Paused at ${genSteps} generator steps.`);
    } else if (want && pageState.diverged) {
      want = false;
      say(`Diverged at step ${pageState.diverged.genStep}: press Reset (with lower learning rates) to train again.`);
    }
    setButtons();
  };

  /** Rebuilds the run from the form (Reset, a new teacher or seed); several queued rebuilds become one. */
  const rebuild = (why: string) => {
    rebuildsQueued++;
    say(why);
    enqueue(async () => {
      if (--rebuildsQueued > 0) return; // a later rebuild reads the same form
      await stopLoop();
      await build();
    });
    enqueue(sync);
  };

  startBtn.addEventListener('click', () => {
    want = !want;
    say(want ? 'Starting…' : 'Pausing…');
    setButtons();
    enqueue(sync);
  });
  resetBtn.addEventListener('click', () => rebuild('Resetting: building new models…'));

  const onChange = (e: Event) => {
    showSigma();
    let next: DistillConfig;
    try {
      next = formConfig();
      error.hidden = true;
    } catch (err) {
      const issues = (err as { issues?: { path: unknown[]; message: string }[] }).issues;
      error.textContent = issues ? issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message;
      error.hidden = false;
      return;
    }
    const id = (e.target as HTMLElement).id;
    const key = id === 'toy' ? 'teacher' : id;
    if (id === 'loss' && next.loss !== cfg.loss) {
      // each loss comes with the defaults it trains with (toy-config.ts, LOSS_DEFAULTS)
      setForm(lossDefaults(next.loss));
      next = formConfig();
      const own = Object.entries(LOSS_DEFAULTS[next.loss] ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
      const name = LOSS_TEXT[next.loss]?.[0] ?? next.loss;
      const restart = RESET_KEYS.some((k) => next[k] !== cfg[k]);
      resetHint.textContent =
        `Loss switched to ${name}${own ? ` with its defaults (${own})` : ' with the page defaults'}` +
        (restart ? ': they need new models, so the run starts again.' : genSteps > 0 ? `, at step ${genSteps}: the generator goes on from where ${LOSS_TEXT[cfg.loss]?.[0] ?? cfg.loss} left it. Press Reset to see the new loss from the start.` : '.');
      resetHint.hidden = false;
      sdsNote.hidden = next.loss !== 'sds';
    }
    if ((RESET_KEYS as readonly string[]).includes(key) || RESET_KEYS.some((k) => next[k] !== cfg[k])) {
      rebuild(`${key === 'teacher' ? `Teacher ${next.teacher.slice(4)}` : `${key} ${String(next[key as keyof DistillConfig])}`}: building new models…`);
      return;
    }
    // applies between two frames of the worker (its calls run in order), to the run as it is
    enqueue(async () => {
      if (!built) return;
      const c = formConfig();
      if (RESET_KEYS.some((k) => c[k] !== cfg[k])) return; // a queued rebuild takes it
      await worker.call('update', { cfg: c });
      cfg = c;
    });
  };
  for (const el of [toySel, lossSel, weightSel, sigmaSel, pMean, pStd, sMin, sMax, sFixed, lrGen, lrFake, ratio, seed]) el.addEventListener('change', onChange);

  setButtons();
  await worker.call('init', { device: pageState.backend });
  await enqueue(build);
  setButtons();
}
