/**
 * The f16 subgroup-matrix conv kernels (conv-gemm-f16.ts) and the switch that picks them
 * (custom-kernels.ts `chooseF16`), on what a CPU machine can check: tile choice from adapter configs,
 * plans identical to the f32 kernel's apart from the inner product, the switch's decision for adapters
 * with and without f16 subgroup matrices, that Dawn's WGSL compiler accepts every shader (on Dawn's
 * null backend, which offers the features but runs nothing), and that jax-js's device, patched
 * ('device-features'), has the features there. Running them needs a GPU with subgroup
 * matrices: benchmarks/gpu/f16-check.mjs compares them with the f32 kernels there.
 */
import '../../platform/node.js';
import { getWebGPUDevice, init } from '@jax-js/jax';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseF16, convKernelPath, f16KernelTile, installCustomKernels, setF16Kernels } from '../custom-kernels.js';
import { convGemmPlan, GEMM_TILES, gemmSizes } from './conv-gemm.js';
import { compileErrors, nullDevice } from '../../testing/dawn-devices.js';
import { chooseF16Tile, convGemmF16Plan, F16_SHAPES, subgroupGrid, trainingConvSpecs, type F16Tile, type SubgroupMatrixConfig } from './conv-gemm-f16.js';

const cfg = (M: number, N: number, K: number, componentType = 'f16', resultComponentType = 'f32'): SubgroupMatrixConfig => ({ componentType, resultComponentType, M, N, K });
const NV8: F16Tile = { m: 8, n: 8, k: 8, subgroupSize: 32 };
const T16: F16Tile = { m: 16, n: 16, k: 16, subgroupSize: 32 };
const F16_FEATURES = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'];

// SongUNet fmnist-small / fmnist-base layers at batch 2 (the kernels' shapes do not depend on B beyond N
// and the split count): [C, O, H, k], plus odd ones (1 and 3 channels, 13×13, 1×1 qkv).
const LAYERS: [number, number, number, number][] = [
  [1, 32, 28, 3],
  [32, 1, 28, 3],
  [64, 64, 14, 3],
  [128, 64, 28, 1],
  [128, 384, 7, 1],
  [3, 5, 13, 3],
];

test('chooseF16Tile: the largest f16 → f32 config the workgroup tiles hold, only with a fixed subgroup size', () => {
  assert.deepEqual(chooseF16Tile([cfg(8, 8, 8)], 32, 32), NV8);
  assert.deepEqual(chooseF16Tile([cfg(8, 8, 8), cfg(16, 16, 16), cfg(16, 16, 16, 'f16', 'f16')], 32, 32), T16);
  assert.equal(chooseF16Tile([cfg(16, 16, 16, 'f16', 'f16'), cfg(8, 8, 8, 'f32', 'f32')], 32, 32), null, 'no f16 → f32 config');
  assert.equal(chooseF16Tile([cfg(8, 8, 8)], 16, 64), null, 'a subgroup size that varies');
  assert.equal(chooseF16Tile([cfg(8, 8, 8)], 256, 256), null, 'subgroups wider than a workgroup');
  assert.equal(chooseF16Tile([cfg(32, 32, 8)], 32, 32), null, '32-row matrices do not fit the 16-row tile');
  assert.equal(chooseF16Tile([], 32, 32), null);
  assert.equal(chooseF16Tile(undefined, undefined, undefined), null);
  // 4 subgroups of 32: 2×2 regions of 32×32 in the 64-row tile, 1×4 of 16×16 in the 16-row one
  assert.deepEqual(subgroupGrid({ BM: 64, BN: 64, BK: 16, threads: 128 }, NV8), { rows: 2, cols: 2, rm: 32, rn: 32 });
  assert.deepEqual(subgroupGrid({ BM: 16, BN: 64, BK: 16, threads: 128 }, T16), { rows: 1, cols: 4, rm: 16, rn: 16 });
});

test('chooseF16: opt-in (DI_F16=1) and only where the device has f16 subgroup matrices', () => {
  const nvidia = { features: ['timestamp-query', ...F16_FEATURES], subgroupMatrixConfigs: [cfg(8, 8, 8)], subgroupMinSize: 32, subgroupMaxSize: 32 };
  const llvmpipe = { features: [], subgroupMatrixConfigs: [], subgroupMinSize: 4, subgroupMaxSize: 4 };
  // a browser on NVIDIA: f16 blocklisted, no subgroup matrices
  const browser = { features: ['subgroups', 'timestamp-query'], subgroupMinSize: 32, subgroupMaxSize: 32 };
  // a device created without the patch 'device-features': the adapter's configs but not the features
  const unpatched = { ...nvidia, features: ['shader-f16', 'timestamp-query'] };
  assert.deepEqual(chooseF16(undefined, nvidia), { tile: NV8, on: false }, 'opt-in: at initialisation gradients fall below f16 range');
  assert.deepEqual(chooseF16('0', nvidia), { tile: NV8, on: false });
  assert.deepEqual(chooseF16('1', nvidia), { tile: NV8, on: true });
  for (const facts of [llvmpipe, browser, unpatched, null]) {
    assert.deepEqual(chooseF16(undefined, facts), { tile: null, on: false });
    assert.deepEqual(chooseF16('0', facts), { tile: null, on: false });
    assert.throws(() => chooseF16('1', facts), /^Error: DI_F16=1 but this WebGPU device has no f16 subgroup matrices/);
  }
  assert.throws(() => chooseF16('yes', nvidia), /DI_F16 must be 1 or 0, not 'yes'/);
});

test('f16 plans: the f32 plan (splits, scratch, grids, staging) with the inner product on subgroup matrices', () => {
  for (const [C, O, H, k] of LAYERS)
    for (const [kind, spec] of Object.entries(trainingConvSpecs(128, C, H, H, O, k))) {
      const f32 = convGemmPlan(spec);
      for (const tile of [NV8, T16]) {
        const f16 = convGemmF16Plan(spec, tile);
        const what = `${kind} C${C} O${O} ${H}×${H} k${k} tile ${tile.m}`;
        assert.equal(f16.splits, f32.splits, what);
        assert.deepEqual(f16.scratchBytes, f32.scratchBytes, what);
        assert.deepEqual(f16.shaders.map((s) => s.passes), f32.shaders.map((s) => s.passes), what);
        if (f32.shaders[1]) assert.equal(f16.shaders[1].code, f32.shaders[1].code, `${what}: the split-K sum is f32's`);
        const code = f16.shaders[0].code;
        const BM = code.includes('array<f16, 384>') ? 16 : 64; // As [16][BM + 8]
        const mma = (GEMM_TILES.BK / tile.k) * ((BM * GEMM_TILES.BN) / (tile.m * tile.n) / (GEMM_TILES.threads / tile.subgroupSize));
        assert.equal(code.split('subgroupMatrixMultiplyAccumulate(').length - 1, mma, `${what}: products per K-tile`);
        assert.equal(code.split('= f16(v').length - 1, (BM * GEMM_TILES.BK + GEMM_TILES.BN * GEMM_TILES.BK) / GEMM_TILES.threads, `${what}: every staged load rounded to f16`);
        assert.ok(!/\bfma\(/.test(code), what);
      }
    }
});

const found = await nullDevice(F16_FEATURES as GPUFeatureName[]);
const device = typeof found === 'string' ? found : found.device;
const dawn = typeof found === 'string' ? null : found.gpu;

test('Dawn accepts the f16 WGSL (null backend: compiled and validated, not run)', { skip: typeof device === 'string' ? device : false }, async () => {
  const dev = device as GPUDevice;
  let compiled = 0;
  for (const [C, O, H, k] of LAYERS)
    for (const [kind, spec] of Object.entries(trainingConvSpecs(128, C, H, H, O, k)))
      for (const tile of [NV8, T16])
        for (const shape of Object.keys(F16_SHAPES)) {
          if (shape === 'm128n128' && tile === T16 && gemmSizes(spec).M > 16) {
            // 8 subgroups' 16×16 result blocks and the staged tiles exceed WebGPU's 16 KiB: refused when planned
            assert.throws(() => convGemmF16Plan(spec, tile, undefined, shape), /^Error: conv-gemm: a 128×128×16 tile of 256 threads cannot be staged \(16896 bytes of workgroup memory, at most 16384\)$/);
            compiled++;
            continue;
          }
          const code = convGemmF16Plan(spec, tile, undefined, shape).shaders[0].code;
          assert.deepEqual(await compileErrors(dev, code), [], `${kind} C${C} O${O} k${k} tile ${tile.m} ${shape}`);
          compiled++;
        }
  assert.equal(compiled, LAYERS.length * 3 * 2 * Object.keys(F16_SHAPES).length);
});

test("jax-js's device on Dawn's null adapter has the features (patch 'device-features'); no configs there, so the f32 kernels stay", { skip: typeof device === 'string' ? device : false }, async () => {
  (globalThis as any).navigator = { gpu: dawn, userAgent: 'node' };
  assert.ok((await init('webgpu')).includes('webgpu'));
  const features = getWebGPUDevice().features;
  for (const f of F16_FEATURES) assert.ok(features.has(f), `jax-js's device lacks ${f}`);
  delete process.env.DI_F16;
  installCustomKernels();
  // Dawn's null adapter lists no subgroupMatrixConfigs: nothing to pick, so no f16 kernels
  assert.equal(f16KernelTile(), null);
  assert.equal(convKernelPath(), 'f32');
  assert.throws(() => setF16Kernels(true), /no f16 subgroup matrices/);
});
