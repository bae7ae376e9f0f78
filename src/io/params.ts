/**
 * Checkpoint glue between jax-js param trees and safetensors files.
 *
 * A param tree is a flat `Record<string, np.Array>` keyed by EDM/PyTorch names (`enc.28x28_conv.weight`),
 * so a checkpoint maps 1:1 onto a safetensors file and a converted PyTorch state_dict loads directly.
 * The JSON that describes the checkpoint (net config, training config, step, kimg: see
 * docs/ARCHITECTURE.md, "Checkpoints") lives in `__metadata__.diff_instruct`, so a file describes itself
 * (k-diffusion's habit) and `readMeta` can learn what a file holds from its header alone.
 */
import { f32ToF16, readSafetensors, readSafetensorsHeader, writeSafetensors, type TensorData, type TensorInfo } from './safetensors.js';
import { META_KEY, paramsFromSafetensors, parseMeta, readFloat32, type LoadedParams, type LoadParamsOptions, type ParamTree } from './params-format.js';

export * from './params-format.js';

export interface SaveParamsOptions {
  /** Storage precision; F16 halves the file (values round to nearest even). Default F32. */
  dtype?: 'F32' | 'F16';
  /** Extra raw tensors stored beside the params (Adam moments, RNG key, ...); names must not clash. */
  extra?: Record<string, TensorData>;
}

/**
 * Writes `params` (and `opts.extra`) to a safetensors file atomically, with
 * `__metadata__.diff_instruct = JSON.stringify(meta)`.
 *
 * Does NOT consume `params`: every array is read through `.ref`, so the caller keeps using (and owns)
 * its tree after the call — unlike most functions here, which take ownership of their arguments.
 */
export async function saveParams(path: string, params: ParamTree, meta: object, opts: SaveParamsOptions = {}): Promise<void> {
  const dtype = opts.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16') throw new Error(`saveParams '${path}': dtype must be F32 or F16, got '${dtype}'`);
  const tensors: Record<string, TensorData> = {};
  for (const [name, x] of Object.entries(params)) {
    const values = await readFloat32(x);
    tensors[name] = dtype === 'F16' ? { dtype, shape: [...x.shape], data: f32ToF16(values) } : { dtype, shape: [...x.shape], data: values };
  }
  for (const [name, t] of Object.entries(opts.extra ?? {})) {
    if (name in tensors) throw new Error(`saveParams '${path}': extra tensor '${name}' has the same name as a parameter`);
    tensors[name] = t;
  }
  let json: string;
  try {
    json = JSON.stringify(meta);
  } catch (e) {
    throw new Error(`saveParams '${path}': metadata is not JSON-serializable (${(e as Error).message})`);
  }
  writeSafetensors(path, tensors, { [META_KEY]: json });
}

/**
 * Loads a checkpoint written by `saveParams` (or any safetensors file of float tensors); see
 * `paramsFromSafetensors` for what `expect` checks.
 */
export async function loadParams(path: string, opts: LoadParamsOptions = {}): Promise<LoadedParams> {
  return paramsFromSafetensors(readSafetensors(path), path, opts);
}

/**
 * Reads only a checkpoint's header: its `diff_instruct` JSON (null when absent), the raw metadata and the
 * tensor names/dtypes/shapes. Cheap however large the file; still checks the header against the file size.
 */
export function readMeta(path: string): { meta: any; metadata: Record<string, string>; tensors: Record<string, TensorInfo> } {
  const { tensors, metadata } = readSafetensorsHeader(path);
  return { meta: parseMeta(path, metadata), metadata, tensors };
}
