/**
 * diff-instruct's library barrel: what the CLI, the web page and users import. Namespaces group the
 * layers of docs/ARCHITECTURE.md; the common entry points are also exported flat. Everything that runs
 * in a browser comes from src/browser.ts (the `browser` export condition); this file adds the Node-only
 * parts. `safetensors` and `params` here are the file-level supersets of the browser's in-memory ones
 * (a module's own exports take precedence over `export *`).
 */
import './platform/node.js';

export * from './browser.js';

export * as config from './config/config.js';

export * as safetensors from './io/safetensors.js';
export * as params from './io/params.js';
export * as png from './io/png.js';
export * as scatter from './io/scatter.js';

export * as data from './data/images.js';
