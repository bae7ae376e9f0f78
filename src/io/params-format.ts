/**
 * Param trees from safetensors data in memory: the half of params.ts without Node APIs, so the
 * browser entry (src/browser.ts) can turn a fetched checkpoint into a param tree. params.ts re-exports
 * all of it and adds the file functions (`saveParams`, `loadParams`, `readMeta`); `paramsToBytes` is
 * what `saveParams` writes, so a page can offer the same file for download.
 */
import { numpy as np } from '@jax-js/jax';
import { bf16ToF32, f16ToF32, f32ToF16, numel, parseSafetensors, serializeSafetensors, type TensorData } from './safetensors-format.js';

export type ParamTree = Record<string, np.Array>;

/** The `__metadata__` key that holds our JSON description of a checkpoint. */
export const META_KEY = 'diff_instruct';

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

const fmtShape = (s: readonly number[]) => `[${s.join(',')}]`;

/**
 * Reads an array's values as float32 WITHOUT consuming it: reads `x.ref`, so the caller's array stays
 * alive (its reference count is unchanged afterwards). Async, so it works on WebGPU in Node.
 */
export async function readFloat32(x: np.Array): Promise<Float32Array> {
  const view = x.dtype === np.float32 ? x.ref : x.ref.astype(np.float32);
  const d = (await view.data()) as Float32Array; // data() disposes `view`, i.e. the extra reference
  if (d.length !== numel(x.shape)) throw new Error(`read ${d.length} values from an array of shape ${fmtShape(x.shape)}`);
  return d;
}

/** The shape of every tensor of a tree, e.g. to pass as `expect` to `loadParams`. */
export function shapesOf(params: ParamTree): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(params)) out[k] = [...v.shape];
  return out;
}

export interface LoadParamsOptions {
  /** name → shape the network expects (from its `init`, see `shapesOf`); every name must be present with that shape. */
  expect?: Record<string, number[]>;
  /** With `expect`: tensors not in it go to `extra` instead of being an error. */
  allowExtra?: boolean;
}

export interface LoadedParams {
  /** float32 arrays on the default device; the caller owns them. */
  params: ParamTree;
  /** The parsed `diff_instruct` JSON, or null when the file has none (e.g. a converted state_dict). */
  meta: any;
  /** The raw `__metadata__` strings. */
  metadata: Record<string, string>;
  /** Tensors not loaded as params: non-float tensors, and with `expect` + `allowExtra`, names not expected. */
  extra: Record<string, TensorData>;
}

/** The parsed `diff_instruct` JSON of a checkpoint's metadata, or null when it has none. */
export function parseMeta(source: string, metadata: Record<string, string>): any {
  if (!(META_KEY in metadata)) return null;
  try {
    return JSON.parse(metadata[META_KEY]);
  } catch {
    throw new Error(`'${source}': __metadata__ '${META_KEY}' is not valid JSON`);
  }
}

/** Converts any float tensor to float32 values (F16/BF16 widened exactly, F64 rounded). */
export function toFloat32(t: TensorData): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data as Float32Array;
    case 'F16':
      return f16ToF32(t.data as Uint16Array);
    case 'BF16':
      return bf16ToF32(t.data as Uint16Array);
    case 'F64':
      return Float32Array.from(t.data as Float64Array);
    default:
      throw new Error(`toFloat32: ${t.dtype} is not a float dtype`);
  }
}

/**
 * Turns parsed safetensors (`parseSafetensors`/`readSafetensors` output) into a param tree; `source`
 * names the file or URL in errors. With `expect`, reports the first missing, mis-shaped or (unless
 * `allowExtra`) unexpected tensor as `'<source>': tensor 'name' has shape [..], expected [..]`; nothing
 * is allocated on the device until the whole file has been checked.
 */
export function paramsFromSafetensors(
  { tensors, metadata }: { tensors: Record<string, TensorData>; metadata: Record<string, string> },
  source: string,
  opts: LoadParamsOptions = {},
): LoadedParams {
  const meta = parseMeta(source, metadata);
  const chosen: [string, TensorData][] = [];
  const extra: Record<string, TensorData> = {};
  if (opts.expect) {
    for (const [name, shape] of Object.entries(opts.expect)) {
      const t = tensors[name];
      if (!t) throw new Error(`'${source}': missing tensor '${name}' (expected shape ${fmtShape(shape)})`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`'${source}': tensor '${name}' has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
      }
      if (!FLOAT_DTYPES.has(t.dtype)) throw new Error(`'${source}': tensor '${name}' has dtype ${t.dtype}, expected a float dtype (F32, F16, BF16, F64)`);
      chosen.push([name, t]);
    }
    for (const name of Object.keys(tensors).sort()) {
      if (name in opts.expect) continue;
      if (!opts.allowExtra) throw new Error(`'${source}': unexpected tensor '${name}' with shape ${fmtShape(tensors[name].shape)} (not in the network)`);
      extra[name] = tensors[name];
    }
  } else {
    for (const [name, t] of Object.entries(tensors)) {
      if (FLOAT_DTYPES.has(t.dtype)) chosen.push([name, t]);
      else extra[name] = t;
    }
  }
  // every value checked before anything is allocated: a NaN weight would only show as losses skipped later
  const values = chosen.map(([name, t]) => {
    const v = toFloat32(t);
    const bad = countNonFinite(v);
    if (bad) throw new Error(`'${source}': tensor '${name}' holds ${bad === v.length ? 'only' : bad} non-finite value${bad === 1 ? '' : 's'} (NaN or ±Inf): the file is corrupt or its training diverged`);
    return v;
  });
  const params: ParamTree = {};
  chosen.forEach(([name, t], i) => (params[name] = np.array(values[i], { shape: [...t.shape] })));
  return { params, meta, metadata, extra };
}

/** How many of `v` are NaN or ±Inf. */
function countNonFinite(v: Float32Array): number {
  let n = 0;
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) n++;
  return n;
}

/** `paramsFromSafetensors` of a whole file's bytes (e.g. a `fetch`ed checkpoint). */
export function paramsFromBytes(bytes: Uint8Array, source: string, opts: LoadParamsOptions = {}): LoadedParams {
  return paramsFromSafetensors(parseSafetensors(bytes, source), source, opts);
}

export interface SaveParamsOptions {
  /** Storage precision; F16 halves the file (values round to nearest even). Default F32. */
  dtype?: 'F32' | 'F16';
  /** Extra raw tensors stored beside the params (Adam moments, RNG key, ...); names must not clash. */
  extra?: Record<string, TensorData>;
}

/**
 * The safetensors bytes of `params` (and `opts.extra`) with `__metadata__.diff_instruct =
 * JSON.stringify(meta)`. Does NOT consume `params` (each array is read through `.ref`). `where` names
 * the target in errors.
 */
export async function paramsToBytes(params: ParamTree, meta: object, opts: SaveParamsOptions = {}, where = 'paramsToBytes'): Promise<Uint8Array> {
  const dtype = opts.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16') throw new Error(`${where}: dtype must be F32 or F16, got '${dtype}'`);
  const tensors: Record<string, TensorData> = {};
  for (const [name, x] of Object.entries(params)) {
    const values = await readFloat32(x);
    tensors[name] = dtype === 'F16' ? { dtype, shape: [...x.shape], data: f32ToF16(values) } : { dtype, shape: [...x.shape], data: values };
  }
  for (const [name, t] of Object.entries(opts.extra ?? {})) {
    if (name in tensors) throw new Error(`${where}: extra tensor '${name}' has the same name as a parameter`);
    tensors[name] = t;
  }
  let json: string;
  try {
    json = JSON.stringify(meta);
  } catch (e) {
    throw new Error(`${where}: metadata is not JSON-serializable (${(e as Error).message})`);
  }
  return serializeSafetensors(tensors, { [META_KEY]: json });
}
