/**
 * The browser playground's Vite config (`npm run web`, `npm run build:web` → web/dist).
 *
 * - The page imports the library as `diff-instruct`; Vite resolves it through package.json's `browser`
 *   export condition to src/browser.ts, the barrel without Node-only modules.
 * - `node-free` fails the build (and the dev server's transform) if anything still imports a Node
 *   built-in, and turns devices.ts's Node-only `import('webgpu')` (Dawn bindings) into an empty module,
 *   so the native package never reaches the bundle.
 * - `models` serves `/models/*.safetensors` from the repository's models/ folder (or `DI_MODELS_DIR`,
 *   which the browser tests point at a temp folder) in dev and preview, and copies the files the
 *   page uses (PAGE_MODELS) into the static build.
 * - Cross-origin isolation headers give Wasm its SharedArrayBuffer threads (jax-js uses them when present).
 */
import { builtinModules } from 'node:module';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Connect, type Plugin } from 'vite';

const webDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(webDir, '..');
/** Files the page fetches (models/<name>.safetensors): the gallery's two models, and the in-tab distillation's teacher, classifier and reference statistics. */
export const PAGE_MODELS = ['fmnist-cond-onestep', 'fmnist-cond', 'classifier-fmnist', 'ref-fmnist-test'];

const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const WEBGPU_STUB = '\0diff-instruct:webgpu-node-only';

function nodeFree(): Plugin {
  return {
    name: 'diff-instruct:node-free',
    enforce: 'pre',
    resolveId(source, importer) {
      if (source === 'webgpu') return WEBGPU_STUB;
      if (NODE_BUILTINS.has(source)) {
        this.error(`Node built-in '${source}' imported by ${importer ?? '?'}: the page must only reach browser-safe modules (src/browser.ts)`);
      }
      return null;
    },
    load(id) {
      // devices.ts imports 'webgpu' only when running in Node; in a page it uses navigator.gpu.
      if (id === WEBGPU_STUB) return `export const globals = {};\nexport function create() { throw new Error("the 'webgpu' package (Dawn for Node) is not available in a browser"); }\n`;
      return null;
    },
  };
}

function modelsDir(): string {
  return resolve(process.env.DI_MODELS_DIR ?? join(repoDir, 'models'));
}

/** Serves GET /models/<file>.safetensors from `modelsDir()`; 404 (not the SPA fallback) when absent. */
const serveModels: Connect.NextHandleFunction = (req, res, next) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const m = /^(?:.*\/)?models\/([A-Za-z0-9][A-Za-z0-9._-]*\.safetensors)$/.exec(url.pathname);
  if (!m) return next();
  const file = join(modelsDir(), m[1]);
  if (!existsSync(file) || !statSync(file).isFile()) {
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain');
    res.end(`model file not found: models/${m[1]}`);
    return;
  }
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(statSync(file).size));
  res.setHeader('Cache-Control', 'no-cache');
  createReadStream(file).pipe(res);
};

function models(): Plugin {
  return {
    name: 'diff-instruct:models',
    configureServer(server) {
      server.middlewares.use(serveModels);
    },
    configurePreviewServer(server) {
      server.middlewares.use(serveModels);
    },
    generateBundle() {
      for (const name of PAGE_MODELS) {
        const file = join(modelsDir(), `${name}.safetensors`);
        if (existsSync(file)) this.emitFile({ type: 'asset', fileName: `models/${name}.safetensors`, source: readFileSync(file) });
      }
    },
  };
}

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: webDir,
  // Relative asset URLs: the static build works from any folder of any static host.
  base: './',
  plugins: [nodeFree(), models()],
  // The training and sampling workers (web/src/*-worker.ts) import the library as the page does.
  worker: { format: 'es', plugins: () => [nodeFree()] },
  build: {
    outDir: join(webDir, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    // jax-js alone is ~450 kB minified; one chunk is fine for a demo page.
    chunkSizeWarningLimit: 1500,
  },
  server: { headers: isolation, fs: { allow: [repoDir] } },
  preview: { headers: isolation },
});
