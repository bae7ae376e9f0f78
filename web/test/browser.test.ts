// Browser tests of the playground: Debian's Chromium, driven by playwright-core, on the static build
// served by `vite preview` on 127.0.0.1. One browser with WebGPU (SwiftShader, through
// --enable-unsafe-webgpu) runs the live 2-D distillation and the gallery; one without WebGPU checks the
// Wasm fallback and the "model file not found" message. The gallery loads the shipped one-step generator
// and its teacher (models/fmnist-cond-onestep, models/fmnist-cond); in a checkout without them, tiny
// randomly-initialised SongUNet checkpoints that this test writes (labelled as such in their metadata).
// Screenshots and timings go to web/test/artifacts/.
// The library (its Node barrel) first: its Node shims must run before jax-js loads.
import { initDevice, params, songUNet } from '../../src/index.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { random } from '@jax-js/jax';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = join(WEB, 'test', 'artifacts');
/** axe-core, injected into the page for the accessibility check. */
const AXE = join(WEB, '..', 'node_modules', 'axe-core', 'axe.min.js');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps dialling out, which this machine refuses.
const BASE_FLAGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--disable-dev-shm-usage'];
/** WebGPU on a CPU-only machine: Chromium's SwiftShader Vulkan adapter needs only this flag. */
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu'];
/** Generator steps of the 2-D run (after WARMUP fake-score steps); small, so the test stays within a minute or two on 2 cores. */
const STEPS = 40;
const WARMUP = 60;
/** Gallery batch: small, because every evaluation of even a tiny SongUNet takes a while on a software GPU. */
const GALLERY_BATCH = 4;
/**
 * Teacher steps in the gallery (?teacherSteps): 2 Heun steps = 3 evaluations, the same code path as
 * EDM's 18 (35 evaluations, which took 134 s per batch of 4 of the shipped teacher on SwiftShader in CI).
 */
const TEACHER_STEPS = 2;

/** The gallery's files (web/src/gallery.ts), shipped under models/. */
const REPO_MODELS = join(WEB, '..', 'models');
const SHIPPED = ['fmnist-cond-onestep.safetensors', 'fmnist-cond.safetensors'];
const shipped = () => SHIPPED.every((f) => existsSync(join(REPO_MODELS, f)));
/** What the in-tab distillation fetches besides the teacher: the metric network and its reference statistics. */
const METRIC_FILES = ['classifier-fmnist.safetensors', 'ref-fmnist-test.safetensors'];
const distillable = () => shipped() && METRIC_FILES.every((f) => existsSync(join(REPO_MODELS, f)));
/**
 * The in-tab distillation's budget: 4 generator steps at the CPU preset's batch 4 (16 generator images),
 * scored on 50 images at steps 0 and 4. Measured with the CLI on the same settings (2-core machine,
 * 8 steps, 200 images): FD-FMNIST 288.6 → 92.4, class accuracy 41.5% → 76%, so a handful of steps
 * already moves both far beyond their noise at n = 100.
 */
const DISTILL_STEPS = 4;
const DISTILL_EVAL_N = 50;

/** Seconds of 2-D training watched for long main-thread tasks (DI_LONGTASK_S; docs record a 60 s run). */
const LONGTASK_S = Number(process.env.DI_LONGTASK_S ?? 6); // 10 until 2026-12-07 (suite time)
/**
 * The most a main-thread task may take, and the most of the window long tasks may fill, while the page
 * trains. The goal is no task over 50 ms, met on a quiet machine (docs/web-page.md); a long task's
 * duration is wall time, and with 2 cores shared by two workers, other test files and other jobs a
 * 20 ms task was measured at up to 299 ms. The bounds still fail the page as it was before its
 * workers: distillation compiles blocked it 3.5–8.4 s, and the 2-D loop filled 80 % of it.
 */
const LONGTASK_LIMIT_MS = 500;
const LONGTASK_BUSY_MAX = 0.1;
/** Generator steps each loss trains in the loss-defaults test (1,000 in toy-config.ts's measurements). */
const LOSS_STEPS = 1000;
/** Seconds both sections train at once in the no-isolation test. */
const NO_ISOLATION_S = 5;
/** Rounds of each control race (seed-then-Pause, ArrowDown ×4). */
const RACE_REPEATS = 3;

/** Installed before the page loads: records main-thread tasks over 50 ms as `window.__longTasks`. */
function observeLongTasks(): void {
  const out: { start: number; ms: number }[] = [];
  (window as any).__longTasks = out;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) out.push({ start: e.startTime, ms: e.duration });
  }).observe({ type: 'longtask', buffered: true });
}

const summary: Record<string, unknown> = {};
let tmp = '';
let server: PreviewServer | null = null;
let url = '';
const missingBrowser = !existsSync(CHROMIUM);

/** Tiny conditional SongUNet checkpoints in the gallery's file names, random weights, said so in the metadata. */
async function writeTinyCheckpoints(dir: string): Promise<void> {
  await initDevice('wasm');
  const cfg = songUNet.songUNetConfig('tiny', { imgResolution: 28, channels: 1, labelDim: 10 });
  const description = 'tiny randomly-initialised SongUNet written by web/test/browser.test.ts — not a trained model';
  const base = { net: 'song-unet', netConfig: cfg, precond: 'edm', sigmaData: 0.5, dataset: 'fashion-mnist', description };
  const teacher = songUNet.initSongUNet(random.key(1), cfg);
  await params.saveParams(join(dir, 'fmnist-cond.safetensors'), teacher, { format: 'diff-instruct/teacher@1', kind: 'teacher', ...base });
  await params.saveParams(join(dir, 'fmnist-cond-onestep.safetensors'), teacher, { format: 'diff-instruct/generator@1', kind: 'generator', generator: 'edm-one-step', sigmaInit: 2.5, ...base });
  for (const p of Object.values(teacher)) p.dispose();
}

async function launch(flags: string[]): Promise<{ browser: Browser; page: Page; logs: string[] }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...BASE_FLAGS, ...flags] });
  const page = await browser.newPage({ viewport: { width: 1200, height: 1300 } });
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  return { browser, page, logs };
}

/** Loads the page and waits until the device is up and the playground is built; returns timings (ms). */
async function open(page: Page, query: string, absolute = false): Promise<{ readyMs: number; loadEventMs: number; deviceMs: number }> {
  const t0 = Date.now();
  await page.goto(absolute ? query : url + query);
  await page.waitForFunction(() => (window as any).__diPlayground?.ready || (window as any).__diPlayground?.error, null, { timeout: 120_000 });
  const readyMs = Date.now() - t0;
  const { loadEventMs, deviceMs, error } = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const s = (window as any).__diPlayground;
    return { loadEventMs: nav.loadEventEnd - nav.startTime, deviceMs: s.deviceMs, error: s.error };
  });
  assert.equal(error, '', `page error: ${error}`);
  return { readyMs, loadEventMs, deviceMs };
}

/** A static file server that sends no cross-origin isolation headers (as most static hosts): `dist` at /, `models` at /models/. */
async function plainServer(dist: string, models: string): Promise<{ url: string; close: () => Promise<void> }> {
  const { createServer } = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.startsWith('/models/') ? join(models, path.slice(8)) : join(dist, path === '/' ? 'index.html' : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': types[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Generator steps per second over a run's history, from its first generator step to its last frame. */
function stepsPerSec(history: { genStep: number; t: number }[]): number {
  const a = history.find((p) => p.genStep >= 1), z = history.at(-1);
  return a && z && z.t > a.t ? ((z.genStep - a.genStep) * 1000) / (z.t - a.t) : NaN;
}

/** Luminance spread of a canvas (0–255): ~0 for a blank or flat image. */
function canvasStats(page: Page, selector: string): Promise<{ w: number; h: number; std: number; mean: number }> {
  return page.$eval(selector, (c) => {
    const canvas = c as HTMLCanvasElement;
    const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let s = 0, s2 = 0, n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      s += y;
      s2 += y * y;
      n++;
    }
    const mean = s / n;
    return { w: canvas.width, h: canvas.height, mean, std: Math.sqrt(Math.max(0, s2 / n - mean * mean)) };
  });
}

// 15 min: the file took 11 min on the 2-core machine while two other full test suites shared it (2026-12-07)
describe('browser playground', { skip: missingBrowser ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : false, timeout: 900_000 }, () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    tmp = mkdtempSync(join(tmpdir(), 'di-web-'));
    const models = join(tmp, 'models');
    const empty = join(tmp, 'no-models');
    mkdirSync(models);
    mkdirSync(empty);
    // The shipped generator and teacher when the repository has them; tiny random ones otherwise.
    if (SHIPPED.every((f) => existsSync(join(REPO_MODELS, f)))) for (const f of SHIPPED) copyFileSync(join(REPO_MODELS, f), join(models, f));
    else await writeTinyCheckpoints(models);
    if (distillable()) for (const f of METRIC_FILES) copyFileSync(join(REPO_MODELS, f), join(models, f));
    process.env.DI_MODELS_DIR = empty; // the build must not copy test files
    const t0 = Date.now();
    await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn', build: { outDir: join(tmp, 'dist'), emptyOutDir: true } });
    summary.buildMs = Date.now() - t0;
    server = await preview({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn', build: { outDir: join(tmp, 'dist') }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
    url = server.resolvedUrls!.local[0];
  });

  after(async () => {
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    writeFileSync(join(ARTIFACTS, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    console.log(`browser test summary: ${JSON.stringify(summary)}`);
  });

  test('WebGPU: live 2-D distillation lowers the loss and the MMD; the gallery renders both samplers', async (t) => {
    process.env.DI_MODELS_DIR = join(tmp, 'models');
    const { browser, page, logs } = await launch(WEBGPU_FLAGS);
    try {
      // By default a software adapter is passed over for the faster WebAssembly, and the page says why
      await open(page, '?fakeWarmup=1');
      assert.equal(await page.getAttribute('#device', 'data-backend'), 'wasm');
      assert.match((await page.textContent('#notice')) ?? '', /software rasteriser.*WebAssembly.*\?device=webgpu/);
      // …and a bad URL setting is named, not dropped silently
      await open(page, '?lrGen=abc&fakeWarmup=1&device=wasm');
      assert.match((await page.textContent('#url-error')) ?? '', /lrGen=abc is not valid/);
      const times = await open(page, `?device=webgpu&steps=${STEPS}&fakeWarmup=${WARMUP}&galleryBatch=${GALLERY_BATCH}&teacherSteps=${TEACHER_STEPS}`);
      summary.webgpuLoad = times;
      t.diagnostic(`static build load: ${JSON.stringify(times)}`);
      assert.equal(await page.getAttribute('#device', 'data-backend'), 'webgpu');
      assert.match((await page.textContent('#device')) ?? '', /Backend: WebGPU/);
      assert.equal(await page.isVisible('#notice'), false);

      const t0 = Date.now();
      await page.click('#start');
      await page.waitForFunction(() => {
        const s = (window as any).__diPlayground;
        return s.error || (!s.running && s.history.length > 0);
      }, null, { timeout: 400_000, polling: 500 });
      const run = await page.evaluate(() => {
        const s = (window as any).__diPlayground;
        return { history: s.history, mmd: s.mmd, sps: s.stepsPerSec, error: s.error };
      });
      const trainMs = Date.now() - t0;
      assert.equal(run.error, '');
      const last = run.history.at(-1);
      assert.equal(last.genStep, STEPS, 'the run pauses after ?steps generator steps');
      // The fake score learns the (initial) generator during the warm-up: its denoising loss falls.
      const warm = run.history.filter((p: any) => p.genStep === 0).map((p: any) => p.fakeLoss);
      const head = warm.slice(0, 3).reduce((a: number, b: number) => a + b, 0) / 3;
      const tail = warm.slice(-3).reduce((a: number, b: number) => a + b, 0) / 3;
      assert.ok(tail < 0.7 * head, `fake-score loss should fall during the warm-up: ${head.toFixed(3)} → ${tail.toFixed(3)}`);
      // The generator moves onto the teacher: MMD² to the teacher falls.
      const m0 = run.mmd[0].mmd, m1 = run.mmd.at(-1).mmd;
      assert.ok(m1 < 0.5 * m0, `MMD² should fall over ${STEPS} generator steps: ${m0.toFixed(4)} → ${m1.toFixed(4)}`);
      assert.ok(run.history.every((p: any) => Number.isFinite(p.fakeLoss)));
      summary.webgpuRun = { genSteps: STEPS, warmupFakeSteps: WARMUP, trainMs, stepsPerSec: stepsPerSec(run.history), fakeLoss: [head, tail], mmd: [m0, m1] };
      t.diagnostic(`2-D run: ${JSON.stringify(summary.webgpuRun)}`);
      await page.screenshot({ path: join(ARTIFACTS, 'webgpu-playground.png'), fullPage: true });

      // Gallery: the shipped checkpoints (or tiny random ones) through the real fetch → parse → SongUNet path.
      await page.waitForFunction(() => ['ready', 'missing', 'error'].includes((window as any).__diPlayground.gallery.status), null, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => (window as any).__diPlayground.gallery.status), 'ready');
      if (!shipped()) assert.match((await page.textContent('#gallery-status')) ?? '', /randomly-initialised/);
      await page.selectOption('#gallery-class', '3');
      await page.click('#gallery-sample');
      // the teacher says which step it is on, with a Cancel button, while it samples
      await page.waitForFunction(() => /sampling: step \d+ of \d+/.test(document.getElementById('gallery-teacher-time')?.textContent ?? ''), null, { timeout: 300_000, polling: 100 });
      assert.equal(await page.isVisible('#gallery-cancel'), true);
      await page.waitForFunction(() => ['done', 'error'].includes((window as any).__diPlayground.gallery.status), null, { timeout: 300_000, polling: 500 });
      const g = await page.evaluate(() => (window as any).__diPlayground.gallery);
      assert.equal(g.status, 'done');
      assert.equal(g.label, 3);
      assert.equal(g.teacherStepsDone, TEACHER_STEPS);
      assert.equal(await page.isVisible('#gallery-cancel'), false);
      for (const id of ['#gallery-generator', '#gallery-teacher']) {
        const st = await canvasStats(page, id);
        assert.ok(st.w > 80 && st.h > 80, `${id} was drawn (${st.w}×${st.h})`);
        assert.ok(st.std > 4, `${id} is not blank (luminance std ${st.std.toFixed(2)})`);
      }
      summary.gallery = { batch: g.batch, generatorMs: g.generatorMs, teacherMs: g.teacherMs, note: `${shipped() ? 'shipped models (fmnist-small SongUNet)' : 'tiny random SongUNet (modelChannels 8)'}; SwiftShader; teacher ${TEACHER_STEPS} Heun steps (${2 * TEACHER_STEPS - 1} evaluations); first batch, so compile time included` };
      t.diagnostic(`gallery: ${JSON.stringify(summary.gallery)}`);
      await page.locator('#gallery').screenshot({ path: join(ARTIFACTS, 'webgpu-gallery.png') });
      // new seeds without the teacher: its panel no longer shows the old seeds' images
      await page.uncheck('#gallery-with-teacher');
      await page.fill('#gallery-seed', String(GALLERY_BATCH));
      await page.click('#gallery-sample');
      await page.waitForFunction(() => (window as any).__diPlayground.gallery.status === 'done', null, { timeout: 120_000, polling: 250 });
      assert.match((await page.textContent('#gallery-teacher-time')) ?? '', /not run for seeds 4–7/);
      assert.ok((await canvasStats(page, '#gallery-teacher')).std < 1, 'the teacher panel is blank');
      // Cancel stops the teacher's sampling before its next step and says so
      await page.check('#gallery-with-teacher');
      await page.fill('#gallery-seed', String(2 * GALLERY_BATCH));
      await page.click('#gallery-sample');
      await page.waitForSelector('#gallery-cancel:not([hidden])', { timeout: 120_000 });
      await page.click('#gallery-cancel');
      await page.waitForFunction(() => ['cancelled', 'done', 'error'].includes((window as any).__diPlayground.gallery.status), null, { timeout: 120_000, polling: 100 });
      assert.equal(await page.evaluate(() => (window as any).__diPlayground.gallery.status), 'cancelled');
      assert.equal((await page.textContent('#gallery-teacher-time'))?.trim(), 'cancelled');
      assert.ok((await page.evaluate(() => (window as any).__diPlayground.gallery.teacherStepsDone)) < TEACHER_STEPS, 'stopped before the last step');
      assert.equal(await page.isVisible('#gallery-cancel'), false);
      await page.screenshot({ path: join(ARTIFACTS, 'webgpu-page.png'), fullPage: true });
      assert.ok(!logs.some((l) => l.startsWith('pageerror')), logs.join('\n'));
    } finally {
      writeFileSync(join(ARTIFACTS, 'webgpu-console.txt'), logs.join('\n') + '\n');
      await browser.close();
    }
  });

  test('without WebGPU the page says so, trains on Wasm, and reports missing model files', async (t) => {
    process.env.DI_MODELS_DIR = join(tmp, 'no-models');
    const { browser, page, logs } = await launch(['--disable-features=WebGPU']);
    try {
      const times = await open(page, `?steps=5&fakeWarmup=10`);
      summary.wasmLoad = times;
      t.diagnostic(`static build load (Wasm): ${JSON.stringify(times)}`);
      assert.equal(await page.getAttribute('#device', 'data-backend'), 'wasm');
      assert.equal(await page.isVisible('#notice'), true);
      assert.match((await page.textContent('#notice')) ?? '', /WebGPU is not available.*WebAssembly/);
      await page.click('#start');
      await page.waitForFunction(() => {
        const s = (window as any).__diPlayground;
        return s.error || (!s.running && s.history.length > 0);
      }, null, { timeout: 120_000, polling: 250 });
      const s = await page.evaluate(() => (window as any).__diPlayground);
      assert.equal(s.error, '');
      assert.equal(s.history.at(-1).genStep, 5);
      // The controls: a bad value is refused with a message; a loss and σ change apply to the paused
      // run, Resume runs past ?steps, and a new teacher restarts the run while it trains.
      await page.fill('#lrGen', '-1');
      await page.dispatchEvent('#lrGen', 'change');
      await page.waitForSelector('#settings-error:not([hidden])');
      assert.match((await page.textContent('#settings-error')) ?? '', /lrGen/);
      await page.fill('#lrGen', '0.002');
      await page.dispatchEvent('#lrGen', 'change');
      await page.selectOption('#loss', 'sid');
      // switching the loss mid-run says that the generator carries on, and that Reset starts afresh
      // SiD's defaults include a wider latent, so the run restarts, and says so
      assert.match((await page.textContent('#reset-hint')) ?? '', /Loss switched to SiD with its defaults \(.*latentStd 8.*\): they need new models, so the run starts again/);
      assert.match((await page.textContent('#loss-hint')) ?? '', /score identity/);
      await page.selectOption('#sigmaDist', 'karras');
      assert.equal(await page.isVisible('#sigmaMax'), true);
      await page.click('#start');
      await page.waitForFunction(() => ((window as any).__diPlayground.history.at(-1)?.genStep ?? 0) >= 8, null, { timeout: 120_000, polling: 250 });
      const runs = await page.evaluate(() => (window as any).__diPlayground.runs);
      await page.selectOption('#toy', 'grid25');
      await page.waitForFunction((r) => {
        const s = (window as any).__diPlayground;
        return s.runs > r && s.teacher === 'toy:grid25' && s.running && s.history.length > 0 && s.history.at(-1).genStep >= 2;
      }, runs, { timeout: 120_000, polling: 250 });
      await page.click('#start'); // pause
      await page.waitForFunction(() => /Paused at/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => (window as any).__diPlayground.error), '');
      // The sequence that used to leave the page stuck ("settings teacher need a reset" until reload): a
      // learning rate typed while training is queued, Pause, another teacher, Start.
      await page.click('#start');
      await page.waitForFunction(() => (window as any).__diPlayground.running, null, { timeout: 60_000, polling: 100 });
      await page.fill('#lrGen', '0.003');
      await page.dispatchEvent('#lrGen', 'change');
      await page.click('#start'); // pause
      await page.waitForFunction(() => /Paused at/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 60_000 });
      const before = await page.evaluate(() => (window as any).__diPlayground.runs);
      await page.selectOption('#toy', 'ring8');
      await page.waitForFunction((r) => (window as any).__diPlayground.runs > r && (window as any).__diPlayground.teacher === 'toy:ring8', before, { timeout: 60_000, polling: 100 });
      await page.click('#start');
      await page.waitForFunction(() => {
        const s = (window as any).__diPlayground;
        return s.error || (s.history.length > 0 && s.history.at(-1).genStep >= 2);
      }, null, { timeout: 120_000, polling: 250 });
      assert.equal(await page.evaluate(() => (window as any).__diPlayground.error), '', 'trains after lr + pause + new teacher + start');
      await page.click('#start'); // pause
      await page.waitForFunction(() => /Paused at/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 60_000 });
      summary.wasmRun = { teacher: 'grid25', loss: 'sid', sigmaDist: 'karras', stepsPerSec: stepsPerSec(await page.evaluate(() => (window as any).__diPlayground.history)) };
      await page.waitForSelector('#gallery-missing', { timeout: 60_000 });
      assert.match((await page.textContent('#gallery-missing')) ?? '', /model file not found: \S*models\/fmnist-cond-onestep\.safetensors/);
      await page.screenshot({ path: join(ARTIFACTS, 'wasm-page.png'), fullPage: true });
      assert.ok(!logs.some((l) => l.startsWith('pageerror')), logs.join('\n'));
    } finally {
      writeFileSync(join(ARTIFACTS, 'wasm-console.txt'), logs.join('\n') + '\n');
      await browser.close();
    }
  });

  test('bad URL settings are named and replaced by defaults; every section still mounts and trains', async () => {
    process.env.DI_MODELS_DIR = join(tmp, 'no-models');
    const { browser, page, logs } = await launch(['--disable-features=WebGPU']);
    try {
      const cases: [string, RegExp[]][] = [
        ['?toy=nonexistent&device=foo&steps=abc&distillLoss=bogus&teacherSteps=0&frobnicate=1&fakeWarmup=2', [/toy=nonexistent is not valid/, /device=foo is not valid/, /steps=abc is not valid/, /distillLoss=bogus is not valid/, /teacherSteps=0 is not valid/, /frobnicate=1 is not known/]],
        ['?toy=moons&fakeWarmup=2', [/toy=moons is not valid.*use one of ring8/]],
        // WebGPU asked for in a browser without it: named, and the page runs on WebAssembly
        ['?device=webgpu&fakeWarmup=2', []],
      ];
      for (const [query, want] of cases) {
        await open(page, query);
        const problems = (await page.textContent('#url-error')) ?? '';
        for (const re of want) assert.match(problems, re, query);
        assert.equal(await page.isVisible('#url-error'), want.length > 0, query);
        if (query.includes('device=webgpu')) assert.match((await page.textContent('#notice')) ?? '', /asked for WebGPU.*not available.*WebAssembly/);
        assert.equal(await page.getAttribute('#device', 'data-backend'), 'wasm');
        assert.equal(await page.inputValue('#toy'), 'ring8', `${query}: the default teacher`);
        assert.match((await page.textContent('#status')) ?? '', /^Ready/);
        // the other sections mounted too
        await page.waitForSelector('#distill-start', { timeout: 30_000 });
        await page.waitForSelector('#gallery-missing', { timeout: 30_000 });
        assert.deepEqual(await page.evaluate(() => (window as any).__diPlayground.sectionErrors), []);
        // …and the 2-D run starts, and Reset works
        await page.click('#start');
        await page.waitForFunction(() => (window as any).__diPlayground.history.some((p: any) => p.genStep >= 1), null, { timeout: 60_000, polling: 100 });
        await page.click('#reset');
        await page.waitForFunction(() => (window as any).__diPlayground.running && (window as any).__diPlayground.runs === 2, null, { timeout: 60_000, polling: 100 });
        await page.click('#start');
        await page.waitForFunction(() => /Paused at/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 60_000 });
        assert.equal(await page.evaluate(() => (window as any).__diPlayground.error), '');
      }
      await page.screenshot({ path: join(ARTIFACTS, 'bad-url.png'), fullPage: true });
      assert.ok(!logs.some((l) => l.startsWith('pageerror')), logs.join('\n'));
    } finally {
      await browser.close();
    }
  });

  test('2-D training runs in a worker: the main thread stays free, and seed-then-Pause and ArrowDown ×4 always settle', async (t) => {
    process.env.DI_MODELS_DIR = join(tmp, 'no-models');
    const { browser, page, logs } = await launch(['--disable-features=WebGPU']);
    try {
      await page.addInitScript(observeLongTasks);
      await open(page, '?fakeWarmup=20');
      const state = () => page.evaluate(() => {
        const s = (window as any).__diPlayground;
        return { want: s.want, running: s.running, pending: s.pending, runs: s.runs, teacher: s.teacher, error: s.error, n: s.history.length, genStep: s.history.at(-1)?.genStep ?? 0, status: document.getElementById('status')!.textContent };
      });
      /** Every queued action done and the loop doing what was last asked. */
      const settled = () => page.waitForFunction(() => {
        const s = (window as any).__diPlayground;
        return s.pending === 0 && s.running === s.want;
      }, null, { timeout: 60_000, polling: 50 });
      const trained = () => page.waitForFunction(() => (window as any).__diPlayground.history.some((p: any) => p.genStep >= 2), null, { timeout: 60_000, polling: 50 });

      // Steady state: LONGTASK_S seconds of training, every main-thread task over 50 ms recorded.
      await page.click('#start');
      await trained();
      const from = await page.evaluate(() => [performance.now(), (window as any).__diPlayground.history.at(-1).genStep]);
      await page.waitForTimeout(LONGTASK_S * 1000);
      const lt = await page.evaluate(([t0, g0]) => {
        const s = (window as any).__diPlayground;
        const tasks = (window as any).__longTasks.filter((e: any) => e.start >= t0);
        return { tasks: tasks.length, maxMs: Math.max(0, ...tasks.map((e: any) => e.ms)), busyMs: tasks.reduce((a: number, e: any) => a + e.ms, 0), genSteps: s.history.at(-1).genStep - g0, seconds: (performance.now() - t0) / 1000 };
      }, from);
      summary.trainLongTasks = { ...lt, note: 'Wasm (2 threads), ring8 defaults, 2-D loop in a worker; long tasks = main-thread tasks over 50 ms (PerformanceObserver longtask)' };
      t.diagnostic(`main thread during ${LONGTASK_S} s of 2-D training: ${JSON.stringify(lt)}`);
      assert.ok(lt.genSteps > 0, 'it trained meanwhile');
      assert.ok(lt.maxMs <= LONGTASK_LIMIT_MS, `longest main-thread task ${lt.maxMs} ms during 2-D training`);
      assert.ok(lt.busyMs <= LONGTASK_BUSY_MAX * lt.seconds * 1000, `long tasks filled ${lt.busyMs} ms of ${lt.seconds} s of 2-D training`);

      // A seed typed while running, then Pause (the click blurs the input, so its change comes first): the
      // run is rebuilt once for the new seed and stays paused; Resume and Pause then do just that.
      for (let i = 0; i < RACE_REPEATS; i++) {
        if (!(await state()).want) await page.click('#start');
        await trained();
        const before = await state();
        await page.fill('#seed', String(11 + i));
        await page.click('#start');
        await settled();
        const after = await state();
        assert.equal(after.want, false, `round ${i}: Pause was taken: ${JSON.stringify(after)}`);
        assert.equal(after.runs, before.runs + 1, `round ${i}: rebuilt once for the new seed`);
        assert.equal(after.genStep, 0, `round ${i}: the new run has not trained`);
        await page.waitForTimeout(300);
        assert.equal((await state()).n, after.n, `round ${i}: nothing trains while paused`);
        await page.click('#start');
        await trained();
        await page.click('#start');
        await settled();
        const paused = await state();
        assert.equal(paused.running, false);
        assert.equal(paused.runs, after.runs, `round ${i}: Pause does not restart the run`);
        assert.ok(paused.genStep >= 2);
        assert.match(paused.status ?? '', /^Paused at \d+ generator steps/);
      }
      // ArrowDown ×4 on the Teacher box while running (each press a change, each a rebuild): the last
      // teacher is built once the queue drains, and it trains.
      const toys = await page.$$eval('#toy option', (os) => os.map((o) => (o as HTMLOptionElement).value));
      await page.click('#start');
      await trained();
      for (let i = 0; i < RACE_REPEATS; i++) {
        const key = i % 2 === 0 ? 'ArrowDown' : 'ArrowUp';
        const from = toys.indexOf(await page.inputValue('#toy'));
        await page.focus('#toy');
        for (let k = 0; k < 4; k++) await page.keyboard.press(key);
        const want = toys[Math.max(0, Math.min(toys.length - 1, from + (key === 'ArrowDown' ? 4 : -4)))];
        assert.equal(await page.inputValue('#toy'), want);
        await settled();
        const s = await state();
        assert.equal(s.error, '', `round ${i}`);
        assert.equal(s.teacher, `toy:${want}`, `round ${i}: ${JSON.stringify(s)}`);
        assert.equal(s.want, true, `round ${i}: still running`);
        await trained();
      }
      await page.click('#start');
      await settled();
      assert.ok(!logs.some((l) => l.startsWith('pageerror')), logs.join('\n'));
    } finally {
      await browser.close();
    }
  });

  test('served without cross-origin isolation: the page says so, counts 1 thread, and stays responsive with both sections training', { skip: distillable() ? false : 'needs the shipped fmnist-cond teacher, classifier and reference statistics' }, async (t) => {
    // a plain static server: no COOP/COEP headers, as most static hosts
    const plain = await plainServer(join(tmp, 'dist'), join(tmp, 'models'));
    const { browser, page, logs } = await launch([]);
    try {
      await page.addInitScript(observeLongTasks);
      await open(page, plain.url + '?device=wasm&fakeWarmup=20&distillEvalN=20', true);
      assert.equal(await page.evaluate(() => crossOriginIsolated), false);
      assert.match((await page.textContent('#notice')) ?? '', /not cross-origin isolated.*1 thread.*README says which headers/);
      assert.match((await page.textContent('#device')) ?? '', /WebAssembly \(CPU, 1 thread\)/);
      // both sections at once: the 2-D run says why it slowed down; the main thread stays free
      await page.click('#start');
      await page.waitForFunction(() => (window as any).__diPlayground.history.some((p: any) => p.genStep >= 1), null, { timeout: 60_000, polling: 100 });
      const from = await page.evaluate(() => performance.now());
      await page.click('#distill-start');
      await page.waitForFunction(() => (window as any).__diPlayground.sharing || (window as any).__diPlayground.distill.status === 'error', null, { timeout: 30_000, polling: 100 });
      assert.match((await page.textContent('#status')) ?? '', /slower while the image distillation below runs too: both share the CPU/, `distillation: ${await page.textContent('#distill-status')} ${await page.textContent('#distill-error')}`);
      await page.waitForTimeout(NO_ISOLATION_S * 1000);
      // Pause is taken at once in both sections (the distillation's after its step in progress)
      const t0 = Date.now();
      await page.click('#distill-start');
      assert.match((await page.textContent('#distill-status')) ?? '', /Pausing after this step/);
      await page.click('#start');
      await page.waitForFunction(() => { const s = (window as any).__diPlayground; return s.pending === 0 && !s.running; }, null, { timeout: 10_000, polling: 50 });
      const pauseMs = Date.now() - t0;
      const lt = await page.evaluate((t0) => {
        const tasks = (window as any).__longTasks.filter((e: any) => e.start >= t0);
        return { tasks: tasks.length, maxMs: Math.max(0, ...tasks.map((e: any) => e.ms)), busyMs: tasks.reduce((a: number, e: any) => a + e.ms, 0), seconds: (performance.now() - t0) / 1000 };
      }, from);
      summary.noIsolation = { ...lt, pauseMs, distill: await page.evaluate(() => (window as any).__diPlayground.distill.status), note: 'plain static server (no COOP/COEP), Wasm on 1 thread, 2-D run and in-tab distillation (fetch + compile) at once; long tasks = main-thread tasks over 50 ms' };
      t.diagnostic(`no cross-origin isolation: ${JSON.stringify(summary.noIsolation)}`);
      assert.ok(lt.maxMs <= LONGTASK_LIMIT_MS, `longest main-thread task ${lt.maxMs} ms without isolation`);
      assert.ok(lt.busyMs <= LONGTASK_BUSY_MAX * lt.seconds * 1000, `long tasks filled ${lt.busyMs} ms of ${lt.seconds} s without isolation`);
      assert.ok(pauseMs < 3000, `the 2-D Pause took ${pauseMs} ms`);
      assert.ok(!logs.some((l) => l.startsWith('pageerror')), logs.join('\n'));
    } finally {
      await browser.close();
      await plain.close();
    }
  });

  test('each loss trains ring8 with its defaults: SiD and DMD cover its modes without diverging; SDS says it collapses', async (t) => {
    process.env.DI_MODELS_DIR = join(tmp, 'no-models');
    const { browser, page, logs } = await launch(['--disable-features=WebGPU']);
    try {
      const results: Record<string, unknown> = {};
      for (const [loss, steps] of [['sid', LOSS_STEPS], ['dmd', LOSS_STEPS], ['sds', 300]] as const) {
        await open(page, `?loss=${loss}&steps=${steps}`);
        assert.equal(await page.isVisible('#sds-note'), loss === 'sds');
        const t0 = Date.now();
        await page.click('#start');
        await page.waitForFunction(() => { const s = (window as any).__diPlayground; return s.error || s.diverged || (s.pending === 0 && !s.want && s.history.length > 0); }, null, { timeout: 300_000, polling: 250 });
        const s = await page.evaluate(() => { const s = (window as any).__diPlayground; return { error: s.error, diverged: s.diverged, modes: s.modes, mmd: s.mmd.at(-1).mmd, genStep: s.history.at(-1).genStep, sps: s.stepsPerSec }; });
        results[loss] = { ...s, seconds: (Date.now() - t0) / 1000 };
        t.diagnostic(`${loss}: ${JSON.stringify(results[loss])}`);
        assert.equal(s.error, '');
        assert.equal(s.diverged, null, `${loss} diverged with its defaults`);
        assert.equal(s.genStep, steps);
        // measured with seed 0: SiD 6/8; DMD 5/8, and 4/8 once the flat optimizer changed the norm's
        // summation order (2026-12-07): at least half the modes, where the old defaults diverged
        if (loss !== 'sds') assert.ok(s.modes.covered >= (loss === 'sid' ? 5 : 4), `${loss} covers ${s.modes.covered} of 8 modes after ${steps} steps`);
      }
      // a run that blows up is stopped and named, not left "Training…"
      await open(page, '?lrGen=5&fakeWarmup=5&steps=400');
      await page.click('#start');
      await page.waitForFunction(() => { const s = (window as any).__diPlayground; return s.error || s.diverged || (s.pending === 0 && !s.want && s.history.length > 0); }, null, { timeout: 120_000, polling: 250 });
      const div = await page.evaluate(() => (window as any).__diPlayground.diverged);
      assert.ok(div, 'generator lr 5 diverges within 400 steps');
      assert.match((await page.textContent('#status')) ?? '', /^Diverged at step \d+: .*Lower the learning rates and press Reset/);
      assert.equal(await page.textContent('#start'), 'Resume');
      results.divergedAt = div;
      summary.lossDefaults = { ...results, note: `ring8, each loss's page defaults (web/src/toy-config.ts), Wasm 2 threads, seed 0; modes = modes covered of 8 (src/metrics/toy2d.ts) on the 600 plotted points` };
      assert.ok(!logs.some((l) => l.startsWith('pageerror')), logs.join('\n'));
    } finally {
      await browser.close();
    }
  });

  test('layout: scatter and charts in view at 1280×800; nothing wider than a 390 px phone', async () => {
    process.env.DI_MODELS_DIR = join(tmp, 'models');
    const { browser, page, logs } = await launch([]);
    try {
      await page.setViewportSize({ width: 1280, height: 800 });
      await open(page, '?device=wasm');
      for (const id of ['#scatter', '#loss-chart', '#gen-chart', '#mmd-chart', '#start', '#stat-modes']) {
        const b = (await page.locator(id).boundingBox())!;
        assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.width <= 1280 && b.y + b.height <= 800, `${id} at 1280×800 is in view without scrolling: ${JSON.stringify(b)}`);
      }
      await page.screenshot({ path: join(ARTIFACTS, 'layout-1280x800.png') });
      await page.setViewportSize({ width: 390, height: 844 });
      const [scrollW, innerW] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(scrollW <= innerW, `no sideways scrolling on a 390 px screen: page is ${scrollW} px wide`);
      for (const id of ['#scatter', '#distill-grid', '#distill-start', '#gallery-sample']) {
        const b = await page.locator(id).boundingBox();
        if (b) assert.ok(b.x >= 0 && b.x + b.width <= 390 + 0.5, `${id} fits in 390 px: ${JSON.stringify(b)}`);
      }
      // on a phone, Start and the whole scatter fit on one screen
      await page.locator('#start').scrollIntoViewIfNeeded();
      await page.evaluate(() => document.getElementById('start')!.scrollIntoView({ block: 'start' }));
      const sb = (await page.locator('#start').boundingBox())!, pb = (await page.locator('#scatter').boundingBox())!;
      assert.ok(sb.y >= -1 && pb.y >= 0 && pb.y + pb.height <= 844, `Start (${JSON.stringify(sb)}) and the scatter (${JSON.stringify(pb)}) on one 390×844 screen`);
      await page.screenshot({ path: join(ARTIFACTS, 'layout-390.png'), fullPage: true });
      // accessibility: axe-core (WCAG 2 A/AA rules) finds nothing serious or critical, before and after a run
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.addScriptTag({ path: AXE });
      const audit = async () => {
        const r = await page.evaluate(async () => {
          const res = await (window as any).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
          return res.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, target: v.nodes[0]?.target }));
        });
        return { bad: r.filter((v: any) => v.impact === 'serious' || v.impact === 'critical'), all: r };
      };
      const a0 = await audit();
      await page.click('#start');
      await page.waitForFunction(() => (window as any).__diPlayground.history.some((p: any) => p.genStep >= 1), null, { timeout: 60_000, polling: 100 });
      await page.click('#start');
      await page.waitForFunction(() => { const s = (window as any).__diPlayground; return s.pending === 0 && !s.running; }, null, { timeout: 60_000, polling: 100 });
      const a1 = await audit();
      summary.axe = { idle: a0.all, afterRun: a1.all };
      assert.deepEqual(a0.bad, [], `axe-core, idle page: ${JSON.stringify(a0.bad)}`);
      assert.deepEqual(a1.bad, [], `axe-core, after a run: ${JSON.stringify(a1.bad)}`);
      // every canvas has a text alternative, and button names are distinct
      const unlabelled = await page.$$eval('canvas', (cs) => cs.filter((c) => !c.getAttribute('aria-label')).map((c) => c.id));
      assert.deepEqual(unlabelled, []);
      const names = await page.$$eval('button:not([hidden])', (bs) => bs.map((b) => b.textContent?.trim()));
      assert.equal(new Set(names).size, names.length, `button names: ${names.join(', ')}`);
      assert.ok(!logs.some((l) => l.startsWith('pageerror')), logs.join('\n'));
    } finally {
      await browser.close();
    }
  });

  test('Wasm: the page distills the shipped teacher, FD and class accuracy improve, and the CLI samples and scores the downloaded generator', { skip: distillable() ? false : 'needs the shipped fmnist-cond teacher, classifier and reference statistics' }, async (t) => {
    process.env.DI_MODELS_DIR = join(tmp, 'models');
    const { browser, page, logs } = await launch([]);
    try {
      await page.addInitScript(observeLongTasks);
      await open(page, `?device=wasm&distillSteps=${DISTILL_STEPS}&distillEvery=${DISTILL_STEPS}&distillEvalN=${DISTILL_EVAL_N}`);
      const t0 = Date.now();
      const from = await page.evaluate(() => performance.now());
      await page.click('#distill-start');
      await page.waitForFunction(() => ['done', 'error'].includes((window as any).__diPlayground.distill.status), null, { timeout: 480_000, polling: 500 });
      const d = await page.evaluate(() => (window as any).__diPlayground.distill);
      const trainMs = Date.now() - t0;
      // the main thread during the whole distillation (fetch, compile, steps, evaluations: all in a worker)
      const lt = await page.evaluate((t0) => {
        const tasks = (window as any).__longTasks.filter((e: any) => e.start >= t0);
        return { tasks: tasks.length, maxMs: Math.max(0, ...tasks.map((e: any) => e.ms)), busyMs: tasks.reduce((a: number, e: any) => a + e.ms, 0) };
      }, from);
      summary.distillLongTasks = { ...lt, seconds: trainMs / 1000, firstFd: d.quick, note: 'Wasm (2 threads), in-tab distillation in a worker: long tasks = main-thread tasks over 50 ms; firstFd.ms = Start to the first (rough) FD number' };
      t.diagnostic(`main thread during in-tab distillation: ${JSON.stringify(summary.distillLongTasks)}`);
      assert.equal(d.status, 'done', (await page.textContent('#distill-error')) ?? '');
      assert.ok(lt.maxMs <= LONGTASK_LIMIT_MS, `longest main-thread task ${lt.maxMs} ms during the in-tab distillation`);
      assert.ok(lt.busyMs <= LONGTASK_BUSY_MAX * trainMs, `long tasks filled ${lt.busyMs} ms of ${trainMs} ms of distillation`);
      assert.ok(d.quick && d.quick.n === 10 && Number.isFinite(d.quick.fd), `a first rough FD: ${JSON.stringify(d.quick)}`);
      assert.equal(d.genSteps, DISTILL_STEPS);
      assert.equal(d.metrics.length, 2, 'evaluated at step 0 and at the end');
      const [m0, m1] = d.metrics;
      assert.equal(m0.n, DISTILL_EVAL_N);
      assert.ok(m1.fd < 0.8 * m0.fd, `FD-FMNIST should fall: ${m0.fd.toFixed(2)} → ${m1.fd.toFixed(2)}`);
      assert.ok(m1.classAcc > m0.classAcc + 0.1, `class accuracy should rise: ${m0.classAcc} → ${m1.classAcc}`);
      for (const id of ['#distill-grid-initial', '#distill-grid']) assert.ok((await canvasStats(page, id)).std > 4, `${id} is drawn`);
      await page.locator('#distill').screenshot({ path: join(ARTIFACTS, 'wasm-distill.png') });
      // the download: a generator file the CLI reads, sampling and scoring it the same as the page did
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#distill-download')]);
      const file = join(tmp, download.suggestedFilename());
      await download.saveAs(file);
      const cli = (args: string[]) => execFileSync(process.execPath, [join(WEB, '..', 'bin', 'diff-instruct.mjs'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const outdir = join(tmp, 'cli-samples');
      cli(['sample', '--network', file, '--seeds', '0-1', '--outdir', outdir, '--device', 'wasm']);
      assert.deepEqual(readdirSync(outdir).filter((f) => /^\d+\.png$/.test(f)).sort(), ['000000.png', '000001.png']);
      const ev = JSON.parse(cli(['eval', '--network', file, '--seeds', `0-${DISTILL_EVAL_N - 1}`, '--batch', '4', '--device', 'wasm']).trim().split('\n').at(-1)!);
      assert.ok(Math.abs(ev.fd - m1.fd) < 1e-3 * m1.fd, `the CLI scores the downloaded file as the page did: FD ${ev.fd} vs ${m1.fd}`);
      assert.ok(Math.abs(ev.classAcc - m1.classAcc) < 1e-9, `class accuracy ${ev.classAcc} vs ${m1.classAcc}`);
      summary.wasmDistill = { steps: DISTILL_STEPS, batch: 4, evalN: DISTILL_EVAL_N, fd: [m0.fd, m1.fd], classAcc: [m0.classAcc, m1.classAcc], cliFd: ev.fd, imagesPerSec: d.imagesPerSec, trainMs, fileBytes: await page.evaluate(() => (window as any).__diPlayground.distill.fileBytes) };
      t.diagnostic(`in-tab distillation: ${JSON.stringify(summary.wasmDistill)}`);
      assert.ok(!logs.some((l) => l.startsWith('pageerror')), logs.join('\n'));
    } finally {
      writeFileSync(join(ARTIFACTS, 'wasm-distill-console.txt'), logs.join('\n') + '\n');
      await browser.close();
    }
  });

  test('the static build holds no Node built-ins and no Dawn bindings', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = join(tmp, 'dist', 'assets');
    const js = readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    for (const bad of ['__vite-browser-external', 'dawn.node']) assert.ok(!js.includes(bad), `bundle contains '${bad}'`);
    // No module-level Node imports (src/platform/node-worker.ts reaches Node only through a guarded
    // process.getBuiltinModule call, which never runs in a page).
    assert.doesNotMatch(js, /\bfrom\s*["'](node:)?(fs|path|url|module|worker_threads|zlib)["']|import\(\s*["']node:/);
  });
});
