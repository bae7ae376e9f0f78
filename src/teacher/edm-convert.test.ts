/**
 * convert-edm: the EDM ⇄ ours rules on the reference files and the shipped teacher (no Python), and —
 * where a Python with PyTorch and an NVlabs/edm checkout are at hand ($DI_PYTHON or python3, $DI_EDM_DIR)
 * — the round trips through EDM's own code: a pickle made by EDM → ours → EDM has the same wrapper,
 * init_kwargs and state_dict (torch.equal) for each architecture; our shipped teacher → EDM pickle →
 * ours is bit-identical; and EDM's generate.py `edm_sampler` on the exported pickle matches our sampler.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numpy as np, random } from '@jax-js/jax';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { toFloat32 } from '../io/params-format.js';
import { karrasSigmas } from '../edm/schedule.js';
import { edmSample } from '../edm/sampler.js';
import { importEdmMeta, paramsFromEdmStateDict } from './edm-format.js';
import { exportEdmFile, exportEdmTensors, importEdmFile, importEdmTensors } from './edm-convert.js';
import { loadDenoiser, resolveNetworkPath } from './load.js';
import { sameNet, teacherNet, type NetSpec } from './net.js';

const REF = join(import.meta.dirname, '../../test-data/edm-reference');
const ref = (n: string) => join(REF, `${n}.safetensors`);

test('EDM reference files import with the architecture their metadata names', () => {
  const cases: [string, (m: Record<string, any>) => void][] = [
    ['ddpmpp-cond-edm', (m) => assert.deepEqual([m.net, m.precond, m.netConfig.augmentDim, m.netConfig.embeddingType, m.labelDim], ['song-unet', 'edm', 9, 'positional', 10])],
    ['ncsnpp-uncond-ve', (m) => assert.deepEqual([m.net, m.precond, m.netConfig.embeddingType, m.netConfig.encoderType, m.netConfig.resampleFilter, m.netConfig.channelMultNoise, m.sigmaMin, m.sigmaMax], ['song-unet', 've', 'fourier', 'residual', [1, 3, 3, 1], 2, 0.02, 100])],
    ['ddpmpp-uncond-vp-28', (m) => assert.deepEqual([m.net, m.precond, m.netConfig.imgResolution, m.sigmaMin, m.sigmaMax], ['song-unet', 'vp', 28, 0.0009765625, 152.16697692871094])],
    ['adm-cond-edm', (m) => assert.deepEqual([m.net, m.precond, m.netConfig.modelChannels, m.sigmaMax], ['dhariwal-unet', 'edm', 16, null])],
  ];
  for (const [name, check] of cases) check(importEdmTensors(ref(name)).meta);
});

test('EDM rules: unsupported wrappers, unknown arguments and wrong buffers are one-line errors', () => {
  assert.throws(() => importEdmMeta({ precond: 'iDDPMPrecond', init_kwargs: { img_resolution: 8, img_channels: 3 } }), /wrapper iDDPMPrecond is not supported/);
  assert.throws(() => importEdmMeta({ precond: 'EDMPrecond', init_kwargs: { img_resolution: 8, img_channels: 3, model_type: 'SongUNet', bogus: 1 } }), /SongUNet has no argument 'bogus'/);
  assert.throws(() => importEdmMeta({ precond: 'VPPrecond', init_kwargs: { img_resolution: 8, img_channels: 3, beta_d: 10 } }), /VPPrecond beta_d=10 is not supported/);
  // The persistence wrapper's kwargs alone (no model_kwargs) get the wrapped class's defaults:
  const d = importEdmMeta({ precond: 'VPPrecond', init_kwargs: { img_resolution: 32, img_channels: 3 } });
  assert.deepEqual(d.spec.netConfig, { ...d.spec.netConfig, modelChannels: 128, channelMult: [1, 2, 2, 2], numBlocks: 4, attnResolutions: [16] });
  const { tensors } = readSafetensors(ref('ncsnpp-uncond-ve'));
  const imp = importEdmMeta(JSON.parse(readSafetensors(ref('ncsnpp-uncond-ve')).metadata.edm));
  const state = Object.fromEntries(Object.entries(tensors).filter(([k]) => !k.startsWith('fixture.')));
  const bad = { ...state, 'model.enc.8x8_down.conv0.resample_filter': { ...state['model.enc.8x8_down.conv0.resample_filter'], data: new Float32Array(16).fill(1 / 16) } };
  assert.throws(() => paramsFromEdmStateDict(imp.spec, bad, 'x'), /buffer 'model.enc.8x8_down.conv0.resample_filter' does not match/);
  const { ['model.dec.16x16_aux_conv.bias']: _, ...missing } = state;
  assert.throws(() => importEdmFromTensors(missing), /missing tensor 'model.dec.16x16_aux_conv.bias'/);
});

function importEdmFromTensors(tensors: Record<string, any>) {
  const dir = mkdtempSync(join(tmpdir(), 'di-edm-test-'));
  try {
    const p = join(dir, 'x.safetensors');
    writeSafetensors(p, tensors, { edm: readSafetensors(ref('ncsnpp-uncond-ve')).metadata.edm });
    return importEdmTensors(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('shipped teacher → EDM state dict → ours is bit-identical (no Python)', () => {
  const path = resolveNetworkPath('fmnist-cond');
  const dir = mkdtempSync(join(tmpdir(), 'di-edm-test-'));
  try {
    const edmFile = join(dir, 'edm.safetensors');
    const back = join(dir, 'back.safetensors');
    exportEdmFile(path, edmFile);
    const e = readSafetensors(edmFile).tensors;
    assert.ok(Object.keys(e).every((k) => k.startsWith('model.')));
    assert.ok('model.enc.14x14_down.conv0.resample_filter' in e, 'resample_filter buffers are written for load_state_dict(strict=True)');
    importEdmFile(edmFile, back);
    const a = readSafetensors(path);
    const b = readSafetensors(back);
    assert.deepEqual(Object.keys(b.tensors).sort(), Object.keys(a.tensors).sort());
    for (const k of Object.keys(a.tensors)) assert.deepEqual(toFloat32(b.tensors[k]), toFloat32(a.tensors[k]), k);
    const ma = JSON.parse(a.metadata.diff_instruct), mb = JSON.parse(b.metadata.diff_instruct);
    assert.ok(sameNet(teacherNet({ net: ma.net, netConfig: ma.netConfig } as NetSpec).spec, { net: mb.net, netConfig: mb.netConfig } as NetSpec));
    assert.deepEqual([mb.precond, mb.sigmaData, mb.labelDim], [ma.precond, ma.sigmaData, ma.labelDim]);
    assert.equal(exportEdmTensors(path).edm.precond, 'EDMPrecond');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- Through EDM's own code (needs PyTorch and an NVlabs/edm checkout) ----
const python = process.env.DI_PYTHON || 'python3';
const edmDir = process.env.DI_EDM_DIR ?? '';
const why = !edmDir
  ? 'DI_EDM_DIR is not set (an NVlabs/edm checkout: git clone https://github.com/NVlabs/edm)'
  : spawnSync(python, ['-c', 'import torch, tqdm, click, PIL'], { encoding: 'utf8' }).status !== 0
    ? `${python} has no PyTorch (Debian: apt-get install python3-torch python3-tqdm; or set DI_PYTHON)`
    : '';
const py = (script: string, args: string[]) => {
  const r = spawnSync(python, [join(import.meta.dirname, '../../scripts/edm', script), '--edm-dir', edmDir, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${script}: ${r.stderr || r.stdout}`);
  return r.stdout;
};

test('EDM pickle → ours → EDM pickle: same wrapper, init_kwargs and state_dict, for every architecture', { skip: why || false, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-edm-test-'));
  try {
    for (const name of ['ddpmpp-cond-edm', 'ddpmpp-uncond-vp-28', 'ncsnpp-uncond-ve', 'adm-cond-edm']) {
      const edm = JSON.parse(readSafetensors(ref(name)).metadata.edm);
      const pkl = join(dir, `${name}.pkl`);
      // A pickle made by EDM's own code (its persistence records only init_kwargs, as a trained network's does).
      py('make_reference.py', ['--precond', edm.precond, '--kwargs', JSON.stringify(edm.init_kwargs), '--out', join(dir, `${name}.ref.safetensors`), '--pickle', pkl]);
      const ours = join(dir, `${name}.ours.safetensors`);
      importEdmFile(pkl, ours, { edmDir, python });
      const back = join(dir, `${name}.back.pkl`);
      exportEdmFile(ours, back, { edmDir, python });
      assert.match(py('check_pickle.py', ['--pkl', back, '--same-as', pkl]), /identical/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("shipped teacher → EDM pickle → ours is bit-identical, and EDM's edm_sampler on the pickle matches ours", { skip: why || false, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-edm-test-'));
  try {
    const path = resolveNetworkPath('fmnist-cond');
    const pkl = join(dir, 'fm.pkl');
    const back = join(dir, 'back.safetensors');
    exportEdmFile(path, pkl, { edmDir, python });
    importEdmFile(pkl, back, { edmDir, python });
    const a = readSafetensors(path).tensors, b = readSafetensors(back).tensors;
    for (const k of Object.keys(a)) assert.deepEqual(toFloat32(b[k]), toFloat32(a[k]), k);

    const latents = random.normal(random.key(5), [2, 1, 28, 28]);
    const labels = np.eye(10).slice([3, 5]);
    const lat = (await latents.ref.data()) as Float32Array;
    writeSafetensors(join(dir, 'in.safetensors'), { latents: { dtype: 'F32', shape: [2, 1, 28, 28], data: lat }, class_labels: { dtype: 'F32', shape: [2, 10], data: (await labels.ref.data()) as Float32Array } });
    py('check_pickle.py', ['--pkl', pkl, '--sample-in', join(dir, 'in.safetensors'), '--sample-out', join(dir, 'out.safetensors'), '--steps', '5']);
    const theirs = toFloat32(readSafetensors(join(dir, 'out.safetensors')).tensors.x);
    const t = await loadDenoiser(back);
    const x = await edmSample(t.denoiser, t.params, latents, karrasSigmas(5), labels);
    const ours = (await x.data()) as Float32Array;
    let err = 0;
    for (let i = 0; i < ours.length; i++) err = Math.max(err, Math.abs(ours[i] - theirs[i]));
    console.log(`# fmnist-cond: max |ours - EDM edm_sampler| after 5 Heun steps = ${err.toExponential(2)}`);
    assert.ok(err <= 1e-3, `max |ours - EDM| = ${err}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
