/**
 * The implicit-GEMM convolutions of conv-gemm.ts (forward, input gradient, weight gradient with split-K;
 * the same strided View4 operands, the same spec) with the inner product on f16 subgroup matrices with
 * f32 accumulation: tensor cores on NVIDIA through Dawn's `chromium-experimental-subgroup-matrix`.
 *
 *   out[n, o, y, x] = Σ_{c, ky, kx} f16(L[n, c, y + ky − padY, x + kx − padX]) · f16(R[o, c, ky, kx])
 *
 * summed in f32. Storage stays f32 (jax-js arrays are f32): operands are rounded to f16 as they are staged
 * into workgroup memory, and results are written as f32, so the kernel is a drop-in for the f32 one;
 * the only difference is the operands' rounding to f16 (11-bit significand, range ±65,504, subnormals
 * below 6.1e-5) and the products' summation order.
 *
 * Layout and tiling are conv-gemm.ts's (`GEMM_TILES`: a workgroup of 128 invocations computes a 64×64
 * tile of the M × N output, 16×64 when M ≤ 16, stepping through K 16 deep; split-K and the second
 * summing pass unchanged). Staged tiles: As [BK][BM + 8] (m fastest, so an A block is a column-major
 * left matrix) and Bs [BK][BN + 8] (n fastest: a row-major right matrix), f16; the +8 padding keeps every
 * row and every matrix origin on a 16-byte boundary. The workgroup's subgroups (128 / subgroup size:
 * 4 on NVIDIA's 32-wide subgroups) split the tile into a grid of regions (2×2 regions of 32×32 for the
 * 64-row tile, 1×4 of 16×16 for the 16-row one); each subgroup holds its region as m×n result matrices
 * (the tile shape `F16Tile`, picked from the adapter's `subgroupMatrixConfigs` by `chooseF16Tile`:
 * 8×8×8 or 16×16×16 f16 → f32) and, per K step of the staged tile, multiplies k-deep left and right
 * matrices into them. At the end each result matrix goes through a small f32 workgroup buffer (one m×n
 * block per subgroup), from which the subgroup's lanes write it with the f32 kernel's bounds-checked
 * stores (outputs need not be m×n aligned: M = 1 or 3 channels, N = B·H·W of any size). Loads and stores
 * use the majorness-as-template form (`subgroupMatrixLoad<T, col_major>(p, offset, stride)`): Dawn
 * (webgpu 0.6.2) warns on every compile of the older `(p, offset, col_major, stride)` form.
 */
import { contiguousStrides, convGemmPlan, defaultTile, GEMM_TILES, tileFor, type ConvGemmPlan, type ConvGemmSpec, type GemmInner, type GemmTile, type TileShape, type View4 } from './conv-gemm.js';

/** One entry of a WebGPU adapter's `info.subgroupMatrixConfigs` (Dawn / Chromium). */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/** The subgroup-matrix shape the kernels use: result m×n (rows × columns), reduction depth k, and the subgroup size they assume. */
export interface F16Tile {
  m: number;
  n: number;
  k: number;
  subgroupSize: number;
}

/** Row padding of the staged f16 tiles (8 f16 = 16 bytes). */
const PAD = 8;

/** How `t`'s subgroups split a workgroup tile: `rows` × `cols` regions of `rm` × `rn` outputs, or null if the tile shape cannot. */
export function subgroupGrid(t: Pick<GemmTile, 'BM' | 'BN' | 'BK' | 'threads'>, tile: F16Tile): { rows: number; cols: number; rm: number; rn: number } | null {
  const g = t.threads / tile.subgroupSize;
  if (!Number.isInteger(g) || g < 1 || t.BK % tile.k !== 0) return null;
  let best: { rows: number; cols: number; rm: number; rn: number } | null = null;
  for (let rows = 1; rows <= g; rows *= 2) {
    if (g % rows) continue;
    const cols = g / rows;
    const rm = t.BM / rows;
    const rn = t.BN / cols;
    if (!Number.isInteger(rm) || !Number.isInteger(rn) || rm % tile.m || rn % tile.n) continue;
    if (!best || Math.abs(rm - rn) < Math.abs(best.rm - best.rn)) best = { rows, cols, rm, rn };
  }
  return best;
}

/**
 * The f16 → f32 subgroup-matrix shape to use on an adapter, or null where there is none that the
 * workgroup tiles of conv-gemm.ts can hold: the subgroup size must be fixed (min = max, so the kernel
 * knows how many subgroups a workgroup has) and divide the 128 invocations. Among the usable configs the
 * largest m·n·k wins (fewest instructions per product).
 */
export function chooseF16Tile(configs: readonly SubgroupMatrixConfig[] | undefined, subgroupMinSize: number | undefined, subgroupMaxSize: number | undefined): F16Tile | null {
  if (!configs?.length || !subgroupMinSize || Number(subgroupMinSize) !== Number(subgroupMaxSize)) return null;
  let best: F16Tile | null = null;
  for (const c of configs) {
    if (c.componentType !== 'f16' || c.resultComponentType !== 'f32') continue;
    // Number(): a binding may hand the dimensions over as BigInt (IDL unsigned long long)
    const tile: F16Tile = { m: Number(c.M), n: Number(c.N), k: Number(c.K), subgroupSize: Number(subgroupMinSize) };
    const fits = GEMM_TILES.rows.every((BM) => subgroupGrid({ BM, BN: GEMM_TILES.BN, BK: GEMM_TILES.BK, threads: GEMM_TILES.threads }, tile));
    if (fits && (!best || tile.m * tile.n * tile.k > best.m * best.n * best.k)) best = tile;
  }
  return best;
}

/** The subgroup-matrix inner product for `tile` (see the header). */
export function f16Inner(tile: F16Tile): GemmInner {
  const { m, n, k, subgroupSize: sgSize } = tile;
  const grid = (t: GemmTile) => {
    const gr = subgroupGrid(t, tile);
    if (!gr) throw new Error(`conv-gemm-f16: a ${t.BM}×${t.BN}×${t.BK} tile of ${t.threads} invocations cannot be split into ${m}×${n}×${k} subgroup matrices of ${sgSize}-wide subgroups`);
    return { ...gr, tm: gr.rm / m, tn: gr.rn / n };
  };
  return {
    enables: ['enable f16;', 'enable chromium_experimental_subgroup_matrix;', 'diagnostic(off, chromium.subgroup_matrix_uniformity);'],
    elem: 'f16',
    strides: (t) => ({ aStride: t.BM + PAD, bStride: t.BN + PAD }),
    // one m×n f32 block per subgroup, through which result matrices reach the bounds-checked stores
    decls: (t) => [`var<workgroup> Cs: array<f32, ${(t.threads / sgSize) * m * n}>;`],
    declBytes: (t) => (t.threads / sgSize) * m * n * 4,
    init: (t) => {
      const { cols, rm, rn, tm, tn } = grid(t);
      const lines = [
        `  let sg = t / ${sgSize};`,
        `  let lane = t % ${sgSize};`,
        `  let sr = (sg / ${cols}) * ${rm};`,
        `  let sc = (sg % ${cols}) * ${rn};`,
      ];
      for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) lines.push(`  var c${i}_${j} = subgroup_matrix_result<f32, ${n}, ${m}>();`);
      return lines;
    },
    compute: (t) => {
      const { tm, tn } = grid(t);
      const lines: string[] = [];
      for (let kk = 0; kk < t.BK; kk += k) {
        // left: m rows × k columns, element (r, c) at As[(kk + c)·aStride + row0 + r] (column-major)
        for (let i = 0; i < tm; i++) lines.push(`    let a${kk}_${i} = subgroupMatrixLoad<subgroup_matrix_left<f16, ${k}, ${m}>, col_major>(&As, u32(${kk * t.aStride} + sr + ${i * m}), ${t.aStride}u);`);
        // right: k rows × n columns, element (r, c) at Bs[(kk + r)·bStride + col0 + c] (row-major)
        for (let j = 0; j < tn; j++) lines.push(`    let b${kk}_${j} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${n}, ${k}>, row_major>(&Bs, u32(${kk * t.bStride} + sc + ${j * n}), ${t.bStride}u);`);
        for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) lines.push(`    c${i}_${j} = subgroupMatrixMultiplyAccumulate(a${kk}_${i}, b${kk}_${j}, c${i}_${j});`);
      }
      return lines;
    },
    epilogue: (t, store) => {
      const { tm, tn } = grid(t);
      const lines = [`  let cBase = sg * ${m * n};`];
      for (let i = 0; i < tm; i++)
        for (let j = 0; j < tn; j++) {
          lines.push(`  subgroupMatrixStore<row_major>(&Cs, u32(cBase), c${i}_${j}, ${n}u);`);
          lines.push(`  workgroupBarrier();`);
          lines.push(`  for (var e = lane; e < ${m * n}; e += ${sgSize}) {`);
          lines.push(`    let om = m0 + sr + ${i * m} + e / ${n};`);
          lines.push(`    let on = n0 + sc + ${j * n} + e % ${n};`);
          lines.push(`    ${store('om', 'on', 'Cs[cBase + e]')}`);
          lines.push(`  }`);
          lines.push(`  workgroupBarrier();`);
        }
      return lines;
    },
  };
}

/**
 * Workgroup tile shapes for the f16 kernels besides the default (`m64n64`: conv-gemm.ts's 64×64, 128
 * invocations), for measuring on a GPU (`DI_F16_TILE`; benchmarks/gpu/conv-sweep.mjs): larger tiles give
 * each subgroup a larger region (more result matrices per staged load). Convs with M ≤ 16 keep the
 * 16-row tile. A shape the adapter's matrices cannot split is a one-line error when the plan is made.
 */
export const F16_SHAPES: Record<string, TileShape> = {
  m64n64: defaultTile(64),
  m128n64: { BM: 128, BN: 64, BK: 16, threads: 128 },
  m64n128: { BM: 64, BN: 128, BK: 16, threads: 128 },
  m128n128: { BM: 128, BN: 128, BK: 16, threads: 256 },
};
export const DEFAULT_F16_SHAPE = 'm64n64';

/** The tile shape `name` of `F16_SHAPES`; a one-line error naming them for an unknown name. */
export function f16Shape(name: string = DEFAULT_F16_SHAPE): TileShape {
  const s = F16_SHAPES[name];
  if (!s) throw new Error(`conv-gemm-f16: unknown tile shape '${name}' (one of ${Object.keys(F16_SHAPES).join(', ')})`);
  return s;
}

/** The routine for one conv on f16 subgroup matrices: conv-gemm.ts's plan (same splits, scratch and summing pass) with the f16 inner product, on the tiles of `shape` (`F16_SHAPES`). */
export function convGemmF16Plan(spec: ConvGemmSpec, tile: F16Tile, splits?: number, shape: string = DEFAULT_F16_SHAPE): ConvGemmPlan {
  const inner = f16Inner(tile);
  const large = f16Shape(shape);
  return convGemmPlan(spec, splits, (M) => ({ tile: tileFor(M, large), inner }));
}

/**
 * The three convs of one stride-1 conv layer in a training step, as jax-js's jit hands them to the hook
 * (custom-kernels.ts `viewOf`): forward x [B,C,H,W] ⊛ w [O,C,k,k]; input gradient ∂y ⊛ flip(transpose(w));
 * weight gradient transpose(x) ⊛ transpose(∂y) → [C,O,k,k]. Buffers: x, w, ∂y contiguous. For tests and
 * benchmarks of the kernels outside a jit program.
 */
export function trainingConvSpecs(B: number, C: number, H: number, W: number, O: number, k: number): { fwd: ConvGemmSpec; dgrad: ConvGemmSpec; wgrad: ConvGemmSpec } {
  if (k % 2 !== 1) throw new Error(`trainingConvSpecs: kernel size ${k} is not odd`);
  const p = (k - 1) / 2;
  const x = contiguous([B, C, H, W]);
  const dy = contiguous([B, O, H, W]);
  const [wO, wC, wY, wX] = contiguousStrides([O, C, k, k]);
  const wT: View4 = { shape: [C, O, k, k], strides: [wC, wO, -wY, -wX], offset: (k - 1) * wY + (k - 1) * wX };
  const swap01 = (v: View4): View4 => ({ shape: [v.shape[1], v.shape[0], v.shape[2], v.shape[3]], strides: [v.strides[1], v.strides[0], v.strides[2], v.strides[3]], offset: v.offset });
  return {
    fwd: { lhs: x, rhs: contiguous([O, C, k, k]), padLo: [p, p], outShape: [B, O, H, W] },
    dgrad: { lhs: dy, rhs: wT, padLo: [k - 1 - p, k - 1 - p], outShape: [B, C, H, W] },
    wgrad: { lhs: swap01(x), rhs: swap01(dy), padLo: [p, p], outShape: [C, O, k, k] },
  };
}

function contiguous(shape: View4['shape']): View4 {
  return { shape, strides: contiguousStrides(shape) as View4['strides'], offset: 0 };
}
