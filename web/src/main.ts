/**
 * The playground page: brings up jax-js on WebGPU (falling back to Wasm, and saying so), then mounts the
 * live 2-D distillation and the Fashion-MNIST gallery. `?device=wasm` forces the CPU path.
 */
import './style.css';
import { initDevice, type DeviceInfo } from 'diff-instruct';
import { mountPlayground } from './playground.js';
import { mountGallery } from './gallery.js';
import { pageState } from './state.js';

async function bringUp(): Promise<{ info: DeviceInfo; notice: string }> {
  const want = new URLSearchParams(location.search).get('device');
  if (want === 'wasm') return { info: await initDevice('wasm'), notice: 'Running on WebAssembly (CPU) because the page was asked to (?device=wasm).' };
  try {
    return { info: await initDevice('webgpu'), notice: '' };
  } catch (e) {
    const why = (globalThis as any).navigator?.gpu ? 'this browser exposes WebGPU but found no usable adapter' : 'this browser has no WebGPU';
    console.warn('WebGPU unavailable:', e);
    return { info: await initDevice('wasm'), notice: `WebGPU is not available (${why}): running on WebAssembly on the CPU instead, which is slower.` };
  }
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
  void mountGallery(document.getElementById('gallery')!);
}

void main();
