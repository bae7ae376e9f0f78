/**
 * Every f32 tile variant of conv-gemm.ts (`F32_VARIANTS`: tile sizes, vec4 reads of the staged tiles,
 * prefetch) computing the three convs of a training step on Mesa llvmpipe, against a float64
 * convolution of the same strided views: forward, input gradient (a flipped, transposed weight) and
 * weight gradient (transposed operands), with M, N and K that are no multiple of any tile, more than
 * one tile along M and N, a 1×1 conv, and split-K. The default variant's kernels are also checked
 * inside jax-js programs (conv-gemm.test.ts); these run the shaders directly (src/testing/dawn-devices.ts).
 * In the slow suite (`npm run test:slow`): ~48 s on the 2-core CPU machine, mostly llvmpipe compiling
 * the unrolled kernels; `npm test` compiles every variant on Dawn's null backend instead
 * (conv-gemm-variants.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { convOfViews, llvmpipeDevice, runPlan } from '../../testing/dawn-devices.js';
import { convGemmPlan, f32Choice, F32_VARIANTS } from './conv-gemm.js';
import { trainingConvSpecs } from './conv-gemm-f16.js';

const glDevice = await llvmpipeDevice();

test('every f32 tile variant computes forward, input-gradient and weight-gradient convs (llvmpipe, odd shapes, split-K)', { skip: typeof glDevice === 'string' ? glDevice : false }, async () => {
  const dev = glDevice as GPUDevice;
  let seed = 11;
  const rand = (len: number) => Float32Array.from({ length: len }, () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
  // [B, C, O, H, k, kinds, splits]. 3×3, C 20 / O 33: M 33 (forward) and 20 (both gradients) take the
  // large tiles, N 98 / 297 and K 180 / 297 / 98 fit no tile; O 130 makes two 128-row tiles; 1×1 with
  // C 3; the weight gradient once more in 2 splits; M ≤ 16 (C 3 gradients) takes the small tile.
  const cases: [number, number, number, number, number, string[], number | undefined][] = [
    [2, 20, 33, 7, 3, ['fwd', 'dgrad', 'wgrad'], undefined],
    [2, 20, 33, 7, 3, ['wgrad'], 2],
    [1, 3, 130, 5, 1, ['fwd', 'dgrad'], undefined],
  ];
  const timings: string[] = [];
  for (const name of Object.keys(F32_VARIANTS)) {
    const t0 = performance.now();
    for (const [B, C, O, H, k, kinds, splits] of cases) {
      const specs = trainingConvSpecs(B, C, H, H, O, k);
      const x = rand(B * C * H * H), w = rand(O * C * k * k), dy = rand(B * O * H * H);
      const operands: Record<string, [Float32Array, Float32Array]> = { fwd: [x, w], dgrad: [dy, w], wgrad: [x, dy] };
      for (const kind of kinds) {
        const spec = specs[kind as keyof typeof specs];
        const plan = convGemmPlan(spec, splits, f32Choice(name));
        if (splits) assert.equal(plan.splits, splits);
        const [lhs, rhs] = operands[kind];
        const want = convOfViews(spec, lhs, rhs, (v) => v);
        const got = await runPlan(dev, plan.shaders, plan.scratchBytes, lhs, rhs, want.length);
        let d = 0, mx = 0;
        for (let i = 0; i < want.length; i++) {
          d = Math.max(d, Math.abs(got[i] - want[i]));
          mx = Math.max(mx, Math.abs(want[i]));
        }
        const what = `${name}: ${kind} B${B} C${C} O${O} ${H}×${H} k${k} splits ${plan.splits}`;
        assert.ok(d / mx < 2e-6, `${what}: max rel err ${d / mx}`);
      }
    }
    timings.push(`${name} ${(performance.now() - t0).toFixed(0)} ms`);
  }
  console.log(`# conv-gemm f32 variants on llvmpipe: ${timings.join(', ')}`);
});
