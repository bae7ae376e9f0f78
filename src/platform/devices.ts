/**
 * Compute devices: bring up jax-js on WebGPU (Dawn, through the `webgpu` npm package in Node, or the
 * browser's `navigator.gpu`) or Wasm, list what is available, and pick one for `--device auto`.
 *
 * Dawn setup in Node:
 *  - a real GPU (Vulkan): flags `enable-dawn-features=<DAWN_TOGGLES>`; on NVIDIA the toggles
 *    `allow_unsafe_apis,vulkan_enable_f16_on_nvidia` expose shader-f16 and f16 subgroup matrices;
 *    `disable-dawn-features=<DAWN_DISABLED_TOGGLES>` (default `timestamp_quantization`: exact GPU timings).
 *  - no GPU (CPU-only Linux): Dawn's OpenGL ES backend on Mesa llvmpipe (`backend=opengles`,
 *    `EGL_PLATFORM=surfaceless`, adapter `featureLevel: 'compatibility'`). Slow but real WebGPU.
 */
import './node.js';
import { defaultDevice, getWebGPUDevice, init } from '@jax-js/jax';
import { isNode, settleWasmThreads, wasmThreads } from './node.js';
import { batchSubmits } from './submit-batching.js';
import { installExecutor } from '../engine/executor.js';
import { installCustomKernels } from '../engine/custom-kernels.js';
import { installReduceSplit } from '../engine/reduce-split.js';

// jax-js is evaluated by now: if it was imported before node.ts, its Wasm stays single-threaded
settleWasmThreads();

export const DEVICE_CHOICES = ['auto', 'webgpu', 'wasm'] as const;
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];
export type Backend = 'webgpu' | 'wasm';

export interface DeviceInfo {
  backend: Backend;
  /** Adapter or CPU description, e.g. "NVIDIA H200 (vulkan)" or "llvmpipe (opengles, software)". */
  name: string;
  /** True when WebGPU runs on a software rasteriser (Mesa llvmpipe): correct but slow. */
  software: boolean;
  features: string[];
}

export const DEFAULT_DAWN_TOGGLES = 'allow_unsafe_apis,vulkan_enable_f16_on_nvidia';

interface GpuProbe {
  gpu: GPU;
  adapter: GPUAdapter;
  info: DeviceInfo;
}

let probedHardware: Promise<GpuProbe | null> | null = null;
let probed: Promise<GpuProbe | null> | null = null;
let active: DeviceInfo | null = null;

function describeAdapter(adapter: GPUAdapter, via: string): DeviceInfo {
  const i = adapter.info;
  const label = [i.device, i.description, i.vendor].find((s) => s && s.length > 0) ?? 'unknown adapter';
  const software = /llvmpipe|swiftshader|lavapipe|softpipe/i.test(`${i.description} ${i.device} ${i.architecture}`);
  return { backend: 'webgpu', name: `${label} (${via}${software ? ', software' : ''})`, software, features: [...adapter.features] };
}

/** Wraps a GPU object so every requestAdapter call also carries `extra` (jax-js passes only powerPreference). */
function withAdapterOptions(gpu: GPU, extra: GPURequestAdapterOptions): GPU {
  return new Proxy(gpu, {
    get(target, prop) {
      if (prop === 'requestAdapter') {
        return (opts?: GPURequestAdapterOptions) => target.requestAdapter({ ...opts, ...extra });
      }
      const v = (target as any)[prop];
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * Whether the Vulkan loader can be found (Linux: libvulkan.so.1 in LD_LIBRARY_PATH or the usual library
 * folders). Without it Dawn's Vulkan backend cannot start and says so on stderr in a two-line
 * "Warning: Couldn't load Vulkan … at operator() (…BackendVk.cpp…)" that reads like a crash, so it is
 * not asked. Other systems, and `DI_PROBE_VULKAN=1` (a loader elsewhere): always asked.
 */
function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux' || process.env.DI_PROBE_VULKAN === '1') return true;
  const { existsSync } = process.getBuiltinModule?.('node:fs') ?? ({} as typeof import('node:fs'));
  if (!existsSync) return true;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib'];
  return dirs.some((d) => existsSync(`${d}/libvulkan.so.1`));
}

async function loadDawn(): Promise<any> {
  try {
    const mod = await import('webgpu');
    Object.assign(globalThis, mod.globals);
    return mod;
  } catch {
    return null;
  }
}

/**
 * Dawn toggles turned off by default: `timestamp_quantization` rounds timestamp queries to 65,536 ns
 * (a browser's defence against timing attacks), which made the per-kernel profile of a step
 * (`bench --parts profile`) report most kernels as 0 or 65.5 µs (benchmarks/results/2026-12-07-h100-engine-late.json).
 * `DAWN_DISABLED_TOGGLES` replaces the list ('' keeps Dawn's defaults).
 */
export const DEFAULT_DAWN_DISABLED_TOGGLES = 'timestamp_quantization';

function dawnFlags(): string[] {
  const toggles = process.env.DAWN_TOGGLES ?? DEFAULT_DAWN_TOGGLES;
  const disabled = process.env.DAWN_DISABLED_TOGGLES ?? DEFAULT_DAWN_DISABLED_TOGGLES;
  return [...(toggles ? [`enable-dawn-features=${toggles}`] : []), ...(disabled ? [`disable-dawn-features=${disabled}`] : [])];
}

/**
 * A real GPU through Dawn's default backend (Vulkan on Linux), or null. `DI_DAWN_BACKEND=null` takes
 * Dawn's null backend instead: every WebGPU call is made and validated but no kernel runs (results are
 * meaningless), which measures the host's share of a step on any machine (benchmarks/README.md).
 */
async function probeNodeHardwareGpu(): Promise<GpuProbe | null> {
  const backend = process.env.DI_DAWN_BACKEND;
  if (!backend && !vulkanLoaderPresent()) return null;
  const mod = await loadDawn();
  if (!mod) return null;
  try {
    const gpu: GPU = mod.create([...dawnFlags(), ...(backend ? [`backend=${backend}`] : [])]);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) return { gpu, adapter, info: describeAdapter(adapter, backend ? `${backend}, host only: kernels do not run` : 'vulkan') };
  } catch {
    /* no hardware GPU */
  }
  return null;
}

/**
 * Software WebGPU: Dawn's OpenGL ES backend on Mesa llvmpipe. Dawn prints two "Warning: max…
 * artificially reduced" lines when it opens this adapter (its own notes on GL limits, harmless); only
 * `--device webgpu`, `devices` and the tests open it, never `auto`.
 */
async function probeNodeSoftwareGpu(): Promise<GpuProbe | null> {
  const mod = await loadDawn();
  if (!mod) return null;
  process.env.EGL_PLATFORM ??= 'surfaceless';
  try {
    const gpu: GPU = mod.create([...dawnFlags(), 'backend=opengles']);
    const opts: GPURequestAdapterOptions = { featureLevel: 'compatibility' } as GPURequestAdapterOptions;
    const adapter = await gpu.requestAdapter(opts);
    if (adapter) return { gpu: withAdapterOptions(gpu, opts), adapter, info: describeAdapter(adapter, 'opengles') };
  } catch {
    /* no WebGPU at all */
  }
  return null;
}

async function probeBrowserGpu(): Promise<GpuProbe | null> {
  const gpu: GPU | undefined = (globalThis as any).navigator?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  return adapter ? { gpu, adapter, info: describeAdapter(adapter, 'browser') } : null;
}

/**
 * Finds a WebGPU adapter once per process (Dawn's native backend in Node, navigator.gpu in a browser).
 * `{ software: false }` asks for hardware only (what `auto` can pick): in Node it never opens Dawn's
 * OpenGL ES backend, so a CPU machine prints none of Dawn's warnings.
 */
export function probeGpu({ software = true }: { software?: boolean } = {}): Promise<GpuProbe | null> {
  if (!isNode) return (probed ??= probeBrowserGpu());
  probedHardware ??= probeNodeHardwareGpu();
  if (!software) return probedHardware.then((p) => (p && !p.info.software ? p : null));
  probed ??= probedHardware.then((p) => p ?? probeNodeSoftwareGpu());
  return probed;
}

function wasmInfo(): DeviceInfo {
  // threads: jax-js's Wasm worker pool (node-worker.ts in Node, DI_WASM_THREADS); 1 = main thread only
  // in a page, jax-js starts its pool only with SharedArrayBuffer (a cross-origin isolated page): else 1
  const threads = isNode ? wasmThreads : typeof SharedArrayBuffer === 'undefined' ? 1 : Number((globalThis as any).navigator?.hardwareConcurrency) || 1;
  return { backend: 'wasm', name: `WebAssembly (CPU, ${threads} thread${threads === 1 ? '' : 's'})`, software: false, features: [] };
}

/** Every device this process can use, WebGPU first when present. */
export async function listDevices(): Promise<DeviceInfo[]> {
  const out: DeviceInfo[] = [];
  const gpu = await probeGpu();
  if (gpu) out.push(gpu.info);
  out.push(wasmInfo());
  return out;
}

/**
 * What `auto` picks: a hardware WebGPU adapter when there is one; otherwise Wasm (multithreaded through
 * node-worker.ts), never a software adapter. WebGPU on Mesa llvmpipe trains our small conv nets several
 * times faster than Wasm, but llvmpipe stops every shader loop after 65,535 iterations in total per
 * invocation (Mesa's compile-time LP_MAX_TGSI_LOOP_ITERATIONS, shared by all loops of a shader, no switch),
 * so reductions longer than that come out silently wrong: a jitted sum of 10^7 ones gives 4,194,240, an
 * eager matmul with K = 70,000 gives 65,535, an eager conv weight gradient over 100,352 pixels gives
 * 65,535. Correctness beats speed. benchmarks/README.md, "auto device choice", has the measurements;
 * `--device webgpu` still selects llvmpipe explicitly, with a warning. Since the jax-js patch
 * 'reduce-split' every jax-js reduction loop stays under 60,000 iterations and those probes are exact
 * (src/engine/long-reductions.test.ts); measured again on our SongUNet steps (2026-12-07), Wasm is
 * 2.4–7× faster than llvmpipe there (Dawn's GL backend costs ~1–2 ms of CPU per dispatch and a step is
 * ~1,100 dispatches: benchmarks/README.md, "Revisited on the real networks"), so `auto` takes Wasm.
 */
export function autoChoice(devices: DeviceInfo[]): DeviceInfo {
  const hw = devices.find((d) => d.backend === 'webgpu' && !d.software);
  return hw ?? devices.find((d) => d.backend === 'wasm')!;
}

/** Throws a one-line error unless `choice` is one of DEVICE_CHOICES (what `--dry-run` checks). */
export function checkDeviceChoice(choice: string): asserts choice is DeviceChoice {
  if (!(DEVICE_CHOICES as readonly string[]).includes(choice)) {
    throw new Error(`unknown device '${choice}': expected one of ${DEVICE_CHOICES.join(', ')}`);
  }
}

/**
 * Initialises jax-js on the requested device and makes it the default for new arrays.
 * Throws a one-line error for an unknown or unavailable device.
 */
export async function initDevice(choice: string = 'auto'): Promise<DeviceInfo> {
  checkDeviceChoice(choice);
  if (active && (choice === 'auto' || choice === active.backend)) return active;
  let info: DeviceInfo;
  if (choice === 'wasm') {
    info = wasmInfo();
  } else {
    // auto never picks a software adapter, so it does not open one (nor print Dawn's warnings about it)
    const hardware = choice === 'auto' ? await probeGpu({ software: false }) : null;
    const devices = choice === 'auto' ? [...(hardware ? [hardware.info] : []), wasmInfo()] : await listDevices();
    info = choice === 'auto' ? autoChoice(devices) : devices.find((d) => d.backend === choice)!;
    if (!info) throw new Error(`device '${choice}' is not available here (found: ${devices.map((d) => d.name).join('; ')})`);
    if (info.software) {
      console.warn(
        `diff-instruct: warning: ${info.name} is a software adapter: it stops shader loops after 65,535 iterations (our kernels and jax-js's reductions, patched, stay under that; a shader that does not is silently wrong); --device wasm is the tested CPU path`,
      );
    }
  }
  const g = globalThis as any;
  if (info.backend === 'webgpu') {
    const probe = (await probeGpu())!;
    if (isNode) {
      // jax-js reads navigator.gpu inside init(); Node 20 has no navigator
      const nav = g.navigator ?? {};
      try {
        Object.defineProperty(g, 'navigator', { value: { ...nav, gpu: probe.gpu, userAgent: 'node' }, configurable: true, writable: true });
      } catch {
        g.navigator = { gpu: probe.gpu, userAgent: 'node' };
      }
    }
  } else if (isNode && typeof g.navigator === 'undefined') {
    g.navigator = { hardwareConcurrency: wasmThreads }; // jax-js sized its Wasm pool at import time: node-worker.ts sets this first
  }
  const ok = await init(info.backend);
  if (!ok.includes(info.backend)) throw new Error(`device '${info.backend}' failed to initialise`);
  if (info.backend === 'webgpu') useWebGPUEngine(info.software);
  defaultDevice(info.backend);
  active = info;
  return info;
}

/**
 * How many steps a trainer may leave unread (results read that many steps late). WebGPU: 4, so the
 * host prepares the next steps while the GPU runs (src/distill/trainer.ts has the measurement). Wasm:
 * 0, since its kernels run on the CPU when results are read, so nothing overlaps, and every unread jit
 * call holds all of its intermediate buffers: measured, one Diff-Instruct iteration of the image U-Net
 * at batch 8 held ~3.9 GB unread, and the next one hit Wasm's 4 GiB memory limit.
 */
export function stepsInFlight(): number {
  return defaultDevice() === 'wasm' ? 0 : 4;
}

/** The device chosen by the last `initDevice` call, or null before one. */
export function activeDevice(): DeviceInfo | null {
  return active;
}

/** Initialises a second backend without changing the default (tests run each numeric check on both). */
export async function initBackend(backend: Backend): Promise<boolean> {
  if (backend === 'webgpu') {
    const probe = await probeGpu();
    if (!probe) return false;
    const g = globalThis as any;
    if (isNode && !g.navigator?.gpu) {
      Object.defineProperty(g, 'navigator', { value: { ...(g.navigator ?? {}), gpu: probe.gpu, userAgent: 'node' }, configurable: true, writable: true });
    }
  } else if (isNode && typeof (globalThis as any).navigator === 'undefined') {
    (globalThis as any).navigator = {};
  }
  const ok = (await init(backend)).includes(backend);
  if (ok && backend === 'webgpu') useWebGPUEngine((await probeGpu())?.info.software ?? false);
  return ok;
}

let unbatch: (() => void) | null = null;

/**
 * Our WebGPU engine under jax-js (src/engine/): the step executor, our conv kernels in every jitted step
 * (off by default on software adapters, where they are slower), reductions split wider on hardware, and,
 * in Node, batched submits.
 */
function useWebGPUEngine(software: boolean): void {
  installExecutor();
  installCustomKernels({ software });
  installReduceSplit({ software });
  useSubmitBatching();
}

/**
 * In Node, batch jax-js's one-submit-per-kernel into one `queue.submit` per burst
 * (./submit-batching.ts; measured in benchmarks/README.md). `DI_SUBMIT_BATCH=0` turns it off.
 */
function useSubmitBatching(): void {
  if (!isNode || unbatch || process.env.DI_SUBMIT_BATCH === '0') return;
  unbatch = batchSubmits(getWebGPUDevice() as any);
}

/** Turns submit batching off (`on=false`) or on again: tests compare both paths. */
export function setSubmitBatching(on: boolean): void {
  if (!on && unbatch) {
    unbatch();
    unbatch = null;
  } else if (on && !unbatch && isNode) {
    unbatch = batchSubmits(getWebGPUDevice() as any);
  }
}
