/**
 * 2-D convolution (stride 1, no dilation, any zero padding) as an implicit GEMM in WGSL, f32 storage
 * and accumulation. This is jax-js's `conv` primitive with 2 spatial dims:
 *
 *   out[n, o, y, x] = Σ_{c, ky, kx} L[n, c, y + ky − padY, x + kx − padX] · R[o, c, ky, kx]
 *
 * (zero outside L), with L logically NCHW and R logically OIHW. Each operand is a strided view of a
 * buffer (offset and one stride per logical dim, negative for flipped dims), so the same kernel runs the
 * three convs of a training step without copying operands:
 *  - forward: L = x [B,Cin,H,W], R = w [Cout,Cin,k,k];
 *  - input gradient (jax-js's transpose rule): L = ∂y [B,Cout,H,W], R = flip(transpose(w)) [Cin,Cout,k,k];
 *  - weight gradient: L = transpose(x) [Cin,B,H,W], R = transpose(∂y) [Cout,B,H,W], output
 *    [Cin,Cout,k,k] — a GEMM whose reduction runs over B·H·W.
 *
 * GEMM view: M = O (rows of R), N = n·y·x (output pixels), K = c·ky·kx. A[m,k] = R[m,c,ky,kx];
 * B[k,n] = L[…] (im2col, never materialized). Tiling, by default (`m64n64-v4`): a workgroup of 128
 * threads computes a 64×64 tile (16×64 when M ≤ 16) of the output, stepping through K in 16-deep tiles of
 * A and B staged in workgroup memory; each thread holds 8×4 outputs in registers, rows 4·ty + 32h + r and
 * columns 4·tx + c (r, c < 4), and reads them from the staged tiles as vec4 (3 loads per 32 FMAs instead
 * of 12); the small tile keeps scalar reads, 2×4 outputs at rows ty + 8i, columns tx + 16j. On an H100
 * the vec4 reads made a fmnist-base teacher step's GPU time 59.6 ms against 63.6 ms with scalar reads
 * (`m64n64`; benchmarks/README.md, 2026-12-08). `F32_VARIANTS` names the others (`DI_CONV_TILE`):
 * larger tiles (up to 128×128 with 256 threads of 8×8 outputs) and the next K-tile prefetched into
 * registers while the current one is multiplied. Loads are mapped so that neighbouring threads read neighbouring addresses (along k
 * when the operand's run along k is longer, e.g. a weight gradient's B·H·W, else along m/n). The (c, ky,
 * kx) of each loaded k are carried from tile to tile by constant additions with carries, so the K loop
 * has no integer division (the per-thread output coordinates are divided once, before it). Split-K: when M×N gives too few workgroups to fill a GPU (weight gradients:
 * ≤ 147k outputs against K = 100k), K is cut into S chunks whose partial tiles go to a scratch buffer
 * [S, M, N], and a second pass sums them into the output (WGSL has no float atomics). No invocation
 * loops more than MAX_LOOP_ITERATIONS times (llvmpipe). The inner product over the staged tiles is a
 * parameter (`GemmInner`): f32 FMAs here, f16 subgroup matrices in conv-gemm-f16.ts.
 */
import { bindings, grid2d, i32, MAX_LOOP_ITERATIONS, type RoutineShader } from './shader.js';

/** A logical 4-D array inside a flat buffer: element (i0..i3) at offset + Σ i_d·strides[d]. */
export interface View4 {
  shape: [number, number, number, number];
  strides: [number, number, number, number];
  offset: number;
}

export interface ConvGemmSpec {
  /** Logical [N, C, H, W] input. */
  lhs: View4;
  /** Logical [O, C, kh, kw] kernel. */
  rhs: View4;
  /** Zero padding before each spatial dim (after is implied by `outShape`). */
  padLo: [number, number];
  /** [N, O, Ho, Wo], written contiguously. */
  outShape: [number, number, number, number];
}

export interface ConvGemmPlan {
  /** Splits of K (1: no scratch, one shader). */
  splits: number;
  scratchBytes: number[];
  shaders: RoutineShader[];
}

/** A workgroup tile's shape: rows BM × columns BN of the output, BK deep, `threads` invocations; `prefetch`: load the next K-tile into registers while multiplying the current one. */
export interface TileShape {
  BM: number;
  BN: number;
  BK: number;
  threads: number;
  prefetch?: boolean;
}

/** The sizes of one workgroup tile, as a GEMM inner product sees them. */
export interface GemmTile extends TileShape {
  /** GEMM sizes (outputs M × N). */
  M: number;
  N: number;
  /** Row pitches of the staged tiles As [BK][aStride] (m fastest) and Bs [BK][bStride] (n fastest), in elements of `GemmInner.elem` (vec4s where `vec4`). */
  aStride: number;
  bStride: number;
}

/**
 * What differs between GEMM inner products over the same staged tiles: the f32 one here (each thread
 * TM×TN outputs by FMAs) and the f16 subgroup-matrix one (conv-gemm-f16.ts). Tiling, operand staging,
 * the K loop and split-K are shared (`convGemmPlan`). Every hook returns WGSL lines.
 */
export interface GemmInner {
  /** Directives before the bindings (`enable …;`). */
  enables: string[];
  /** Element type of the staged tiles; loads are converted to it. */
  elem: 'f32' | 'f16';
  /** The staged tiles are arrays of vec4<elem> (a staged element m is component m % 4 of entry m / 4). */
  vec4?: boolean;
  /** Row pitches of As and Bs for a tile. */
  strides: (t: TileShape) => { aStride: number; bStride: number };
  /** Declarations after As and Bs (module scope), and the workgroup memory they take (bytes). */
  decls: (t: GemmTile) => string[];
  declBytes?: (t: GemmTile) => number;
  /** Accumulators, before the K loop (`t` is the i32 invocation index). */
  init: (t: GemmTile) => string[];
  /** Accumulates As·Bs, between the barriers that follow staging. */
  compute: (t: GemmTile) => string[];
  /** Writes the accumulators; `store(m, n, v)` is the bounds-checked statement writing output (m, n) = v. */
  epilogue: (t: GemmTile, store: (m: string, n: string, v: string) => string) => string[];
}

/** The tile and inner product one conv runs with, chosen from its M (output channels of the GEMM). */
export type GemmChoice = (M: number) => { tile: TileShape; inner: GemmInner };

/** Output rows (o) per workgroup: 64, or 16 when the conv has ≤ 16 output channels (a 1-channel image's
 * last conv, the input gradient of its first), which would leave most of a 64-row tile idle. */
const TILE_LARGE: TileShape = { BM: 64, BN: 64, BK: 16, threads: 128 };
const TILE_SMALL: TileShape = { BM: 16, BN: 64, BK: 16, threads: 128 };
/** The tile for a conv with M output rows: `large`, or the 16-row tile where M ≤ 16 (every kernel family and variant). */
export const tileFor = (M: number, large: TileShape): TileShape => (M <= TILE_SMALL.BM ? TILE_SMALL : large);
/** The default tiles for M: rows BM (64, or 16 for M ≤ 16) × BN columns, BK deep, `threads` invocations. */
export const defaultTile = (M: number): TileShape => tileFor(M, TILE_LARGE);
/** The default tiles `convGemmPlan` makes, whatever the inner product (the f16 one uses these). */
export const GEMM_TILES = { rows: [TILE_LARGE.BM, TILE_SMALL.BM], BN: TILE_LARGE.BN, BK: TILE_LARGE.BK, threads: TILE_LARGE.threads } as const;
/** Workgroups that fill a large GPU (an H100 has 132 SMs): split K until M×N tiles × splits reach it. */
const TARGET_WORKGROUPS = 1024;
const MIN_K_TILES_PER_SPLIT = 16;
const MAX_SPLITS = 128;
const MAX_SCRATCH_FLOATS = 1 << 24;
/** Workgroup memory the tiles may take: WebGPU's guaranteed minimum (browsers give no more unless asked). */
const MAX_WORKGROUP_BYTES = 16384;

/** Row-major strides of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

/** Checks a spec and returns its GEMM sizes; throws a one-line error on inconsistent shapes. */
export function gemmSizes(spec: ConvGemmSpec) {
  const [n, c, h, w] = spec.lhs.shape;
  const [o, c2, kh, kw] = spec.rhs.shape;
  const [n2, o2, ho, wo] = spec.outShape;
  if (c !== c2 || n !== n2 || o !== o2) throw new Error(`conv-gemm: shapes lhs [${spec.lhs.shape}] rhs [${spec.rhs.shape}] out [${spec.outShape}] do not match`);
  if (ho < 1 || wo < 1 || [n, c, h, w, o, kh, kw].some((v) => !(v >= 1))) throw new Error(`conv-gemm: empty conv lhs [${spec.lhs.shape}] rhs [${spec.rhs.shape}] out [${spec.outShape}]`);
  return { M: o, N: n * ho * wo, K: c * kh * kw, H: h, W: w, kh, kw, ho, wo };
}

/**
 * A conv's identity for choosing its tiling: which conv of a training step it is ('fwd', 'dgrad',
 * 'wgrad') and the logical shapes of its operands and output, e.g. `fwd L128,64,28,28 R64,64,3,3
 * O128,64,28,28` (what benchmarks/gpu/conv-sweep.mjs measures under the same key).
 */
export function convKey(kind: string, spec: ConvGemmSpec): string {
  return `${kind} L${spec.lhs.shape} R${spec.rhs.shape} O${spec.outShape}`;
}

/** How many K splits: enough workgroups to fill a GPU, each split ≥ 16 K-tiles, loops within llvmpipe's limit. */
export function chooseSplits(M: number, N: number, K: number, tile: TileShape = defaultTile(M)): number {
  const tiles = Math.ceil(M / tile.BM) * Math.ceil(N / tile.BN);
  const kTiles = Math.ceil(K / tile.BK);
  let s = Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.ceil(kTiles / MIN_K_TILES_PER_SPLIT), MAX_SPLITS, Math.floor(MAX_SCRATCH_FLOATS / (M * N)));
  s = Math.max(1, s, Math.ceil(kTiles / MAX_LOOP_ITERATIONS));
  if (s === 1) return 1;
  const chunkTiles = Math.ceil(kTiles / s);
  return Math.ceil(kTiles / chunkTiles);
}

/**
 * The routine for one conv: one GEMM shader, plus a summing shader when K is split. `choice` picks the
 * tile and inner product from M: by default the f32 variant `DEFAULT_F32_VARIANT` (`f32Choice` gives the
 * `F32_VARIANTS`; an inner product alone runs on `defaultTile`, as the f16 kernels do).
 */
export function convGemmPlan(spec: ConvGemmSpec, splits?: number, choice: GemmChoice | GemmInner = f32Choice()): ConvGemmPlan {
  const g = gemmSizes(spec);
  const { tile, inner } = typeof choice === 'function' ? choice(g.M) : { tile: defaultTile(g.M), inner: choice };
  const S = splits ?? chooseSplits(g.M, g.N, g.K, tile);
  const kTiles = Math.ceil(g.K / tile.BK);
  const chunk = Math.ceil(kTiles / S) * tile.BK; // K per split, a multiple of BK
  if (Math.ceil(g.K / chunk) !== S) throw new Error(`conv-gemm: ${S} splits do not divide K = ${g.K} into non-empty chunks`);
  if (chunk / tile.BK > MAX_LOOP_ITERATIONS) throw new Error(`conv-gemm: ${chunk / tile.BK} K-tiles per split exceed the ${MAX_LOOP_ITERATIONS}-iteration loop limit`);
  const outputs = S > 1 ? ['out', 'scratch'] : ['out'];
  const shaders = [gemmShader(spec, g, S, chunk, outputs, inner, tile)];
  if (S > 1) shaders.push(sumShader(g, spec.outShape, S, outputs));
  return { splits: S, scratchBytes: S > 1 ? [S * g.M * g.N * 4] : [], shaders };
}

type Sizes = ReturnType<typeof gemmSizes>;

/** Which index runs fastest across threads when loading a tile: k, or the tile's own m/n. */
function kFastest(kRun: number, otherRun: number): boolean {
  return kRun > otherRun;
}

/**
 * f32 FMAs, each thread TM×TN outputs of the tile, TN given (TX = BN / TN threads along n, the rest along
 * m). `vec4: false`: rows ty + TY·i, columns tx + TX·j (neighbouring threads, neighbouring pixels), the
 * staged rows padded by one element against bank conflicts on k-major stores. `vec4: true`: rows and
 * columns in runs of 4 (rows 4·ty + 4·TY·h + r), read from the staged tiles as vec4 (padded by one vec4),
 * so a thread makes (TM + TN) / 4 workgroup-memory loads per k instead of TM + TN.
 */
export function f32Inner(TN: number, vec4: boolean): GemmInner {
  const grid = (t: TileShape) => {
    const TX = t.BN / TN;
    const TY = t.threads / TX;
    const TM = t.BM / TY;
    if (!Number.isInteger(TX) || !Number.isInteger(TY) || !Number.isInteger(TM) || TM < 1 || (vec4 && (TM % 4 || TN % 4)))
      throw new Error(`conv-gemm: a ${t.BM}×${t.BN} tile of ${t.threads} threads cannot hold ${vec4 ? 'vec4 runs of ' : ''}${TN} columns per thread`);
    return { TX, TY, TM };
  };
  if (!vec4)
    return {
      enables: [],
      elem: 'f32',
      // +1: fewer bank conflicts on the k-major stores
      strides: (t) => ({ aStride: t.BM + 1, bStride: t.BN + 1 }),
      decls: () => [],
      init: (t) => {
        const { TX, TM } = grid(t);
        const lines = [`  let ty = t / ${TX};`, `  let tx = t % ${TX};`];
        for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) lines.push(`  var acc${i}_${j}: f32 = 0.0;`);
        return lines;
      },
      compute: (t) => {
        const { TX, TY, TM } = grid(t);
        const lines: string[] = [];
        for (let kk = 0; kk < t.BK; kk++) {
          for (let i = 0; i < TM; i++) lines.push(`    let a${kk}_${i} = As[${kk * t.aStride} + ty + ${i * TY}];`);
          for (let j = 0; j < TN; j++) lines.push(`    let b${kk}_${j} = Bs[${kk * t.bStride} + tx + ${j * TX}];`);
          for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) lines.push(`    acc${i}_${j} = fma(a${kk}_${i}, b${kk}_${j}, acc${i}_${j});`);
        }
        return lines;
      },
      epilogue: (t, store) => {
        const { TX, TY, TM } = grid(t);
        const lines: string[] = [];
        for (let i = 0; i < TM; i++) {
          lines.push(`  let om${i} = m0 + ty + ${i * TY};`);
          for (let j = 0; j < TN; j++) lines.push(`  ${store(`om${i}`, `(n0 + tx + ${j * TX})`, `acc${i}_${j}`)}`);
        }
        return lines;
      },
    };
  return {
    enables: [],
    elem: 'f32',
    vec4: true,
    strides: (t) => ({ aStride: t.BM / 4 + 1, bStride: t.BN / 4 + 1 }),
    decls: () => [],
    init: (t) => {
      const { TX, TM } = grid(t);
      const lines = [`  let ty = t / ${TX};`, `  let tx = t % ${TX};`];
      // acc{i}_{h}: row i of the thread's TM, columns 4·tx + 4·TX·h + (0..3)
      for (let i = 0; i < TM; i++) for (let h = 0; h < TN / 4; h++) lines.push(`  var acc${i}_${h} = vec4<f32>(0.0);`);
      return lines;
    },
    compute: (t) => {
      const { TX, TY, TM } = grid(t);
      const lines: string[] = [];
      for (let kk = 0; kk < t.BK; kk++) {
        for (let g = 0; g < TM / 4; g++) lines.push(`    let a${kk}_${g} = As[${kk * t.aStride} + ty + ${g * TY}];`);
        for (let h = 0; h < TN / 4; h++) lines.push(`    let b${kk}_${h} = Bs[${kk * t.bStride} + tx + ${h * TX}];`);
        for (let i = 0; i < TM; i++) for (let h = 0; h < TN / 4; h++) lines.push(`    acc${i}_${h} = fma(vec4<f32>(a${kk}_${i >> 2}[${i & 3}]), b${kk}_${h}, acc${i}_${h});`);
      }
      return lines;
    },
    epilogue: (t, store) => {
      const { TX, TY, TM } = grid(t);
      const lines: string[] = [];
      for (let i = 0; i < TM; i++) {
        lines.push(`  let om${i} = m0 + 4 * ty + ${(i >> 2) * 4 * TY + (i & 3)};`);
        for (let h = 0; h < TN / 4; h++) for (let c = 0; c < 4; c++) lines.push(`  ${store(`om${i}`, `(n0 + 4 * tx + ${h * 4 * TX + c})`, `acc${i}_${h}[${c}]`)}`);
      }
      return lines;
    },
  };
}

/** Scalar reads, 8×4 outputs per thread (2×4 for a 16-row tile), rows ty + 8i, columns tx + 16j: the small tile's inner product, and `m64n64`'s. */
const F32_STRIDED = f32Inner(4, false);

/**
 * The f32 kernel variants, by name (`DI_CONV_TILE`; benchmarks/gpu/conv-sweep.mjs times each on a GPU):
 * the large tile (M > 16) each uses; convs with M ≤ 16 always take the default 16×64 tile.
 * `m64n64-v4` is the default (measured on an H100, 2026-12-08: the best whole-step time of those tried
 * there); names read rows × columns × depth, `v4` vec4 reads, `pf` prefetch.
 */
export const F32_VARIANTS: Record<string, { tile: TileShape; TN: number; vec4: boolean }> = {
  m64n64: { tile: TILE_LARGE, TN: 4, vec4: false },
  'm64n64-pf': { tile: { ...TILE_LARGE, prefetch: true }, TN: 4, vec4: false },
  'm64n64-v4': { tile: TILE_LARGE, TN: 4, vec4: true },
  'm64n128-v4': { tile: { BM: 64, BN: 128, BK: 16, threads: 128 }, TN: 8, vec4: true },
  'm128n64-v4': { tile: { BM: 128, BN: 64, BK: 16, threads: 128 }, TN: 8, vec4: true },
  'm128n128k8-v4': { tile: { BM: 128, BN: 128, BK: 8, threads: 256 }, TN: 8, vec4: true },
  'm64n128-v4-pf': { tile: { BM: 64, BN: 128, BK: 16, threads: 128, prefetch: true }, TN: 8, vec4: true },
  'm128n128k8-v4-pf': { tile: { BM: 128, BN: 128, BK: 8, threads: 256, prefetch: true }, TN: 8, vec4: true },
};
export const DEFAULT_F32_VARIANT = 'm64n64-v4';

/** The tile and inner product of the f32 variant `name` (the default 16-row tile where M ≤ 16); a one-line error naming the variants for an unknown name. */
export function f32Choice(name: string = DEFAULT_F32_VARIANT): GemmChoice {
  const v = F32_VARIANTS[name];
  if (!v) throw new Error(`conv-gemm: unknown tile variant '${name}' (one of ${Object.keys(F32_VARIANTS).join(', ')})`);
  const inner = f32Inner(v.TN, v.vec4);
  return (M) => {
    const tile = tileFor(M, v.tile);
    return { tile, inner: tile === TILE_SMALL ? F32_STRIDED : inner };
  };
}

function gemmShader(spec: ConvGemmSpec, g: Sizes, S: number, chunk: number, outputs: string[], inner: GemmInner, shape: TileShape): RoutineShader {
  const { M, N, K, H, W, kh, kw, ho, wo } = g;
  const KK = kh * kw;
  const howo = ho * wo;
  const [L, R] = [spec.lhs, spec.rhs];
  const [padY, padX] = spec.padLo;
  const { BM, BN, BK, threads: THREADS } = shape;
  const tilesN = Math.ceil(N / BN);
  const { aStride: A_STRIDE, bStride: B_STRIDE } = inner.strides(shape);
  const tile: GemmTile = { ...shape, M, N, aStride: A_STRIDE, bStride: B_STRIDE };
  const cvt = (v: string) => (inner.elem === 'f32' ? v : `${inner.elem}(${v})`);
  const staged = inner.vec4 ? `vec4<${inner.elem}>` : inner.elem;
  const stagedBytes = BK * (A_STRIDE + B_STRIDE) * (inner.vec4 ? 4 : 1) * (inner.elem === 'f16' ? 2 : 4) + (inner.declBytes?.(tile) ?? 0);
  if (THREADS % BK || THREADS % BM || THREADS % BN || (BM * BK) % THREADS || (BN * BK) % THREADS || stagedBytes > MAX_WORKGROUP_BYTES)
    throw new Error(`conv-gemm: a ${BM}×${BN}×${BK} tile of ${THREADS} threads cannot be staged (${stagedBytes} bytes of workgroup memory, at most ${MAX_WORKGROUP_BYTES})`);
  const tilesM = Math.ceil(M / BM);
  const workgroups = tilesN * tilesM * S;
  const [gx, gy] = grid2d(workgroups);
  const aPerThread = (BM * BK) / THREADS; // loads of A per thread per K-tile (8, or 2 for small M, by default)
  const bPerThread = (BN * BK) / THREADS; // loads of B (8 by default)
  // run lengths along k and along m/n of each operand's unit-stride dim decide the load mapping
  const aKFast = kFastest(Math.abs(R.strides[3]) === 1 ? kw : Math.abs(R.strides[1]) === 1 ? R.shape[1] : 0, Math.abs(R.strides[0]) === 1 ? M : 0);
  const bKFast = kFastest(kw, wo);
  // (kk, mm) of load r for thread t, as WGSL expressions of t
  const loadIdx = (kFast: boolean, mn: number, r: number): { kk: string; mm: string } =>
    kFast
      ? { kk: `(t % ${BK})`, mm: `(t / ${BK} + ${(THREADS / BK) * r})` }
      : { kk: `(t / ${mn} + ${(THREADS / mn) * r})`, mm: `(t % ${mn})` };
  // the staged element (kk, mm) of As or Bs
  const stagedAt = (arr: string, stride: number, kk: string, mm: string) => (inner.vec4 ? `${arr}[${kk} * ${stride} + ${mm} / 4][${mm} % 4]` : `${arr}[${kk} * ${stride} + ${mm}]`);
  const { decl, uses } = bindings(['lhs', 'rhs'], outputs);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  for (const l of inner.enables) emit(l);
  emit(decl);
  emit(`var<workgroup> As: array<${staged}, ${BK * A_STRIDE}>;`);
  emit(`var<workgroup> Bs: array<${staged}, ${BK * B_STRIDE}>;`);
  for (const l of inner.decls(tile)) emit(l);
  emit(`@compute @workgroup_size(${THREADS})`);
  emit(`fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {`);
  emit(`  ${uses}`);
  emit(`  let wid = i32(wg.y) * ${gx} + i32(wg.x);`);
  emit(`  if (wid >= ${workgroups}) { return; }`);
  emit(`  let t = i32(lid);`);
  emit(`  let tileN = wid % ${tilesN};`);
  emit(`  let tileM = (wid / ${tilesN}) % ${tilesM};`);
  emit(`  let split = wid / ${tilesN * tilesM};`);
  emit(`  let m0 = tileM * ${BM};`);
  emit(`  let n0 = tileN * ${BN};`);
  emit(`  let kBegin = split * ${chunk};`);
  emit(`  let kEnd = min(${K}, kBegin + ${chunk});`);
  // k-decomposition states: one per distinct kk expression, carried across K-tiles
  const kStates = new Map<string, string>();
  const kState = (kk: string): string => {
    let name = kStates.get(kk);
    if (name) return name;
    name = `k${kStates.size}`;
    kStates.set(kk, name);
    emit(`  var ${name} = kBegin + ${kk};`);
    emit(`  var ${name}c = ${name} / ${KK};`);
    emit(`  var ${name}y = (${name} % ${KK}) / ${kw};`);
    emit(`  var ${name}x = ${name} % ${kw};`);
    return name;
  };
  const aLoads: { kk: string; mm: string; k: string; r: number }[] = [];
  const bLoads: { kk: string; mm: string; k: string; r: number }[] = [];
  for (let r = 0; r < aPerThread; r++) {
    const a = loadIdx(aKFast, BM, r);
    aLoads.push({ ...a, k: kState(a.kk), r });
    emit(`  let am${r} = m0 + ${a.mm};`);
    emit(`  let aOff${r} = ${i32(R.offset)} + am${r} * ${i32(R.strides[0])};`);
    emit(`  let aOk${r} = am${r} < ${M};`);
  }
  for (let r = 0; r < bPerThread; r++) {
    const b = loadIdx(bKFast, BN, r);
    bLoads.push({ ...b, k: kState(b.kk), r });
    emit(`  let bn${r} = n0 + ${b.mm};`);
    emit(`  let bImg${r} = bn${r} / ${howo};`);
    emit(`  let bPix${r} = bn${r} % ${howo};`);
    emit(`  let bOff${r} = ${i32(L.offset)} + bImg${r} * ${i32(L.strides[0])};`);
    emit(`  let bY${r} = bPix${r} / ${wo} - ${padY};`);
    emit(`  let bX${r} = bPix${r} % ${wo} - ${padX};`);
    emit(`  let bOk${r} = bn${r} < ${N};`);
  }
  for (const l of inner.init(tile)) emit(l);
  // one K-tile's operands from memory into va/vb (zero outside the operand or past kEnd)
  const load = (ind: string, declare: boolean) => {
    const v = declare ? 'var ' : '';
    const ty = declare ? ': f32' : '';
    for (const a of aLoads) {
      const k = a.k;
      emit(`${ind}${v}va${a.r}${ty} = 0.0;`);
      emit(`${ind}if (aOk${a.r} && ${k} < kEnd) { va${a.r} = rhs[aOff${a.r} + ${k}c * ${i32(R.strides[1])} + ${k}y * ${i32(R.strides[2])} + ${k}x * ${i32(R.strides[3])}]; }`);
      if (declare) emit(`${ind}${stagedAt('As', A_STRIDE, a.kk, a.mm)} = ${cvt(`va${a.r}`)};`);
    }
    for (const b of bLoads) {
      const k = b.k;
      emit(`${ind}${v}vb${b.r}${ty} = 0.0;`);
      emit(`${ind}let iy${b.r} = bY${b.r} + ${k}y;`);
      emit(`${ind}let ix${b.r} = bX${b.r} + ${k}x;`);
      emit(`${ind}if (bOk${b.r} && ${k} < kEnd && iy${b.r} >= 0 && iy${b.r} < ${H} && ix${b.r} >= 0 && ix${b.r} < ${W}) { vb${b.r} = lhs[bOff${b.r} + ${k}c * ${i32(L.strides[1])} + iy${b.r} * ${i32(L.strides[2])} + ix${b.r} * ${i32(L.strides[3])}]; }`);
      if (declare) emit(`${ind}${stagedAt('Bs', B_STRIDE, b.kk, b.mm)} = ${cvt(`vb${b.r}`)};`);
    }
  };
  const stage = (ind: string) => {
    for (const a of aLoads) emit(`${ind}${stagedAt('As', A_STRIDE, a.kk, a.mm)} = ${cvt(`va${a.r}`)};`);
    for (const b of bLoads) emit(`${ind}${stagedAt('Bs', B_STRIDE, b.kk, b.mm)} = ${cvt(`vb${b.r}`)};`);
  };
  // advance each k state by BK: BK = q·KK + qy·kw + qx, added digit by digit with carries
  const advance = (ind: string) => {
    const q = Math.floor(BK / KK);
    const qy = Math.floor((BK % KK) / kw);
    const qx = BK % kw;
    for (const name of kStates.values()) {
      emit(`${ind}${name} += ${BK};`);
      if (qx) emit(`${ind}${name}x += ${qx}; if (${name}x >= ${kw}) { ${name}x -= ${kw}; ${name}y += 1; }`);
      if (qy || qx) emit(`${ind}${name}y += ${qy}; if (${name}y >= ${kh}) { ${name}y -= ${kh}; ${name}c += 1; }`);
      if (q) emit(`${ind}${name}c += ${q};`);
    }
  };
  if (!shape.prefetch) {
    // stage (load and store) a K-tile, multiply it, move on
    emit(`  for (var kt = kBegin; kt < kEnd; kt += ${BK}) {`);
    load('    ', true);
    emit(`    workgroupBarrier();`);
    for (const l of inner.compute(tile)) emit(l);
    emit(`    workgroupBarrier();`);
    advance('    ');
    emit(`  }`);
  } else {
    // registers hold the next K-tile: its loads are in flight while the current one is multiplied
    for (const a of aLoads) emit(`  var va${a.r}: f32;`);
    for (const b of bLoads) emit(`  var vb${b.r}: f32;`);
    emit(`  {`);
    load('    ', false);
    emit(`  }`);
    advance('  ');
    emit(`  for (var kt = kBegin; kt < kEnd; kt += ${BK}) {`);
    stage('    ');
    emit(`    workgroupBarrier();`);
    emit(`    {`);
    load('      ', false);
    emit(`    }`);
    advance('    ');
    for (const l of inner.compute(tile)) emit(l);
    emit(`    workgroupBarrier();`);
    emit(`  }`);
  }
  const store = (m: string, n: string, v: string) =>
    S > 1
      ? `if (${m} < ${M} && ${n} < ${N}) { scratch[split * ${M * N} + ${m} * ${N} + ${n}] = ${v}; }`
      : `if (${m} < ${M} && ${n} < ${N}) { out[((${n} / ${howo}) * ${M} + ${m}) * ${howo} + ${n} % ${howo}] = ${v}; }`;
  for (const l of inner.epilogue(tile, store)) emit(l);
  emit(`}`);
  return { code: lines.join('\n'), numInputs: 2, numOutputs: outputs.length, hasUniform: false, passes: [{ grid: [gx, gy] }] };
}

const SUM_THREADS = 256;

/** out[n, m, pix] = Σ_s scratch[s, m, n·HoWo + pix]: the second pass of split-K, one thread per output. */
function sumShader(g: Sizes, outShape: number[], S: number, outputs: string[]): RoutineShader {
  const { M, N } = g;
  const howo = outShape[2] * outShape[3];
  const total = M * N;
  const workgroups = Math.ceil(total / SUM_THREADS);
  const [gx, gy] = grid2d(workgroups);
  const { decl, uses } = bindings(['lhs', 'rhs'], outputs);
  const code = `${decl}
@compute @workgroup_size(${SUM_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${uses}
  let o = (i32(wg.y) * ${gx} + i32(wg.x)) * ${SUM_THREADS} + i32(lid);
  if (o >= ${total}) { return; }
  let img = o / ${M * howo};
  let m = (o / ${howo}) % ${M};
  let src = m * ${N} + img * ${howo} + o % ${howo};
  var acc: f32 = 0.0;
  for (var s = 0; s < ${S}; s++) { acc += scratch[s * ${total} + src]; }
  out[o] = acc;
}`;
  return { code, numInputs: 2, numOutputs: outputs.length, hasUniform: false, passes: [{ grid: [gx, gy] }] };
}
