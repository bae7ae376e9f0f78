/**
 * Loading self-describing denoiser checkpoints (safetensors + `diff_instruct` JSON metadata, written
 * by the teacher trainer or converted from an EDM pickle: docs/convert-edm-checkpoint.md) into a
 * ready `Denoiser` (EDM Eq. 7) with its params. Shipped teachers resolve by name to
 * `models/<name>.safetensors`. Every failure is one line naming the file and the problem.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { modelsDir, shippedNames } from '../io/models-dir.js';
import { loadParams, readMeta } from '../io/params.js';
import { PRECOND_KINDS, type Denoiser, type PrecondKind } from '../edm/precond.js';
import type { Params } from '../nets/layers.js';
import { teacherDenoiser, teacherNet, type NetSpec, type TeacherNet } from './net.js';

/** Metadata format of teacher snapshots. */
export const TEACHER_FORMAT = 'diff-instruct/teacher@1';

/** What a denoiser checkpoint's `diff_instruct` metadata holds (teacher snapshots; generators add `sigmaInit`). */
export interface DenoiserMeta {
  format: string;
  kind: string;
  net: NetSpec['net'];
  netConfig: NetSpec['netConfig'];
  precond: PrecondKind;
  sigmaData: number;
  /** One-step generators only: the fixed σ_init of D(z; σ_init). */
  sigmaInit?: number;
  [key: string]: unknown;
}

export interface LoadedDenoiser {
  path: string;
  denoiser: Denoiser;
  /** Owned by the caller (dispose with `tree.dispose`). */
  params: Params;
  meta: DenoiserMeta;
  net: TeacherNet;
}

/** A file path as given, or a shipped name → models/<name>.safetensors; one-line error when neither exists. */
export function resolveNetworkPath(pathOrName: string): string {
  if (!pathOrName) throw new Error('no network given (a .safetensors file or a shipped name)');
  if (existsSync(pathOrName)) {
    if (statSync(pathOrName).isDirectory()) throw new Error(`network '${pathOrName}' is a folder, expected a .safetensors file`);
    return pathOrName;
  }
  if (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(pathOrName) && !pathOrName.endsWith('.safetensors')) {
    const shipped = join(modelsDir(), `${pathOrName}.safetensors`);
    if (existsSync(shipped)) return shipped;
    const names = shippedNames();
    throw new Error(`network '${pathOrName}' not found: no such file and no shipped model models/${pathOrName}.safetensors (shipped: ${names.length ? names.join(', ') : 'none'})`);
  }
  throw new Error(`network file '${pathOrName}' not found`);
}

/**
 * What loading `pathOrName` as a denoiser of one of `kinds` checks first, from the file's header only (no
 * tensors read): it resolves, and its metadata describes such a network. For `--dry-run`.
 */
export function checkDenoiserFile(pathOrName: string, kinds: readonly string[]): DenoiserMeta {
  const path = resolveNetworkPath(pathOrName);
  return checkDenoiserMeta(path, readMeta(path).meta, kinds);
}

/** Validates a checkpoint's metadata as a denoiser of one of `kinds`; returns its net spec. */
export function checkDenoiserMeta(path: string, meta: unknown, kinds: readonly string[]): DenoiserMeta {
  if (meta === null || typeof meta !== 'object') {
    throw new Error(`'${path}' has no diff_instruct metadata (a converted EDM state_dict needs it: see docs/convert-edm-checkpoint.md)`);
  }
  const m = meta as DenoiserMeta;
  if (!kinds.includes(m.kind)) throw new Error(`'${path}' holds a ${m.kind ?? 'unknown'} checkpoint, expected ${kinds.join(' or ')}`);
  const g = meta as { generator?: unknown; teacher?: unknown };
  if (m.kind === 'generator' && g.generator === 'mlp') {
    throw new Error(`'${path}' is a 2-D MLP generator (teacher ${String(g.teacher)}), not an image network: its samples are the run's fakes-*.png scatter plots and metrics`);
  }
  if (m.net !== 'song-unet' && m.net !== 'dhariwal-unet' && m.net !== 'mlp') throw new Error(`'${path}': metadata 'net' is ${JSON.stringify(m.net)}, expected "song-unet", "dhariwal-unet" or "mlp"`);
  if (!m.netConfig || typeof m.netConfig !== 'object') throw new Error(`'${path}': metadata has no 'netConfig'`);
  if (!(PRECOND_KINDS as readonly string[]).includes(m.precond)) throw new Error(`'${path}': metadata 'precond' is ${JSON.stringify(m.precond)}, expected ${PRECOND_KINDS.join(', ')}`);
  if (!(typeof m.sigmaData === 'number' && m.sigmaData > 0)) throw new Error(`'${path}': metadata 'sigmaData' is ${JSON.stringify(m.sigmaData)}, expected a positive number`);
  return m;
}

/**
 * Loads a denoiser checkpoint (teacher by default): file or shipped name → `{denoiser, params, meta}`.
 * Shapes are checked against the network the metadata describes, so a file whose tensors do not
 * match its own config fails with `'<file>': tensor '<name>' has shape [..], expected [..]`.
 */
export async function loadDenoiser(pathOrName: string, { kinds = ['teacher'] as readonly string[] } = {}): Promise<LoadedDenoiser> {
  const path = resolveNetworkPath(pathOrName);
  const { meta } = readMeta(path);
  const m = checkDenoiserMeta(path, meta, kinds);
  let net: TeacherNet;
  try {
    net = teacherNet({ net: m.net, netConfig: m.netConfig } as NetSpec);
  } catch (e) {
    throw new Error(`'${path}': ${(e as Error).message.split('\n')[0]}`);
  }
  // Strict: an unexpected tensor is an error (the converter drops EDM's constant resample_filter buffers).
  const { params } = await loadParams(path, { expect: net.shapes });
  return { path, denoiser: teacherDenoiser(net, m.precond, m.sigmaData), params, meta: m, net };
}
