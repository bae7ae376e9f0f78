/**
 * Rewrites a weights file with F16 storage (same tensors, same metadata plus `storage: "F16"`), to
 * ship models small: loaders convert back to f32. Usage: npx tsx scripts/to-f16.ts <in> <out>
 */
import '../src/platform/node.js';
import { initDevice } from '../src/platform/devices.js';
import { loadParams, readMeta, saveParams } from '../src/io/params.js';

const [src, dst] = process.argv.slice(2);
if (!src || !dst) {
  console.error('usage: npx tsx scripts/to-f16.ts <in.safetensors> <out.safetensors>');
  process.exit(2);
}
await initDevice('wasm');
const { meta } = readMeta(src);
const { params } = await loadParams(src);
await saveParams(dst, params, { ...(meta as object), storage: 'F16' }, { dtype: 'F16' });
console.log(`wrote ${dst}`);
process.exit(0);
