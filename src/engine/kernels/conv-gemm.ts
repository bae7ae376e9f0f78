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
 * B[k,n] = L[…] (im2col, never materialized). Tiling: a workgroup of 128 threads computes a 64×64 tile
 * (16×64 when M ≤ 16) of the output (each thread 8×4 outputs in registers, 2×4 for the small tile:
 * rows ty + 8i, columns tx + 16j, so neighbouring threads write neighbouring pixels), stepping through
 * K in 16-deep tiles of A and B staged in workgroup memory. Loads are mapped so that neighbouring threads read neighbouring addresses (along k
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

/** The sizes of one workgroup tile, as a GEMM inner product sees them. */
export interface GemmTile {
  /** GEMM sizes (outputs M × N) and the tile's rows (64 or 16) and columns (BN). */
  M: number;
  N: number;
  BM: number;
  BN: number;
  /** Reduction depth staged per step. */
  BK: number;
  threads: number;
  /** Row pitches (elements) of the staged tiles As [BK][aStride] (m fastest) and Bs [BK][bStride] (n fastest). */
  aStride: number;
  bStride: number;
}

/**
 * What differs between GEMM inner products over the same staged tiles: the f32 one here (each thread
 * 8×4 outputs by FMAs) and the f16 subgroup-matrix one (conv-gemm-f16.ts). Tiling, operand staging,
 * the K loop and split-K are shared (`convGemmPlan`). Every hook returns WGSL lines.
 */
export interface GemmInner {
  /** Directives before the bindings (`enable …;`). */
  enables: string[];
  /** Element type of the staged tiles; loads are converted to it. */
  elem: 'f32' | 'f16';
  /** Row pitches of As and Bs for a tile of `BM` rows. */
  strides: (BM: number) => { aStride: number; bStride: number };
  /** Declarations after As and Bs (module scope). */
  decls: (t: GemmTile) => string[];
  /** Accumulators, before the K loop (`t` is the i32 invocation index). */
  init: (t: GemmTile) => string[];
  /** Accumulates As·Bs, between the barriers that follow staging. */
  compute: (t: GemmTile) => string[];
  /** Writes the accumulators; `store(m, n, v)` is the bounds-checked statement writing output (m, n) = v. */
  epilogue: (t: GemmTile, store: (m: string, n: string, v: string) => string) => string[];
}

/** Output rows (o) per workgroup: 64, or 16 when the conv has ≤ 16 output channels (a 1-channel image's
 * last conv, the input gradient of its first), which would leave most of a 64-row tile idle. */
const BM_LARGE = 64;
const BM_SMALL = 16;
const rowsPerTile = (M: number) => (M <= BM_SMALL ? BM_SMALL : BM_LARGE);
const BN = 64; // output columns (pixels) per workgroup
const BK = 16; // reduction depth staged per step
const TX = 16; // threads along n
const TY = 8; // threads along m
const THREADS = TX * TY;
const TN = BN / TX; // 4 columns per thread
/** The workgroup tiles `convGemmPlan` makes, whatever the inner product: rows BM (64, or 16 for M ≤ 16) × BN columns, BK deep, `threads` invocations. */
export const GEMM_TILES = { rows: [BM_LARGE, BM_SMALL], BN, BK, threads: THREADS } as const;
/** Workgroups that fill a large GPU (an H100 has 132 SMs): split K until M×N tiles × splits reach it. */
const TARGET_WORKGROUPS = 1024;
const MIN_K_TILES_PER_SPLIT = 16;
const MAX_SPLITS = 128;
const MAX_SCRATCH_FLOATS = 1 << 24;

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

/** How many K splits: enough workgroups to fill a GPU, each split ≥ 16 K-tiles, loops within llvmpipe's limit. */
export function chooseSplits(M: number, N: number, K: number): number {
  const tiles = Math.ceil(M / rowsPerTile(M)) * Math.ceil(N / BN);
  const kTiles = Math.ceil(K / BK);
  let s = Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.ceil(kTiles / MIN_K_TILES_PER_SPLIT), MAX_SPLITS, Math.floor(MAX_SCRATCH_FLOATS / (M * N)));
  s = Math.max(1, s, Math.ceil(kTiles / MAX_LOOP_ITERATIONS));
  if (s === 1) return 1;
  const chunkTiles = Math.ceil(kTiles / s);
  return Math.ceil(kTiles / chunkTiles);
}

/** The routine for one conv: one GEMM shader (inner product `inner`, f32 FMAs by default), plus a summing shader when K is split. */
export function convGemmPlan(spec: ConvGemmSpec, splits?: number, inner: GemmInner = F32_INNER): ConvGemmPlan {
  const g = gemmSizes(spec);
  const S = splits ?? chooseSplits(g.M, g.N, g.K);
  const kTiles = Math.ceil(g.K / BK);
  const chunk = Math.ceil(kTiles / S) * BK; // K per split, a multiple of BK
  if (Math.ceil(g.K / chunk) !== S) throw new Error(`conv-gemm: ${S} splits do not divide K = ${g.K} into non-empty chunks`);
  if (chunk / BK > MAX_LOOP_ITERATIONS) throw new Error(`conv-gemm: ${chunk / BK} K-tiles per split exceed the ${MAX_LOOP_ITERATIONS}-iteration loop limit`);
  const outputs = S > 1 ? ['out', 'scratch'] : ['out'];
  const shaders = [gemmShader(spec, g, S, chunk, outputs, inner)];
  if (S > 1) shaders.push(sumShader(g, spec.outShape, S, outputs));
  return { splits: S, scratchBytes: S > 1 ? [S * g.M * g.N * 4] : [], shaders };
}

type Sizes = ReturnType<typeof gemmSizes>;

/** Which index runs fastest across threads when loading a tile: k, or the tile's own m/n. */
function kFastest(kRun: number, otherRun: number): boolean {
  return kRun > otherRun;
}

/** 8×4 outputs per thread (2×4 for a 16-row tile), rows ty + 8i, columns tx + 16j, by f32 FMAs. */
const F32_INNER: GemmInner = {
  enables: [],
  elem: 'f32',
  // +1: fewer bank conflicts on the k-major stores
  strides: (BM) => ({ aStride: BM + 1, bStride: BN + 1 }),
  decls: () => [],
  init: ({ BM }) => {
    const lines = [`  let ty = t / ${TX};`, `  let tx = t % ${TX};`];
    for (let i = 0; i < BM / TY; i++) for (let j = 0; j < TN; j++) lines.push(`  var acc${i}_${j}: f32 = 0.0;`);
    return lines;
  },
  compute: ({ BM, aStride, bStride }) => {
    const lines: string[] = [];
    const TM = BM / TY;
    for (let kk = 0; kk < BK; kk++) {
      for (let i = 0; i < TM; i++) lines.push(`    let a${kk}_${i} = As[${kk * aStride} + ty + ${i * TY}];`);
      for (let j = 0; j < TN; j++) lines.push(`    let b${kk}_${j} = Bs[${kk * bStride} + tx + ${j * TX}];`);
      for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) lines.push(`    acc${i}_${j} = fma(a${kk}_${i}, b${kk}_${j}, acc${i}_${j});`);
    }
    return lines;
  },
  epilogue: ({ BM }, store) => {
    const lines: string[] = [];
    for (let i = 0; i < BM / TY; i++) {
      lines.push(`  let om${i} = m0 + ty + ${i * TY};`);
      for (let j = 0; j < TN; j++) lines.push(`  ${store(`om${i}`, `(n0 + tx + ${j * TX})`, `acc${i}_${j}`)}`);
    }
    return lines;
  },
};

function gemmShader(spec: ConvGemmSpec, g: Sizes, S: number, chunk: number, outputs: string[], inner: GemmInner): RoutineShader {
  const { M, N, K, H, W, kh, kw, ho, wo } = g;
  const KK = kh * kw;
  const howo = ho * wo;
  const [L, R] = [spec.lhs, spec.rhs];
  const [padY, padX] = spec.padLo;
  const tilesN = Math.ceil(N / BN);
  const BM = rowsPerTile(M);
  const { aStride: A_STRIDE, bStride: B_STRIDE } = inner.strides(BM);
  const tile: GemmTile = { M, N, BM, BN, BK, threads: THREADS, aStride: A_STRIDE, bStride: B_STRIDE };
  const cvt = (v: string) => (inner.elem === 'f32' ? v : `${inner.elem}(${v})`);
  const tilesM = Math.ceil(M / BM);
  const workgroups = tilesN * tilesM * S;
  const [gx, gy] = grid2d(workgroups);
  const aPerThread = (BM * BK) / THREADS; // loads of A per thread per K-tile (8, or 2 for small M)
  const bPerThread = (BN * BK) / THREADS; // loads of B (8)
  // run lengths along k and along m/n of each operand's unit-stride dim decide the load mapping
  const aKFast = kFastest(Math.abs(R.strides[3]) === 1 ? kw : Math.abs(R.strides[1]) === 1 ? R.shape[1] : 0, Math.abs(R.strides[0]) === 1 ? M : 0);
  const bKFast = kFastest(kw, wo);
  // (kk, mm) of load r for thread t, as WGSL expressions of t
  const loadIdx = (kFast: boolean, mn: number, r: number): { kk: string; mm: string } =>
    kFast
      ? { kk: `(t % ${BK})`, mm: `(t / ${BK} + ${(THREADS / BK) * r})` }
      : { kk: `(t / ${mn} + ${(THREADS / mn) * r})`, mm: `(t % ${mn})` };
  const { decl, uses } = bindings(['lhs', 'rhs'], outputs);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  for (const l of inner.enables) emit(l);
  emit(decl);
  emit(`var<workgroup> As: array<${inner.elem}, ${BK * A_STRIDE}>;`);
  emit(`var<workgroup> Bs: array<${inner.elem}, ${BK * B_STRIDE}>;`);
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
  emit(`  for (var kt = kBegin; kt < kEnd; kt += ${BK}) {`);
  for (const a of aLoads) {
    const k = a.k;
    emit(`    var va${a.r}: f32 = 0.0;`);
    emit(`    if (aOk${a.r} && ${k} < kEnd) { va${a.r} = rhs[aOff${a.r} + ${k}c * ${i32(R.strides[1])} + ${k}y * ${i32(R.strides[2])} + ${k}x * ${i32(R.strides[3])}]; }`);
    emit(`    As[${a.kk} * ${A_STRIDE} + ${a.mm}] = ${cvt(`va${a.r}`)};`);
  }
  for (const b of bLoads) {
    const k = b.k;
    emit(`    var vb${b.r}: f32 = 0.0;`);
    emit(`    let iy${b.r} = bY${b.r} + ${k}y;`);
    emit(`    let ix${b.r} = bX${b.r} + ${k}x;`);
    emit(`    if (bOk${b.r} && ${k} < kEnd && iy${b.r} >= 0 && iy${b.r} < ${H} && ix${b.r} >= 0 && ix${b.r} < ${W}) { vb${b.r} = lhs[bOff${b.r} + ${k}c * ${i32(L.strides[1])} + iy${b.r} * ${i32(L.strides[2])} + ix${b.r} * ${i32(L.strides[3])}]; }`);
    emit(`    Bs[${b.kk} * ${B_STRIDE} + ${b.mm}] = ${cvt(`vb${b.r}`)};`);
  }
  emit(`    workgroupBarrier();`);
  for (const l of inner.compute(tile)) emit(l);
  emit(`    workgroupBarrier();`);
  // advance each k state by BK: BK = q·KK + qy·kw + qx, added digit by digit with carries
  const q = Math.floor(BK / KK);
  const qy = Math.floor((BK % KK) / kw);
  const qx = BK % kw;
  for (const name of kStates.values()) {
    emit(`    ${name} += ${BK};`);
    if (qx) emit(`    ${name}x += ${qx}; if (${name}x >= ${kw}) { ${name}x -= ${kw}; ${name}y += 1; }`);
    if (qy || qx) emit(`    ${name}y += ${qy}; if (${name}y >= ${kh}) { ${name}y -= ${kh}; ${name}c += 1; }`);
    if (q) emit(`    ${name}c += ${q};`);
  }
  emit(`  }`);
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
