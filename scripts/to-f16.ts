/**
 * Rewrites a weights file with F16 storage (same tensors, same metadata plus `storage: "F16"`), to
 * ship models small: loaders convert back to f32.
 *   npx tsx scripts/to-f16.ts <in> <out> ['{"extra": "metadata"}']   (the JSON is merged into the metadata)
 */
import '../src/platform/node.js';
import { initDevice } from '../src/platform/devices.js';
import { loadParams, readMeta, saveParams } from '../src/io/params.js';

const [src, dst, extra] = process.argv.slice(2);
if (!src || !dst) {
  console.error('usage: npx tsx scripts/to-f16.ts <in.safetensors> <out.safetensors>');
  process.exit(2);
}
await initDevice('wasm');
const { meta } = readMeta(src);
const { params } = await loadParams(src);
await saveParams(dst, params, { ...(meta as object), ...(extra ? JSON.parse(extra) : {}), storage: 'F16' }, { dtype: 'F16' });
console.log(`wrote ${dst}`);
process.exit(0);
