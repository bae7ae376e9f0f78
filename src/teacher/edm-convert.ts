/**
 * `convert-edm`'s file layer: NVlabs/edm networks ⇄ our checkpoints (docs/convert-edm-checkpoint.md).
 *
 *   EDM pickle ──scripts/edm/edm_to_safetensors.py──▶ EDM interchange .safetensors ──importEdmFile──▶ ours
 *   ours ──exportEdmFile──▶ EDM interchange .safetensors ──scripts/edm/safetensors_to_edm.py──▶ EDM pickle
 *
 * The Python steps run NVlabs/edm's own code (unpickling needs its `dnnlib`/`torch_utils`; the reverse
 * builds `<Precond>(**init_kwargs)` and calls `load_state_dict(strict=True)`), from a checkout the user
 * names (`--edm-dir`): its licence is non-commercial, so it is not part of this repository. The mapping
 * rules live in `edm-format.ts`. No device is used: tensors stay on the host as float32.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { META_KEY, parseMeta, toFloat32 } from '../io/params-format.js';
import { readSafetensors, writeSafetensors, type TensorData } from '../io/safetensors.js';
import { checkDenoiserMeta, TEACHER_FORMAT } from './load.js';
import { edmBuffers, exportEdmMeta, importEdmMeta, parseEdmMeta, paramsFromEdmStateDict, type EdmMeta } from './edm-format.js';
import { sameNet, teacherNet, type NetSpec } from './net.js';

const SCRIPTS = join(import.meta.dirname, '../../scripts/edm');

/** Options of the Python steps. */
export interface PythonOptions {
  /** An NVlabs/edm checkout (training/networks.py, dnnlib, torch_utils). */
  edmDir?: string;
  /** The Python with PyTorch (default: $DI_PYTHON, else python3). */
  python?: string;
}

/** Runs one of scripts/edm/*.py; a failure becomes one line with the script's last stderr line. */
export function runEdmScript(script: string, args: string[], opts: PythonOptions): void {
  if (!opts.edmDir) throw new Error(`${script} needs --edm-dir <path to an NVlabs/edm checkout> (git clone https://github.com/NVlabs/edm)`);
  const python = opts.python || process.env.DI_PYTHON || 'python3';
  const r = spawnSync(python, [join(SCRIPTS, script), '--edm-dir', opts.edmDir, ...args], { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run '${python}' (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): set --python or DI_PYTHON to a Python with PyTorch`);
  if (r.status !== 0) {
    const last = (r.stderr || r.stdout || '').trim().split('\n').pop() ?? '';
    throw new Error(`${script} failed (exit ${r.status}): ${last}`);
  }
}

/** Reads an EDM interchange file and returns our metadata and float32 tensors (names checked against our network). */
export function importEdmTensors(path: string): { meta: Record<string, unknown>; tensors: Record<string, TensorData> } {
  const { tensors, metadata } = readSafetensors(path);
  const edm = parseEdmMeta(metadata, path);
  let imp;
  try {
    imp = importEdmMeta(edm);
  } catch (e) {
    throw new Error(`'${path}': ${(e as Error).message}`);
  }
  const net = teacherNet(imp.spec);
  const state = Object.fromEntries(Object.entries(tensors).filter(([k]) => !k.startsWith('fixture.')));
  const ours = paramsFromEdmStateDict(imp.spec, state, path);
  const out: Record<string, TensorData> = {};
  for (const [name, shape] of Object.entries(net.shapes)) {
    const t = ours[name];
    if (!t) throw new Error(`'${path}': missing tensor 'model.${name}' (expected shape [${shape}])`);
    if (t.shape.join() !== shape.join()) throw new Error(`'${path}': tensor 'model.${name}' has shape [${t.shape}], expected [${shape}]`);
    out[name] = { dtype: 'F32', shape: [...shape], data: toFloat32(t) };
  }
  for (const name of Object.keys(ours)) if (!(name in net.shapes)) throw new Error(`'${path}': unexpected tensor 'model.${name}' (not in the ${imp.spec.net} the metadata describes)`);
  const c = imp.spec.netConfig as { imgResolution: number; inChannels: number; labelDim: number };
  const meta = {
    format: TEACHER_FORMAT,
    kind: 'teacher',
    ...imp.spec,
    precond: imp.precond,
    sigmaData: imp.sigmaData,
    sigmaMin: imp.sigmaMin,
    sigmaMax: Number.isFinite(imp.sigmaMax) ? imp.sigmaMax : null,
    labelDim: c.labelDim,
    cond: c.labelDim > 0,
    dataShape: [c.inChannels, c.imgResolution, c.imgResolution],
    resolution: c.imgResolution,
    channels: c.inChannels,
    dataset: 'converted',
    source: basename(path),
    edm,
  };
  return { meta, tensors: out };
}

/** EDM interchange file (or, with `edmDir`, an EDM pickle) → our teacher checkpoint. Returns what was written. */
export function importEdmFile(input: string, output: string, opts: PythonOptions = {}): { tensors: number; net: string; precond: string } {
  if (!existsSync(input)) throw new Error(`'${input}' not found`);
  let tmp: string | null = null;
  try {
    let path = input;
    if (input.endsWith('.pkl')) {
      tmp = mkdtempSync(join(tmpdir(), 'di-edm-'));
      path = join(tmp, 'edm.safetensors');
      runEdmScript('edm_to_safetensors.py', ['--pkl', input, '--out', path], opts);
    }
    const { meta, tensors } = importEdmTensors(path);
    if (input !== path) meta.source = basename(input);
    writeSafetensors(output, tensors, { [META_KEY]: JSON.stringify(meta) });
    return { tensors: Object.keys(tensors).length, net: String(meta.net), precond: String(meta.precond) };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** Our teacher or generator checkpoint → EDM interchange tensors (`model.` names, buffers) and `edm` metadata. */
export function exportEdmTensors(path: string): { edm: Record<string, unknown>; tensors: Record<string, TensorData> } {
  const { tensors, metadata } = readSafetensors(path);
  const m = checkDenoiserMeta(path, parseMeta(path, metadata), ['teacher', 'generator']);
  const spec = { net: m.net, netConfig: m.netConfig } as NetSpec;
  let net;
  try {
    net = teacherNet(spec);
  } catch (e) {
    throw new Error(`'${path}': ${(e as Error).message}`);
  }
  let edm = exportEdmMeta(net.spec, m.precond, m.sigmaData) as unknown as Record<string, unknown>;
  // A network that came from EDM goes back with the wrapper arguments it came with (same network,
  // same recorded init_kwargs), when they still describe it.
  const orig = m.edm as EdmMeta | undefined;
  if (orig && typeof orig === 'object' && orig.precond && orig.init_kwargs) {
    try {
      const o = importEdmMeta(orig);
      if (sameNet(o.spec, net.spec) && o.precond === m.precond && o.sigmaData === m.sigmaData) edm = { precond: orig.precond, init_kwargs: orig.init_kwargs, model_kwargs: edm.model_kwargs };
    } catch {
      // not a usable EDM description: keep the one built from our config
    }
  }
  const out: Record<string, TensorData> = {};
  for (const [name, shape] of Object.entries(net.shapes)) {
    const t = tensors[name];
    if (!t) throw new Error(`'${path}': missing tensor '${name}' (expected shape [${shape}])`);
    if (t.shape.join() !== shape.join()) throw new Error(`'${path}': tensor '${name}' has shape [${t.shape}], expected [${shape}]`);
    out[`model.${name}`] = { dtype: 'F32', shape: [...shape], data: toFloat32(t) };
  }
  for (const name of Object.keys(tensors)) if (!(name in net.shapes)) throw new Error(`'${path}': unexpected tensor '${name}' (not in its network)`);
  for (const [name, b] of Object.entries(edmBuffers(net.spec))) {
    out[`model.${name}`] = { dtype: 'F32', shape: b.shape, data: b.data };
  }
  if (m.kind === 'generator') edm.note = `one-step generator D(z; σ_init = ${m.sigmaInit}) exported as an EDM denoiser`;
  return { edm, tensors: out };
}

/** Our checkpoint → EDM interchange file (`.safetensors`) or, with `edmDir`, an EDM pickle (`.pkl`) that generate.py samples. */
export function exportEdmFile(input: string, output: string, opts: PythonOptions = {}): { tensors: number; precond: string } {
  if (!existsSync(input)) throw new Error(`'${input}' not found`);
  const { edm, tensors } = exportEdmTensors(input);
  const meta = { edm: JSON.stringify({ ...edm, source: basename(input) }) };
  if (!output.endsWith('.pkl')) {
    writeSafetensors(output, tensors, meta);
    return { tensors: Object.keys(tensors).length, precond: String(edm.precond) };
  }
  const tmp = mkdtempSync(join(tmpdir(), 'di-edm-'));
  try {
    const st = join(tmp, 'edm.safetensors');
    writeSafetensors(st, tensors, meta);
    runEdmScript('safetensors_to_edm.py', ['--in', st, '--out', output], opts);
    return { tensors: Object.keys(tensors).length, precond: String(edm.precond) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
