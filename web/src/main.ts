/**
 * The playground page: brings up jax-js on WebGPU (falling back to Wasm, and saying so), then mounts the
 * live 2-D distillation and the Fashion-MNIST gallery. `?device=wasm` forces the CPU path.
 */
import './style.css';
import { initDevice, type DeviceInfo } from 'diff-instruct';
import { mountPlayground } from './playground.js';
import { mountGallery } from './gallery.js';
import { mountImageDistill } from './distill-images.js';
import { pageState } from './state.js';

/**
 * The device: a hardware WebGPU adapter when the browser has one; otherwise WebAssembly, which is also
 * what runs when the browser's WebGPU is a software rasteriser (SwiftShader ran the 2-D toy ~2.5–3.5×
 * slower than 2-thread Wasm here). `?device=wasm` and `?device=webgpu` force one.
 */
async function bringUp(): Promise<{ info: DeviceInfo; notice: string }> {
  const want = new URLSearchParams(location.search).get('device');
  if (want === 'wasm') return { info: await initDevice('wasm'), notice: 'Running on WebAssembly (CPU) because the page was asked to (?device=wasm).' };
  if (want === 'webgpu') return { info: await initDevice('webgpu'), notice: '' };
  const adapter = await (globalThis as any).navigator?.gpu?.requestAdapter?.().catch(() => null);
  if (!adapter) {
    const why = (globalThis as any).navigator?.gpu ? 'no WebGPU adapter: it is turned off in this browser, or there is no GPU it can use' : 'this browser has no WebGPU';
    return { info: await initDevice('wasm'), notice: `WebGPU is not available (${why}): running on WebAssembly on the CPU instead.` };
  }
  const info = await initDevice('auto');
  if (info.backend === 'wasm') {
    return { info, notice: "This browser's WebGPU is a software rasteriser (no hardware GPU), which runs slower than WebAssembly: running on WebAssembly. ?device=webgpu uses it anyway." };
  }
  return { info, notice: '' };
}

async function main(): Promise<void> {
  const device = document.getElementById('device')!;
  const notice = document.getElementById('notice')!;
  const t0 = performance.now();
  try {
    const { info, notice: text } = await bringUp();
    pageState.backend = info.backend;
    pageState.deviceName = info.name;
    device.dataset.backend = info.backend;
    device.textContent = info.backend === 'webgpu' ? `Backend: WebGPU — ${info.name}` : `Backend: ${info.name}`;
    if (info.backend === 'webgpu' && info.software) {
      // Measured here: Chromium's SwiftShader ran the 2-D toy ~3.5× slower than 2-thread Wasm.
      device.append(' — a software GPU: correct but slow; ', Object.assign(document.createElement('a'), { href: '?device=wasm', textContent: 'WebAssembly may be faster' }));
    }
    if (text) {
      notice.textContent = text;
      notice.hidden = false;
    }
  } catch (e) {
    device.textContent = `No compute device could be started: ${(e as Error).message}`;
    device.dataset.backend = 'none';
    pageState.error = (e as Error).message;
    return;
  }
  pageState.deviceMs = performance.now() - t0;
  await mountPlayground(document.getElementById('playground')!);
  pageState.ready = true;
  document.body.dataset.ready = '1';
  mountImageDistill(document.getElementById('distill')!);
  void mountGallery(document.getElementById('gallery')!);
}

void main();
