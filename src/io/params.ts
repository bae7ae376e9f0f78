/**
 * Checkpoint glue between jax-js param trees and safetensors files.
 *
 * A param tree is a flat `Record<string, np.Array>` keyed by EDM/PyTorch names (`enc.28x28_conv.weight`),
 * so a checkpoint maps 1:1 onto a safetensors file and a converted PyTorch state_dict loads directly.
 * The JSON that describes the checkpoint (net config, training config, step, kimg: see
 * docs/ARCHITECTURE.md, "Checkpoints") lives in `__metadata__.diff_instruct`, so a file describes itself
 * (k-diffusion's habit) and `readMeta` can learn what a file holds from its header alone.
 */
import { readSafetensors, readSafetensorsHeader, type TensorInfo } from './safetensors.js';
import { writeFileAtomic } from './atomic.js';
import { paramsFromSafetensors, paramsToBytes, parseMeta, type LoadedParams, type LoadParamsOptions, type ParamTree, type SaveParamsOptions } from './params-format.js';

export * from './params-format.js';

/**
 * Writes `params` (and `opts.extra`) to a safetensors file atomically, with
 * `__metadata__.diff_instruct = JSON.stringify(meta)` (the bytes of `paramsToBytes`).
 *
 * Does NOT consume `params`: every array is read through `.ref`, so the caller keeps using (and owns)
 * its tree after the call — unlike most functions here, which take ownership of their arguments.
 */
export async function saveParams(path: string, params: ParamTree, meta: object, opts: SaveParamsOptions = {}): Promise<void> {
  writeFileAtomic(path, await paramsToBytes(params, meta, opts, `saveParams '${path}'`));
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
