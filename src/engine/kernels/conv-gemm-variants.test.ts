/**
 * The f32 tile variants of conv-gemm.ts (`F32_VARIANTS`, chosen by `DI_CONV_TILE`) on what `npm test`
 * can afford: every variant's shaders for the convs of SongUNet fmnist-small / fmnist-base layers (and
 * odd ones) compiled and validated by Dawn (null backend: nothing runs), the tiles' sizes and workgroup
 * memory within WebGPU's guaranteed limits, the default unchanged, and an unknown name refused. Running
 * them against a float64 conv takes ~48 s on llvmpipe: conv-gemm-variants.slow.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileErrors, nullDevice } from '../../testing/dawn-devices.js';
import { convGemmPlan, DEFAULT_F32_VARIANT, f32Choice, F32_VARIANTS } from './conv-gemm.js';
import { trainingConvSpecs } from './conv-gemm-f16.js';

// [C, O, H, k] at batch 128: 1-channel in and out (the small tile), 64/128 channels, 1×1, 13×13
const LAYERS: [number, number, number, number][] = [
  [1, 64, 28, 3],
  [128, 128, 14, 3],
  [256, 128, 7, 1],
  [5, 33, 13, 3],
];

test('the default variant is the kernel convGemmPlan makes without a choice', () => {
  for (const [C, O, H, k] of LAYERS)
    for (const spec of Object.values(trainingConvSpecs(128, C, H, H, O, k)))
      assert.deepEqual(convGemmPlan(spec, undefined, f32Choice(DEFAULT_F32_VARIANT)), convGemmPlan(spec));
  assert.deepEqual(convGemmPlan(trainingConvSpecs(2, 3, 5, 5, 4, 3).fwd, undefined, f32Choice()), convGemmPlan(trainingConvSpecs(2, 3, 5, 5, 4, 3).fwd));
});

test('an unknown tile variant is a one-line error naming the variants', () => {
  assert.throws(() => f32Choice('m32n32'), /^Error: conv-gemm: unknown tile variant 'm32n32' \(one of m64n64, .*\)$/);
});

const found = await nullDevice();

test('Dawn accepts every f32 variant\'s WGSL (null backend: compiled and validated, not run)', { skip: typeof found === 'string' ? found : false }, async () => {
  const dev = (found as { device: GPUDevice }).device;
  let compiled = 0;
  for (const name of Object.keys(F32_VARIANTS))
    for (const [C, O, H, k] of LAYERS)
      for (const [kind, spec] of Object.entries(trainingConvSpecs(128, C, H, H, O, k))) {
        const plan = convGemmPlan(spec, undefined, f32Choice(name));
        for (const sh of plan.shaders) assert.deepEqual(await compileErrors(dev, sh.code), [], `${name} ${kind} C${C} O${O} ${H}×${H} k${k}`);
        compiled++;
      }
  assert.equal(compiled, Object.keys(F32_VARIANTS).length * LAYERS.length * 3);
});
