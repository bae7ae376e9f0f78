/**
 * Refinement end to end on Wasm at tiny scale: a random tiny SongUNet teacher file and a random tiny
 * GAN generator file, both written here; `setupRefine` + `runDistill` move the GAN's params, write
 * before.png / after-<kimg>.png, and the refined snapshot is again a GAN generator `loadGenerator` reads.
 * A generator whose sample shape or classes do not fit the teacher is a one-line error naming both
 * shapes, from the library and from the real CLI. `refine --resume`: a refinement stopped halfway and
 * resumed ends on the uninterrupted run's weights; the CLI resolves `refine --resume` to the run's own config.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDevice, random, tree } from '@jax-js/jax';
import { initDevice } from '../platform/devices.js';
import { readPng } from '../io/png.js';
import { readSafetensors } from '../io/safetensors.js';
import { saveParams } from '../io/params.js';
import { initSongUNet, songUNetConfig } from '../nets/song-unet.js';
import { TEACHER_FORMAT } from '../teacher/load.js';
import { GAN_PRESETS } from '../gan/config.js';
import { initDcganGenerator, type DcganConfig } from '../gan/dcgan.js';
import { ganGeneratorMeta } from '../gan/generator.js';
import { loadGenerator } from '../gan/load.js';
import { RefineConfig, setupRefine } from './setup-refine.js';
import { disposeSetup, resumeDistillConfig, runDistill } from './trainer.js';

async function writeTeacher(dir: string, imgResolution = 28): Promise<string> {
  const netConfig = songUNetConfig('tiny', { imgResolution, channels: 1, labelDim: 10 });
  const params = initSongUNet(random.key(3), netConfig);
  const path = join(dir, 'teacher.safetensors');
  await saveParams(path, params, { format: TEACHER_FORMAT, kind: 'teacher', net: 'song-unet', netConfig, precond: 'edm', sigmaData: 0.5, dataset: 'fashion-mnist' });
  tree.dispose(params);
  return path;
}

async function writeGan(dir: string, name: string, o: Partial<DcganConfig> = {}): Promise<string> {
  const c: DcganConfig = { ...GAN_PRESETS.tiny, labelDim: 10, channels: 1, resolution: 28, norm: 'group', ...o };
  const params = initDcganGenerator(random.key(5), c);
  const path = join(dir, name);
  await saveParams(path, params, ganGeneratorMeta(c, { dataset: 'fashion-mnist', kimg: 0 }));
  tree.dispose(params);
  return path;
}

/** `setupRefine` + `runDistill` in this process, the setup freed after. */
async function refine(cfg: RefineConfig) {
  const setup = await setupRefine(cfg);
  try {
    return await runDistill(cfg, setup, { echo: false });
  } finally {
    disposeSetup(setup);
  }
}

test('refine: a GAN generator improves against a SongUNet teacher; before/after grids; snapshot reloads', { timeout: 300_000 }, async () => {
  await initDevice('wasm');
  defaultDevice('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'di-refine-'));
  try {
    const teacher = await writeTeacher(dir);
    const gan = await writeGan(dir, 'gan.safetensors');
    const cfg = RefineConfig.parse({ teacher, generator: gan, batch: 4, duration: 0.008, tick: 0.004, snap: 1000, evalN: 0, gridSeeds: '0-9', outdir: dir, desc: 'refine', lrGen: 1e-3, lrFake: 1e-4 });
    const r = await refine(cfg);
    assert.equal(r.genSteps, 2);
    const before = readPng(join(r.runDir, 'before.png'));
    assert.ok(existsSync(join(r.runDir, 'after-000000.004.png'))); // one grid per tick (0.004 kimg), named in thousandths below 1 kimg
    const after = readPng(join(r.runDir, 'after-000000.008.png'));
    assert.deepEqual([after.c, after.h, after.w], [before.c, before.h, before.w]);
    assert.deepEqual([before.h, before.w], [28 * 10, 28]); // 10 seeds, one row per class
    // The refined snapshot is still the GAN (same names and shapes, moved params) and says where it came from.
    const snap = r.snapshots.at(-1)!;
    const meta = JSON.parse(readSafetensors(snap).metadata.diff_instruct);
    assert.deepEqual([meta.format, meta.generator, meta.refinedFrom, meta.lossKind], ['diff-instruct/gan-generator@1', 'dcgan', gan, 'ikl']);
    const g0 = readSafetensors(gan).tensors, g1 = readSafetensors(snap).tensors;
    assert.deepEqual(Object.keys(g1).sort(), Object.keys(g0).sort());
    assert.ok(Object.keys(g0).some((k) => g0[k].data.some((v, i) => v !== g1[k].data[i])), 'the generator moved');
    const g = await loadGenerator(snap);
    assert.equal(g.model.kind, 'dcgan');
    tree.dispose(g.params);
    assert.match(readFileSync(join(r.runDir, 'log.txt'), 'utf8'), /into dcgan/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refine: a generator that does not fit the teacher is a one-line error naming both shapes (library and CLI)', { timeout: 120_000 }, async () => {
  await initDevice('wasm');
  defaultDevice('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'di-refine-bad-'));
  try {
    const teacher = await writeTeacher(dir);
    const rgb = await writeGan(dir, 'rgb.safetensors', { channels: 3 });
    const uncond = await writeGan(dir, 'uncond.safetensors', { labelDim: 0 });
    const oneLine = (re: RegExp) => (e: unknown) => re.test((e as Error).message) && !(e as Error).message.includes('\n');
    await assert.rejects(setupRefine(RefineConfig.parse({ teacher, generator: rgb })), oneLine(/generator '.*rgb\.safetensors' makes \[3, 28, 28\] samples with 10 classes, but teacher '.*teacher\.safetensors' models \[1, 28, 28\] with 10 classes/));
    await assert.rejects(setupRefine(RefineConfig.parse({ teacher, generator: uncond })), oneLine(/makes \[1, 28, 28\] samples with 0 classes, but teacher .* models \[1, 28, 28\] with 10 classes/));
    await assert.rejects(setupRefine(RefineConfig.parse({ teacher, generator: teacher })), oneLine(/holds a teacher checkpoint, expected a generator/));

    const bin = fileURLToPath(new URL('../../bin/diff-instruct.mjs', import.meta.url));
    const res = spawnSync(process.execPath, [bin, 'refine', '--teacher', teacher, '--generator', rgb, '--device', 'wasm', '--outdir', dir], { encoding: 'utf8', env: { ...process.env, DI_DEBUG: '' } });
    assert.equal(res.status, 1, res.stderr);
    const errLines = res.stderr.split('\n').filter((l) => l.startsWith('diff-instruct: error:'));
    assert.equal(errLines.length, 1, res.stderr);
    assert.match(errLines[0], /^diff-instruct: error: generator '.*' makes \[3, 28, 28\] samples with 10 classes, but teacher '.*' models \[1, 28, 28\] with 10 classes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refine --resume: a refinement stopped halfway and resumed ends on the uninterrupted run, bit for bit; refine --resume on the CLI takes the saved config', { timeout: 300_000 }, async () => {
  await initDevice('wasm');
  defaultDevice('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'di-refine-resume-'));
  try {
    // 8×8 images: the compile of the first step is most of each run
    const teacher = await writeTeacher(dir, 8);
    const gan = await writeGan(dir, 'gan.safetensors', { resolution: 8 });
    // 8 steps of batch 4, a tick (and an after-<kimg>.png) every 2
    const o = { teacher, generator: gan, batch: 4, duration: 0.032, tick: 0.008, snap: 1000, evalN: 0, gridSeeds: '0-1', lrGen: 1e-3, lrFake: 1e-4, outdir: dir };
    const full = await refine(RefineConfig.parse({ ...o, desc: 'full' }));
    assert.equal(full.genSteps, 8);
    // the same run stopped (as by Ctrl-C) while the grid of its second tick is drawn: after step 4
    const cfg = RefineConfig.parse({ ...o, desc: 'stopped' });
    const setup = await setupRefine(cfg);
    const ac = new AbortController();
    const drawGrid = setup.drawGrid!;
    setup.drawGrid = async (ema, run, kimg, on) => {
      if (kimg === 0.016) ac.abort();
      return drawGrid(ema, run, kimg, on);
    };
    let stopped;
    try {
      stopped = await runDistill(cfg, setup, { echo: false, signal: ac.signal });
    } finally {
      disposeSetup(setup);
    }
    assert.deepEqual([stopped.stopReason, stopped.genSteps], ['interrupted', 4]);
    // `refine --resume <run>` resolves to the run's own config, its generator included
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const dry = spawnSync(process.execPath, ['bin/diff-instruct.mjs', 'refine', '--resume', stopped.runDir, '--duration', '0.032', '--dry-run'], { cwd: root, encoding: 'utf8', env: { ...process.env, DI_DEBUG: '' } });
    assert.equal(dry.status, 0, dry.stderr);
    const shown = JSON.parse(dry.stdout);
    assert.deepEqual([shown.generator, shown.resume, shown.lrFake], [gan, stopped.runDir, 1e-4]);
    const resumed = await refine(resumeDistillConfig(stopped.runDir, { duration: 0.032 }, RefineConfig));
    assert.equal(resumed.genSteps, 8);
    assert.match(readFileSync(join(stopped.runDir, 'log.txt'), 'utf8'), /Resumed from .*training-state-000000\.016\.safetensors at step 4 /);
    // the same weights as the uninterrupted run, and no (kind, step) row twice
    const last = (r: string) => readSafetensors(join(r, readdirSync(r).filter((f) => f.startsWith('generator-snapshot-')).sort().at(-1)!)).tensors;
    const a = last(full.runDir), b = last(stopped.runDir);
    assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
    for (const k of Object.keys(a)) assert.deepEqual(b[k].data, a[k].data, `EMA generator tensor ${k}`);
    const keys = readFileSync(join(stopped.runDir, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((r) => `${r.kind}@${r.step}`);
    assert.deepEqual(keys, [...new Set(keys)], 'no row twice in stats.jsonl');
    assert.equal(keys.filter((k) => k.startsWith('tick@')).length, 4, keys.join(' '));
    // a refine run continues with refine: distill --resume (and the reverse) says which command to use
    assert.throws(() => resumeDistillConfig(stopped.runDir), /^Error: resume: '.*' is a refine run: continue it with refine --resume$/);
    assert.throws(() => resumeDistillConfig(stopped.runDir, { lrGen: 0.5 }, RefineConfig), /^Error: resume: 'lrGen' cannot change when resuming/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
