/**
 * The f16 subgroup-matrix conv kernels (conv-gemm-f16.ts) computing convs on a CPU machine: each
 * shader is run on Mesa llvmpipe (Dawn's OpenGL ES backend) with every subgroup-matrix builtin replaced
 * by plain WGSL that emulates it per invocation, and compared with a float64 convolution of the
 * f16-rounded operands. This checks everything of the kernel but the builtins themselves (tiling,
 * staging and rounding, the subgroups' regions and matrix offsets, the epilogue, split-K), which only a
 * GPU with subgroup matrices runs (benchmarks/gpu/f16-check.mjs). A file of its own: with Dawn's null
 * instance and jax-js's device on it in the same process (conv-gemm-f16.test.ts), each case here took
 * 20–270 s instead of ~0.2 s (measured on the 2-core CPU machine, 2026-12-07).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { convOfViews, llvmpipeDevice, runPlan } from '../../testing/dawn-devices.js';
import { convGemmF16Plan, DEFAULT_F16_SHAPE, F16_SHAPES, trainingConvSpecs, type F16Tile } from './conv-gemm-f16.js';

/** NVIDIA's 8×8×8. The 16×16×16 tile passed the same cases (max rel err ≤ 4.2e-7) but its emulation
 * (256-float private matrices) took 12–90 s per shader on llvmpipe (2-core CPU machine, 2026-12-07), so
 * it is only compiled (conv-gemm-f16.test.ts). */
const TILES: F16Tile[] = [{ m: 8, n: 8, k: 8, subgroupSize: 32 }];

/** x rounded to the nearest f16 (ties to even), as a double. */
function f16Round(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const e = Math.max(Math.floor(Math.log2(Math.abs(x))), -14); // subnormals share 2^-14's spacing
  const ulp = 2 ** (e - 10);
  const q = x / ulp;
  let r = Math.round(q);
  if (Math.abs(q - Math.trunc(q)) === 0.5 && r % 2 !== 0) r -= Math.sign(q); // ties to even
  return r * ulp;
}

/**
 * The f16 shader with every subgroup-matrix builtin replaced by straight-line f32 code that each
 * invocation runs whole (a matrix is a private array, loads read it all, MMA multiplies it all, every
 * lane of a subgroup stores the same values), f16 staging by f32 rounded through pack2x16float. The
 * kernel's own tiling, offsets, subgroup regions and epilogue are untouched, so running it on llvmpipe
 * checks them. The shapes below keep each invocation's loop iterations under llvmpipe's 65,535
 * (at most ~33,000 for the shapes and tiles below).
 */
function emulateSubgroupMatrices(code: string, { m, n, k }: F16Tile): string {
  const fn = (sig: string, body: string) => `fn ${sig} {\n${body}\n}`;
  const loop = (v: string, end: number, body: string) => `for (var ${v} = 0u; ${v} < ${end}u; ${v}++) { ${body} }`;
  const helpers = [
    'fn f16r(v: f32) -> f32 { return unpack2x16float(pack2x16float(vec2<f32>(v, 0.0))).x; }',
    fn(`smLeft(off: u32, stride: u32) -> array<f32, ${m * k}>`, `  var a: array<f32, ${m * k}>;\n  ${loop('r', m, loop('c', k, `a[r * ${k}u + c] = As[off + c * stride + r];`))}\n  return a;`),
    fn(`smRight(off: u32, stride: u32) -> array<f32, ${k * n}>`, `  var b: array<f32, ${k * n}>;\n  ${loop('r', k, loop('c', n, `b[r * ${n}u + c] = Bs[off + r * stride + c];`))}\n  return b;`),
    fn(`smMma(a: array<f32, ${m * k}>, b: array<f32, ${k * n}>, acc: array<f32, ${m * n}>) -> array<f32, ${m * n}>`, `  var c = acc;\n  ${loop('r', m, loop('j', n, loop('q', k, `c[r * ${n}u + j] += a[r * ${k}u + q] * b[q * ${n}u + j];`)))}\n  return c;`),
    fn(`smStore(off: u32, v: array<f32, ${m * n}>, stride: u32)`, `  ${loop('r', m, loop('c', n, `Cs[off + r * stride + c] = v[r * ${n}u + c];`))}`),
  ].join('\n');
  const out = code
    .replace(/^(enable .*|diagnostic\(.*)$/gm, '')
    .replace(/array<f16, /g, 'array<f32, ')
    .replace(/= f16\((v[ab]\d+)\);/g, '= f16r($1);')
    .replace(/var (c\d+_\d+) = subgroup_matrix_result<f32, \d+, \d+>\(\);/g, `var $1: array<f32, ${m * n}>;`)
    .replace(/subgroupMatrixLoad<subgroup_matrix_left<f16, \d+, \d+>, col_major>\(&As, /g, 'smLeft(')
    .replace(/subgroupMatrixLoad<subgroup_matrix_right<f16, \d+, \d+>, row_major>\(&Bs, /g, 'smRight(')
    .replace(/subgroupMatrixMultiplyAccumulate\(/g, 'smMma(')
    .replace(/subgroupMatrixStore<row_major>\(&Cs, /g, 'smStore(');
  assert.ok(!/subgroup|f16\b/.test(out.replace(/f16r/g, '')), 'every subgroup-matrix use and f16 type replaced');
  return `${out}\n${helpers}\n`;
}

const glDevice = await llvmpipeDevice();

test('the f16 kernels compute the convs (llvmpipe, subgroup matrices emulated): forward, input and weight gradients, split-K', { skip: typeof glDevice === 'string' ? glDevice : false }, async () => {
  const dev = glDevice as GPUDevice;
  let seed = 7;
  const rand = (len: number) => Float32Array.from({ length: len }, () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
  // [B, C, O, H, k, kinds, splits, shapes]: the 16-row tile (3×3, N = 98 and K = 27/45/98 not multiples
  // of the tiles; the weight gradient also split in 2) and the large tiles of the shapes (1×1, O = 20).
  // Not m64n128, nor O = 130 (several 64-row tiles): on some shapes and constants llvmpipe's LLVM takes
  // 30 s to many minutes to compile the emulation (2-core CPU machine, 2026-12-08); Dawn compiles the
  // real WGSL of every shape in conv-gemm-f16.test.ts, and benchmarks/gpu/conv-sweep.mjs checks each
  // shape against the f32 kernels on a GPU, on the nets' convs.
  const all = Object.keys(F16_SHAPES).filter((s) => s !== 'm64n128');
  const cases: [number, number, number, number, number, string[], (number | undefined)[], string[]][] = [
    [2, 3, 5, 7, 3, ['fwd', 'dgrad', 'wgrad'], [undefined], [DEFAULT_F16_SHAPE]],
    [2, 3, 5, 7, 3, ['wgrad'], [2], [DEFAULT_F16_SHAPE]],
    [1, 5, 20, 4, 1, ['fwd'], [undefined], all],
  ];
  for (const [B, C, O, H, k, kinds, splitList, shapes] of cases) {
    const specs = trainingConvSpecs(B, C, H, H, O, k);
    const x = rand(B * C * H * H), w = rand(O * C * k * k), dy = rand(B * O * H * H);
    const operands: Record<string, [Float32Array, Float32Array]> = { fwd: [x, w], dgrad: [dy, w], wgrad: [x, dy] };
    for (const [kind, splits, tile, shape] of kinds.flatMap((kd) => splitList.flatMap((sp) => TILES.flatMap((t) => shapes.map((sh) => [kd, sp, t, sh] as const))))) {
      const spec = specs[kind as keyof typeof specs];
      const t0 = performance.now();
      const plan = convGemmF16Plan(spec, tile, splits, shape);
      if (splits) assert.equal(plan.splits, splits);
      const shaders = plan.shaders.map((s, i) => (i === 0 ? { ...s, code: emulateSubgroupMatrices(s.code, tile) } : s));
      const [lhs, rhs] = operands[kind];
      const want = convOfViews(spec, lhs, rhs, f16Round);
      const got = await runPlan(dev, shaders, plan.scratchBytes, lhs, rhs, want.length);
      let d = 0, mx = 0;
      for (let i = 0; i < want.length; i++) {
        d = Math.max(d, Math.abs(got[i] - want[i]));
        mx = Math.max(mx, Math.abs(want[i]));
      }
      // f16-rounded operands, f32 sums: only summation order differs from the float64 reference
      const what = `${kind} B${B} C${C} O${O} ${H}×${H} k${k} splits ${plan.splits} tile ${tile.m}×${tile.n}×${tile.k} ${shape}`;
      console.log(`${what}: max rel err ${(d / mx).toExponential(2)}, ${(performance.now() - t0).toFixed(0)} ms`);
      assert.ok(d / mx < 1e-5, `${what}: max rel err ${d / mx}`);
    }
  }
});
