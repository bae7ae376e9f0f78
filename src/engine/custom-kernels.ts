/**
 * Our kernels for jax-js's WebGPU jit path: the hook that patches/jax-js.mjs ('custom-kernels') asks
 * about every `conv` equation of a program being compiled. For a stride-1, undilated 2-D f32 conv on
 * WebGPU (the forward convs of SongUNet and the GAN, and the input- and weight-gradient convs that
 * jax-js's transpose rule makes of them) it returns an implicit-GEMM lowering
 * (./kernels/conv-gemm.ts) that reads its operands in place where they are strided views of another
 * array (transposed or flipped by the transpose rule, sliced and reshaped out of a flat parameter vector:
 * src/train/flat-params.ts), saving a copy kernel each; anything else is declined
 * and stays stock. On by default on hardware adapters, off on software ones (see
 * `installCustomKernels`); `DI_CUSTOM_KERNELS=1|0` forces it; `setCustomKernels` switches it at run
 * time (tests compare both in one process: the jit compile cache keys on the switch).
 * Where the device offers f16 subgroup matrices (tensor cores: NVIDIA through Dawn), `DI_F16=1` runs the
 * convs on them (./kernels/conv-gemm-f16.ts, f16 operands, f32 accumulation; off by default: see
 * `chooseF16`), `setF16Kernels` switches it; the f32 kernels stay the reference.
 * `DI_CONV_TILE=<variant>` picks the f32 kernels' tiling (conv-gemm.ts `F32_VARIANTS`; default m64n64-v4),
 * `DI_F16_TILE=<shape>` the f16 kernels' (conv-gemm-f16.ts `F16_SHAPES`; default m64n64), `setConvTile`
 * switches them; `DI_CONV_TILES=<file>` (`setConvTiles`) picks an f32 variant per conv from a table, such
 * as the JSON benchmarks/gpu/conv-sweep.mjs prints (its rows' `key` and `best`); the jit compile cache
 * keys on these choices (`cacheKey`).
 */
import { getWebGPUDevice } from '@jax-js/jax';
import { convGemmPlan, contiguousStrides, convKey, DEFAULT_F32_VARIANT, f32Choice, type View4 } from './kernels/conv-gemm.js';
import { chooseF16Tile, convGemmF16Plan, DEFAULT_F16_SHAPE, f16Shape, type F16Tile, type SubgroupMatrixConfig } from './kernels/conv-gemm-f16.js';
import type { RoutineShader } from './kernels/shader.js';

/** A view equation between an array and the array it was taken from. */
export interface ViewEqn {
  primitive: 'transpose' | 'flip' | 'shrink' | 'reshape';
  params: Record<string, any>;
}

/** What the patched jitCompile tells the hook about one equation. */
export interface EqnDesc {
  backend: string;
  primitive: string;
  params: Record<string, any>;
  inputs: {
    shape: number[];
    dtype: string;
    isVar: boolean;
    /** View equations from `root` (first) to this input (last), of the primitives in the hook's `viewPrimitives`. */
    views: ViewEqn[];
    /** `isInput`: the root is an input of the program (a buffer already, unlike an intermediate that may be fused away). */
    root: { shape: number[]; dtype: string; isInput?: boolean };
  }[];
  outputs: { shape: number[]; dtype: string }[];
}

/** What the hook returns for an equation it takes. */
export interface Lowering {
  /** Kernel name (shown in profiles). */
  name: string;
  /** Per input: how many views up its chain the kernel reads (0: the input as materialized, `views.length`: the root). */
  readFrom: number[];
  /** Extra scratch buffers (bytes), bound after the outputs and freed right after the step. */
  scratchBytes: number[];
  shaders: (device: unknown) => RoutineShader[];
}

interface Hook {
  enabled: boolean;
  primitives: string[];
  /** View primitives the patch follows back from an input (its default: transpose, flip). */
  viewPrimitives: ViewEqn['primitive'][];
  lower: (desc: EqnDesc) => Lowering | null;
  /** The device's f16 subgroup-matrix shape (null: none), and whether convs use it. */
  f16Tile?: F16Tile | null;
  f16?: boolean;
  /** The f32 kernels' tile variant (conv-gemm.ts `F32_VARIANTS`) and the f16 kernels' tile shape (conv-gemm-f16.ts `F16_SHAPES`). */
  convTile?: string;
  f16Shape?: string;
  /** f32 variant per conv (`convKey`) where it differs from `convTile`, and a name for the table (in `cacheKey`). */
  convTiles?: { name: string; byKey: Map<string, string> } | null;
  /** What programs compiled now depend on besides `enabled` (jax-js patch 'custom-kernels' keys its caches on it). */
  cacheKey: () => string;
}

const HOOK = Symbol.for('diff-instruct.customKernels');

/** A strided view of a buffer: logical shape, element strides (negative where flipped), element offset. */
interface StridedView {
  shape: number[];
  strides: number[];
  offset: number;
}

/** The shape a view equation gives its input's shape. */
function viewShape(v: ViewEqn, shape: number[]): number[] {
  if (v.primitive === 'transpose') return (v.params.perm as number[]).map((p) => shape[p]);
  if (v.primitive === 'shrink') return (v.params.slice as [number, number][]).map(([a, b]) => b - a);
  if (v.primitive === 'reshape') return [...(v.params.shape as number[])];
  return shape;
}

/** `x` after one view equation, or null where that is not a strided view of the same buffer (a reshape of a non-contiguous view). */
function applyView(x: StridedView, v: ViewEqn): StridedView | null {
  const { shape, strides } = x;
  switch (v.primitive) {
    case 'transpose': {
      const perm: number[] = v.params.perm;
      return { shape: perm.map((p) => shape[p]), strides: perm.map((p) => strides[p]), offset: x.offset };
    }
    case 'flip': {
      const out = { shape: [...shape], strides: [...strides], offset: x.offset };
      for (const a of v.params.axis as number[]) {
        out.offset += (shape[a] - 1) * strides[a];
        out.strides[a] = -strides[a];
      }
      return out;
    }
    case 'shrink': {
      const slice: [number, number][] = v.params.slice;
      return { shape: slice.map(([a, b]) => b - a), strides: [...strides], offset: x.offset + slice.reduce((o, [a], i) => o + a * strides[i], 0) };
    }
    case 'reshape': {
      const dense = contiguousStrides(shape);
      if (shape.some((n, i) => n > 1 && strides[i] !== dense[i])) return null;
      const to: number[] = v.params.shape;
      return { shape: [...to], strides: contiguousStrides(to), offset: x.offset };
    }
  }
}

/**
 * The logical 4-D array an input is, as a strided view of the array `depth` views up its chain (0: the
 * input itself; `views.length`: the root), or null where the views between cannot be expressed as one.
 */
export function viewOf(input: EqnDesc['inputs'][number], depth = input.views.length): View4 | null {
  const k = input.views.length - depth;
  let shape = [...input.root.shape];
  for (const v of input.views.slice(0, k)) shape = viewShape(v, shape);
  let x: StridedView | null = { shape, strides: contiguousStrides(shape), offset: 0 };
  for (const v of input.views.slice(k)) if (!(x = applyView(x, v))) return null;
  if (x.shape.length !== 4) return null;
  if (x.shape.some((s, i) => s !== input.shape[i])) throw new Error(`custom-kernels: view chain gives [${x.shape}], input is [${input.shape}]`);
  return { shape: x.shape as View4['shape'], strides: x.strides as View4['strides'], offset: x.offset };
}

/**
 * The deepest view of `input` a kernel should read in place: how far up its chain, and the view from
 * there. Transposes and flips are always read through (they sit on arrays the step keeps anyway: the
 * forward activations, the weights); slices and reshapes only where they reach an input of the program
 * (a flat parameter vector), since reading through them to an intermediate would make it a buffer of
 * its own, a kernel more where the slice or reshape was fused into its neighbours.
 */
function deepestView(input: EqnDesc['inputs'][number]): { depth: number; view: View4 } | null {
  const n = input.views.length;
  let reorders = 0;
  while (reorders < n && ['transpose', 'flip'].includes(input.views[n - 1 - reorders].primitive)) reorders++;
  for (const depth of input.root.isInput ? [n, reorders, 0] : [reorders, 0]) {
    const view = viewOf(input, depth);
    if (view) return { depth, view };
  }
  return null;
}

const stats: Record<string, number> = {};

/** How many equations each kernel has been chosen for so far (tests check that the hook took them). */
export function customKernelStats(): Readonly<Record<string, number>> {
  return stats;
}

const same = (a: number[] | undefined, b: number[]) => !!a && a.length === b.length && a.every((v, i) => v === b[i]);

/** An implicit-GEMM lowering for a stride-1, undilated 2-D f32 conv on WebGPU, or null. */
export function lowerConv(desc: EqnDesc): Lowering | null {
  if (desc.backend !== 'webgpu' || desc.primitive !== 'conv') return null;
  const p = desc.params;
  if (p.vmapDims !== 0 || !same(p.strides, [1, 1]) || !same(p.lhsDilation, [1, 1]) || !same(p.rhsDilation, [1, 1])) return null;
  if (desc.inputs.length !== 2 || desc.outputs.length !== 1) return null;
  if (![...desc.inputs, ...desc.outputs].every((a) => a.dtype === 'float32' && a.shape.length === 4)) return null;
  if (!desc.inputs.every((x) => x.isVar && x.root.dtype === 'float32')) return null;
  const [lhs, rhs] = desc.inputs.map(deepestView);
  if (!lhs || !rhs) return null;
  const outShape = desc.outputs[0].shape as [number, number, number, number];
  const padLo: [number, number] = [p.padding[0][0], p.padding[1][0]];
  const spec = { lhs: lhs.view, rhs: rhs.view, padLo, outShape };
  const h = hook();
  // jax-js's transpose rule makes the gradient convs of transposed/flipped operands: the weight gradient
  // transposes the forward input, the input gradient flips the weight
  const reordered = (i: number) => desc.inputs[i].views.some((v) => v.primitive === 'transpose' || v.primitive === 'flip');
  const kind = reordered(0) ? 'wgrad' : reordered(1) ? 'dgrad' : 'fwd';
  const f16 = h.f16 && h.f16Tile ? h.f16Tile : null;
  const variant = h.convTiles?.byKey.get(convKey(kind, spec)) ?? h.convTile ?? DEFAULT_F32_VARIANT;
  const shape = h.f16Shape ?? DEFAULT_F16_SHAPE;
  const plan = f16 ? convGemmF16Plan(spec, f16, undefined, shape) : convGemmPlan(spec, undefined, f32Choice(variant));
  const tiled = f16 ? (shape === DEFAULT_F16_SHAPE ? '' : `@${shape}`) : variant === DEFAULT_F32_VARIANT ? '' : `@${variant}`;
  const name = `conv-gemm-${f16 ? 'f16-' : ''}${kind}${plan.splits > 1 ? `-splitk${plan.splits}` : ''}${tiled}`;
  stats[name] = (stats[name] ?? 0) + 1;
  return {
    name,
    readFrom: [lhs.depth, rhs.depth],
    scratchBytes: plan.scratchBytes,
    shaders: () => plan.shaders,
  };
}

function hook(): Hook {
  const g = globalThis as any;
  return (g[HOOK] ??= {
    enabled: false,
    primitives: ['conv'],
    viewPrimitives: ['transpose', 'flip', 'shrink', 'reshape'],
    lower: lowerConv,
    cacheKey(this: Hook) {
      return this.f16 && this.f16Tile
        ? `f16-${this.f16Tile.m}x${this.f16Tile.n}x${this.f16Tile.k}-${this.f16Shape ?? DEFAULT_F16_SHAPE}`
        : `f32-${this.convTile ?? DEFAULT_F32_VARIANT}${this.convTiles ? `+${this.convTiles.name}` : ''}`;
    },
  } satisfies Hook);
}

/**
 * Registers our kernels with jax-js's jit. Called where the WebGPU device is brought up
 * (src/platform/devices.ts); on other backends the hook declines everything. On by default on hardware
 * adapters; off on software ones (Mesa llvmpipe), where workgroup barriers and workgroup memory are
 * emulated on the CPU and these tiled kernels measured 2.5–6× slower than jax-js's one-thread-per-output
 * convs (benchmarks/README.md, "Our kernels on llvmpipe"); the 'reduce-split' patch keeps the stock
 * convs exact there. `DI_CUSTOM_KERNELS=1` / `0` forces them on / off. Also picks the f16
 * subgroup-matrix convs where the device has them (`chooseF16`; `DI_F16=1|0`) and the kernels' tiling
 * (`DI_CONV_TILE`, `DI_F16_TILE`: `setConvTile`; a one-line error for an unknown one).
 */
export function installCustomKernels({ software = false }: { software?: boolean } = {}): void {
  const env = (name: string): string | undefined => (typeof process === 'undefined' ? undefined : process.env?.[name]);
  const on = env('DI_CUSTOM_KERNELS');
  hook().enabled = on === '1' ? true : on === '0' ? false : !software;
  const f16 = chooseF16(env('DI_F16'), software ? null : deviceFacts());
  hook().f16Tile = f16.tile;
  hook().f16 = f16.on;
  setConvTile(env('DI_CONV_TILE') || undefined, env('DI_F16_TILE') || undefined);
  const table = env('DI_CONV_TILES');
  setConvTiles(table ? readConvTiles(table) : null, table);
}

/**
 * A per-conv tile table from a JSON file: conv-sweep.mjs's output (`convs: [{ key, best }]`) or an object
 * `{ "<convKey>": "<variant>" }`. A one-line error for an unreadable file, another shape, or an unknown variant.
 */
export function readConvTiles(file: string): Record<string, string> {
  let json: any;
  try {
    // Node only (DI_CONV_TILES is read where process.env is), as src/platform/devices.ts reads files
    const fs = (globalThis as any).process?.getBuiltinModule?.('node:fs') as typeof import('node:fs') | undefined;
    if (!fs) throw new Error('no file system here');
    const text = fs.readFileSync(file, 'utf8');
    json = JSON.parse(text.split('\n').find((l: string) => l.trim().startsWith('{')) ?? text);
  } catch (e) {
    throw new Error(`DI_CONV_TILES: cannot read ${file} (${(e as Error).message.split('\n')[0]})`);
  }
  const table: Record<string, string> = Array.isArray(json?.convs) ? Object.fromEntries(json.convs.filter((c: any) => c.key && c.best).map((c: any) => [c.key, c.best])) : json;
  if (!table || typeof table !== 'object' || Object.values(table).some((v) => typeof v !== 'string')) throw new Error(`DI_CONV_TILES: ${file} is neither conv-sweep.mjs's output nor an object of conv keys to variant names`);
  return table;
}

/**
 * Per-conv f32 variants for programs compiled from now on (`convKey` → variant name; null: none, every
 * conv takes `setConvTile`'s variant). `name` goes into the compile cache key. Throws for an unknown variant.
 */
export function setConvTiles(table: Record<string, string> | null, name = 'table'): void {
  if (!table) {
    hook().convTiles = null;
    return;
  }
  for (const v of new Set(Object.values(table))) f32Choice(v);
  hook().convTiles = { name, byKey: new Map(Object.entries(table)) };
}

/**
 * The tiling of programs compiled from now on: the f32 kernels' variant (conv-gemm.ts `F32_VARIANTS`)
 * and the f16 kernels' shape (conv-gemm-f16.ts `F16_SHAPES`); undefined: the default. Throws a one-line
 * error naming the choices for an unknown name.
 */
export function setConvTile(variant: string | undefined, shape?: string): void {
  if (variant !== undefined) f32Choice(variant);
  if (shape !== undefined) f16Shape(shape);
  hook().convTile = variant ?? DEFAULT_F32_VARIANT;
  hook().f16Shape = shape ?? DEFAULT_F16_SHAPE;
}

/** The f32 kernels' tile variant programs compile with now. */
export function convTile(): string {
  return hook().convTile ?? DEFAULT_F32_VARIANT;
}

/** What the f16 choice needs to know of a WebGPU device (its features and adapter info). */
export interface DeviceFacts {
  features: Iterable<string>;
  subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

/** The facts of jax-js's WebGPU device, or null where it has none. */
function deviceFacts(): DeviceFacts | null {
  let device: GPUDevice;
  try {
    device = getWebGPUDevice() as unknown as GPUDevice;
  } catch {
    return null;
  }
  const info = adapterInfo(device);
  return { features: device.features as Iterable<string>, subgroupMatrixConfigs: info.subgroupMatrixConfigs, subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize };
}

/**
 * The adapter info of jax-js's device, with its subgroup-matrix shapes: from the adapter it was requested
 * from (kept by the 'device-features' patch), whose `info` has them, where Dawn's `device.adapterInfo`
 * leaves `subgroupMatrixConfigs` empty (on an H100 through Vulkan).
 */
export function adapterInfo(device: GPUDevice): { subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[]; subgroupMinSize?: number; subgroupMaxSize?: number; [k: string]: unknown } {
  const fromDevice = (device as any).adapterInfo ?? {};
  const adapter = (globalThis as any)[Symbol.for('diff-instruct.webgpuAdapter')];
  const fromAdapter = adapter?.info ?? {};
  const configs = [fromAdapter.subgroupMatrixConfigs, fromDevice.subgroupMatrixConfigs].find((c) => c && c.length > 0);
  return {
    subgroupMinSize: fromAdapter.subgroupMinSize ?? fromDevice.subgroupMinSize,
    subgroupMaxSize: fromAdapter.subgroupMaxSize ?? fromDevice.subgroupMaxSize,
    subgroupMatrixConfigs: configs ? [...configs].map((c: any) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K })) : [],
  };
}

const F16_FEATURES = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'];

/**
 * Whether convs run on f16 subgroup matrices, and with which shape. `facts` null (no device, or a
 * software adapter, which is never given them): off. Otherwise the tile is the adapter's best f16 → f32
 * `subgroupMatrixConfigs` entry that conv-gemm's tiles hold (`chooseF16Tile`), and only a device created
 * with all of `shader-f16`, `subgroups` and `chromium-experimental-subgroup-matrix` (jax-js patch
 * 'device-features') has one. `env` (DI_F16): '1' on (a one-line error where there is no tile), '0' or
 * unset: off. Off by default: on an H100 (2026-12-08, benchmarks/README.md) every conv came within
 * 3.4e-4 of f32 and a fmnist-base teacher step ran 1.4× faster, but at a network's initialisation the
 * gradients behind EDM's zero-initialised output layers are far below f16's range (median tensor ~1e-9)
 * and the gradient convs' f16 operands lose them; trained networks (distillation, fine-tuning) are fine.
 * Scaling those operands into range comes before an "on where there is a tile" default.
 */
export function chooseF16(env: string | undefined, facts: DeviceFacts | null): { tile: F16Tile | null; on: boolean } {
  if (env !== undefined && env !== '' && env !== '0' && env !== '1') throw new Error(`DI_F16 must be 1 or 0, not '${env}'`);
  const features = new Set(facts?.features ?? []);
  const tile = facts && F16_FEATURES.every((f) => features.has(f)) ? chooseF16Tile(facts.subgroupMatrixConfigs, facts.subgroupMinSize, facts.subgroupMaxSize) : null;
  if (env === '1' && !tile) throw new Error(`DI_F16=1 but this WebGPU device has no f16 subgroup matrices (features: ${[...features].join(', ') || 'none'}; configs: ${JSON.stringify(facts?.subgroupMatrixConfigs ?? [])})`);
  return { tile, on: env === '1' };
}

/**
 * Turns the f16 subgroup-matrix convs on or off for programs compiled from now on (the jit compile cache
 * keys on it). Throws where the device has no f16 subgroup matrices.
 */
export function setF16Kernels(on: boolean): void {
  if (on && !hook().f16Tile) throw new Error('f16 conv kernels: this WebGPU device has no f16 subgroup matrices');
  hook().f16 = on;
}

/** The f16 subgroup-matrix shape of the device found by `installCustomKernels` (null: none), whether or not it is switched on. */
export function f16KernelTile(): F16Tile | null {
  return hook().f16Tile ?? null;
}

/** Which conv kernels jitted programs compile to now: jax-js's ('stock'), ours in f32, or ours on f16 subgroup matrices. */
export function convKernelPath(): 'stock' | 'f32' | 'f16' {
  const h = hook();
  return !h.enabled ? 'stock' : h.f16 && h.f16Tile ? 'f16' : 'f32';
}

/** Turns our kernels on or off for programs compiled from now on (tests compare both). */
export function setCustomKernels(on: boolean): void {
  hook().enabled = on;
}

/** Whether programs compiled now use our kernels. */
export function customKernelsEnabled(): boolean {
  return hook().enabled;
}
