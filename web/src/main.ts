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
import { urlSettings } from './url-settings.js';

/**
 * The device: a hardware WebGPU adapter when the browser has one; otherwise WebAssembly, which is also
 * what runs when the browser's WebGPU is a software rasteriser (SwiftShader ran the 2-D toy ~2.5–3.5×
 * slower than 2-thread Wasm here). `?device=wasm` and `?device=webgpu` force one; WebGPU asked for but
 * not there, or failing to start, falls back to WebAssembly and says so.
 */
async function bringUp(want: 'auto' | 'wasm' | 'webgpu'): Promise<{ info: DeviceInfo; notice: string }> {
  if (want === 'wasm') return { info: await initDevice('wasm'), notice: 'Running on WebAssembly (CPU) because the page was asked to (?device=wasm).' };
  const gpu = (globalThis as any).navigator?.gpu;
  const adapter = await gpu?.requestAdapter?.().catch(() => null);
  const why = gpu ? 'no WebGPU adapter: it is turned off in this browser, or there is no GPU it can use' : 'this browser has no WebGPU';
  if (!adapter) {
    const asked = want === 'webgpu' ? 'The page was asked for WebGPU (?device=webgpu), but it' : 'WebGPU';
    return { info: await initDevice('wasm'), notice: `${asked} is not available (${why}): running on WebAssembly on the CPU instead.` };
  }
  if (want === 'webgpu') {
    try {
      return { info: await initDevice('webgpu'), notice: '' };
    } catch (e) {
      return { info: await initDevice('wasm'), notice: `WebGPU could not be started (${(e as Error).message}): running on WebAssembly on the CPU instead.` };
    }
  }
  const info = await initDevice('auto');
  if (info.backend === 'wasm') {
    return { info, notice: "This browser's WebGPU is a software rasteriser (no hardware GPU), which runs slower than WebAssembly: running on WebAssembly. ?device=webgpu uses it anyway." };
  }
  return { info, notice: '' };
}

/** Mounts one section; an error in it is shown in that section and never stops the others. */
async function mountSection(root: HTMLElement, name: string, mount: (root: HTMLElement) => Promise<void> | void): Promise<void> {
  try {
    await mount(root);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    pageState.sectionErrors.push(`${name}: ${msg}`);
    root.append(Object.assign(document.createElement('div'), { className: 'error', role: 'alert', textContent: `This section stopped with an error: ${msg}` }));
    console.error(e);
  }
}

async function main(): Promise<void> {
  const device = document.getElementById('device')!;
  const notice = document.getElementById('notice')!;
  const settings = urlSettings();
  const urlNote = document.getElementById('url-error')!;
  urlNote.textContent = settings.problems.join('\n');
  urlNote.hidden = settings.problems.length === 0;
  pageState.urlProblems = settings.problems;
  const t0 = performance.now();
  try {
    const { info, notice: text } = await bringUp(settings.page.device);
    pageState.backend = info.backend;
    pageState.deviceName = info.name;
    device.dataset.backend = info.backend;
    device.textContent = info.backend === 'webgpu' ? `Backend: WebGPU — ${info.name}` : `Backend: ${info.name}`;
    if (info.backend === 'webgpu' && info.software) {
      // Measured here: Chromium's SwiftShader ran the 2-D toy ~3.5× slower than 2-thread Wasm.
      device.append(' — a software GPU: correct but slow; ', Object.assign(document.createElement('a'), { href: '?device=wasm', textContent: 'WebAssembly may be faster' }));
    }
    const notes = [text];
    if (info.backend === 'wasm' && !globalThis.crossOriginIsolated) {
      // without COOP/COEP the browser withholds SharedArrayBuffer, so jax-js runs Wasm on one thread
      notes.push(
        'This page is not cross-origin isolated (its server sends no Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp headers), ' +
          'so WebAssembly runs on 1 thread: training is slower, and the page stays responsive (it trains in workers). README says which headers to serve.',
      );
    }
    pageState.isolated = globalThis.crossOriginIsolated === true;
    if (notes.some(Boolean)) {
      notice.textContent = notes.filter(Boolean).join(' ');
      notice.hidden = false;
    }
  } catch (e) {
    device.textContent = `No compute device could be started: ${(e as Error).message}`;
    device.dataset.backend = 'none';
    pageState.error = (e as Error).message;
    return;
  }
  pageState.deviceMs = performance.now() - t0;
  const sections = [
    mountSection(document.getElementById('playground')!, 'live 2-D distillation', mountPlayground),
    mountSection(document.getElementById('distill')!, 'image distillation', mountImageDistill),
    mountSection(document.getElementById('gallery')!, 'gallery', mountGallery),
  ];
  await sections[0];
  pageState.ready = true;
  document.body.dataset.ready = '1';
  await Promise.all(sections);
}

void main();
