/**
 * The step executor: runs a compiled jax-js jit program on WebGPU as one recorded pass.
 *
 * jax-js 0.1.25 runs a jit program kernel by kernel: a `malloc` per intermediate, a pending object per
 * kernel, and per kernel a command encoder, a bind group, a uniform buffer and a `queue.submit` — 41 µs
 * of host time per dispatch on an H100 where one replayed compute pass costs 4.5 µs
 * (../shared/probes/dispatch.mjs; issue 25). Every training step here is one jit call with fixed
 * shapes, so its kernel list, its buffers' sizes and their lifetimes are the same on every call. On the
 * first call of a program this executor makes a plan once:
 *   - every intermediate gets a slot in a static buffer arena owned by the plan (a buffer is reused
 *     once the last kernel that reads it has run: liveness from the program's own `free` steps);
 *   - every kernel's pipeline is prepared, its uniform buffer written and, where all its buffers are
 *     arena buffers, its bind group made — once.
 * Each call then only allocates the program's outputs (real jax-js slots, handed to the caller as
 * usual) and returns one pending entry; when jax-js submits it, the whole step is encoded in one
 * command encoder and one compute pass (a new pass only where a kernel clears its outputs first) and
 * submitted once. Bind groups that name program inputs or outputs (whose buffers change between calls)
 * are kept in a small per-kernel cache keyed by the buffers, so the buffers a training loop cycles
 * through are bound once each.
 *
 * Results are those of the stock path: the same kernels, in program order, on the same inputs (Dawn
 * orders dispatches of one pass through its per-dispatch usage tracking and barriers). The stock path
 * stays the reference: `DI_EXECUTOR=0` (or `setExecutor(false)`) turns this off; tests compare both.
 * One arena per program means its calls must not overlap on the GPU, and they cannot: each call is
 * encoded whole into the queue, in submission order.
 *
 * Layering: jax-js offers each program to us through the 'jit-executor' patch (patches/jax-js.mjs); this
 * module knows jax-js's program steps and WebGPU executables, and nothing above it in this project.
 */

/** Minimal views of jax-js internals (0.1.25, patched); see node_modules/@jax-js/jax/dist/index.js `JitProgram`. */
type Slot = number;
type Step =
  | { type: 'execute'; source: object; inputs: number[]; outputs: number[] }
  | { type: 'malloc'; size: number; output: number }
  | { type: 'incref'; input: number }
  | { type: 'free'; input: number };
interface Program {
  backend: WebGPUBackendLike;
  steps: Step[];
  inputs: number[];
  outputs: number[];
}
interface ShaderInfo {
  pipeline: GPUComputePipeline;
  numInputs: number;
  numOutputs: number;
  hasUniform: boolean;
  clearOutputs?: boolean;
  passes: { grid: [number, number]; uniform?: Uint8Array }[];
}
interface Executable {
  data: ShaderInfo[];
}
interface WebGPUBackendLike {
  type: string;
  device: GPUDevice;
  malloc(size: number): Slot;
  incRef(slot: Slot): void;
  decRef(slot: Slot): void;
  gpuBuffer(slot: Slot): GPUBuffer;
  mallocPreferring(size: number, preferred: GPUBuffer[]): Slot;
}
type Prepare = (source: object, sync: boolean) => Executable | Promise<Executable>;
/** What a pending entry must do for jax-js (same contract as its `PendingExecute`). */
interface PendingLike {
  submitted: boolean;
  updateRc(delta: number): void;
  prepare(): Promise<void>;
  prepareSync(): void;
  submit(): void;
}

// GPUBufferUsage / GPUMapMode values (WebGPU spec), so this module needs no globals at load time.
const STORAGE = 0x80, COPY_SRC = 0x04, COPY_DST = 0x08, UNIFORM = 0x40, QUERY_RESOLVE = 0x200, MAP_READ = 0x01;
const MAP_MODE_READ = 0x1;

/** Where a kernel's buffer comes from on each call. */
type BufRef = { kind: 'input'; index: number } | { kind: 'output'; index: number } | { kind: 'arena'; buffer: GPUBuffer };

interface Op {
  source: object;
  exe: Executable | null;
  refs: BufRef[]; // inputs then outputs, in binding order
  /** Per shader of the executable: fixed bind group (all arena) or a small cache keyed by buffers. */
  bind: ({ fixed: GPUBindGroup } | { cache: Map<string, GPUBindGroup> })[];
  uniforms: ({ group: GPUBindGroup; offsets: number[][] } | null)[];
  /** Per shader: its passes with work (jax-js skips empty grids). */
  live: { grid: [number, number] }[][];
}

/** Host-side counters, for `bench` and tests. */
export interface ExecutorStats {
  /** Programs planned (first calls). */
  plans: number;
  /** Calls run by the executor. */
  calls: number;
  /** Kernel dispatches encoded (workgroup launches, each pass of a multi-pass kernel counted). */
  dispatches: number;
  /** Compute passes begun (one per submit, plus one after each clearing kernel). */
  passes: number;
  /** Bind groups created (plans and cache misses). */
  bindGroups: number;
  /** ms spent encoding and submitting. */
  encodeMs: number;
  /** Of `encodeMs`, ms spent in `encoder.finish()` and `queue.submit` (where Dawn's backend records and hands over the commands). */
  submitMs: number;
  /** ms of GPU time measured with timestamp queries (only while `gpuTiming` is on). */
  gpuMs: number;
  /** Steps whose GPU time has been read back. */
  gpuTimedCalls: number;
  /** Arena bytes held by all plans. */
  arenaBytes: number;
}

const stats: ExecutorStats = { plans: 0, calls: 0, dispatches: 0, passes: 0, bindGroups: 0, encodeMs: 0, submitMs: 0, gpuMs: 0, gpuTimedCalls: 0, arenaBytes: 0 };
export function executorStats(): ExecutorStats {
  return { ...stats };
}
export function resetExecutorStats(): void {
  for (const k of Object.keys(stats) as (keyof ExecutorStats)[]) if (k !== 'arenaBytes') stats[k] = 0;
}

const BIND_CACHE = 16; // bind groups kept per kernel for changing input/output buffers
const CALL_CACHE = 8; // resolved bind-group lists kept per program, by the call's buffers
const envInt = (name: string, dflt: number) => {
  const v = Number((globalThis as any).process?.env?.[name]);
  return Number.isInteger(v) && v > 0 ? v : dflt;
};
/** Kernels encoded before the first submit of a call, then per submit (`DI_EXECUTOR_CHUNK`). */
const FIRST_CHUNK = envInt('DI_EXECUTOR_FIRST_CHUNK', 64);
const CHUNK = envInt('DI_EXECUTOR_CHUNK', 384);
const RECENT = 8; // buffers remembered per program output
const SMALL = 4096; // bytes: inputs and outputs up to this size are staged through the arena
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
function bufferId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, (id = nextBufferId++));
  return id;
}

/** Where a kernel's buffer is on a call whose inputs and outputs are `ins`/`outs`. */
const bufferOf = (ins: GPUBuffer[], outs: GPUBuffer[]) => (r: BufRef): GPUBuffer => (r.kind === 'arena' ? r.buffer : r.kind === 'input' ? ins[r.index] : outs[r.index]);

/** The plan of one program: arena, ops, prepared executables. */
class Plan {
  readonly ops: Op[] = [];
  /** For each program output: which real slot it is (index into the call's outputs) or an input. */
  readonly outputSource: ({ kind: 'new'; size: number } | { kind: 'input'; index: number } | { kind: 'same'; as: number })[] = [];
  readonly arena: GPUBuffer[] = [];
  /** Per program output: the buffers it had lately, most recent first (offered back to the pool's malloc). */
  readonly recent: GPUBuffer[][] = [];
  #prepared: Promise<void> | null = null;
  #ready = false;
  readonly chunk: number;
  readonly firstChunk: number;

  /** Small inputs and outputs go through arena buffers (one copy each way), so their kernels' bind groups stay fixed. */
  readonly stageIn: { index: number; buffer: GPUBuffer }[] = [];
  readonly stageOut: { index: number; buffer: GPUBuffer }[] = [];

  constructor(readonly program: Program, readonly prepare: Prepare, inputBytes: number[]) {
    const device = program.backend.device;
    const inputIndex = new Map(program.inputs.map((id, i) => [id, i]));
    const newArena = (bytes: number) => {
      const b = device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
      this.arena.push(b);
      stats.arenaBytes += bytes;
      return b;
    };
    const outputIds = program.outputs;
    // output ids: first occurrence allocates; a repeated id (the program emits incref) shares it
    const outputIndex = new Map<number, number>();
    outputIds.forEach((id, j) => {
      if (inputIndex.has(id)) this.outputSource.push({ kind: 'input', index: inputIndex.get(id)! });
      else if (outputIndex.has(id)) this.outputSource.push({ kind: 'same', as: outputIndex.get(id)! });
      else {
        outputIndex.set(id, j);
        this.outputSource.push({ kind: 'new', size: 0 });
      }
    });
    // arena: exact-size free lists, liveness from the program's own malloc/free steps
    const free = new Map<number, GPUBuffer[]>();
    const live = new Map<number, GPUBuffer>();
    const resolve = (id: number): BufRef => {
      const i = inputIndex.get(id);
      if (i !== undefined) return { kind: 'input', index: i };
      const j = outputIndex.get(id);
      if (j !== undefined) return { kind: 'output', index: j };
      const b = live.get(id);
      if (!b) throw new Error(`executor: program buffer %${id} used before malloc`);
      return { kind: 'arena', buffer: b };
    };
    for (const step of program.steps) {
      switch (step.type) {
        case 'malloc': {
          const j = outputIndex.get(step.output);
          if (j !== undefined) {
            this.outputSource[j] = { kind: 'new', size: step.size };
            break;
          }
          const bytes = Math.max(4, Math.ceil(step.size / 4) * 4);
          live.set(step.output, free.get(bytes)?.pop() ?? newArena(bytes));
          break;
        }
        case 'free': {
          const b = live.get(step.input);
          if (!b) break; // not an arena buffer (the stock path frees only its own mallocs)
          live.delete(step.input);
          const bytes = b.size;
          if (!free.has(bytes)) free.set(bytes, []);
          free.get(bytes)!.push(b);
          break;
        }
        case 'incref':
          break; // only outputs and inputs are reference-counted, per call (see execute)
        case 'execute':
          this.ops.push({ source: step.source, exe: null, refs: [...step.inputs, ...step.outputs].map(resolve), bind: [], uniforms: [], live: [] });
          break;
      }
    }
    for (const [j, o] of this.outputSource.entries()) {
      if (o.kind === 'new' && o.size === 0 && !program.steps.some((s) => s.type === 'malloc' && s.output === outputIds[j])) {
        throw new Error(`executor: program output %${outputIds[j]} is neither an input nor allocated`);
      }
    }
    // Scalars and other small buffers (keys, losses, flags, lr scales) change identity every call and
    // would defeat the bind-group cache of every kernel that reads them (a guard flag is read by every
    // Adam kernel): they are copied into / out of fixed arena buffers instead.
    const stagedIn = new Map<number, GPUBuffer>();
    inputBytes.forEach((bytes, i) => {
      if (bytes <= SMALL) {
        const b = newArena(Math.max(4, bytes));
        stagedIn.set(i, b);
        this.stageIn.push({ index: i, buffer: b });
      }
    });
    const stagedOut = new Map<number, GPUBuffer>();
    this.outputSource.forEach((o, j) => {
      if (o.kind === 'new' && o.size <= SMALL) {
        const b = newArena(Math.max(4, Math.ceil(o.size / 4) * 4));
        stagedOut.set(j, b);
        this.stageOut.push({ index: j, buffer: b });
      }
    });
    for (const op of this.ops) {
      op.refs = op.refs.map((r) => {
        const staged = r.kind === 'input' ? stagedIn.get(r.index) : r.kind === 'output' ? stagedOut.get(r.index) : undefined;
        return staged ? { kind: 'arena', buffer: staged } : r;
      });
    }
    // Submits: a short first chunk so the GPU starts while the rest is encoded, then chunks of CHUNK
    // kernels (in a browser also so a long step does not hold the GPU process in one command buffer).
    this.firstChunk = FIRST_CHUNK;
    this.chunk = CHUNK;
    stats.plans++;
  }

  async prepareAsync(): Promise<void> {
    if (this.#ready) return;
    this.#prepared ??= (async () => {
      const exes = await Promise.all(this.ops.map((op) => this.prepare(op.source, false)));
      this.#finish(exes);
    })();
    await this.#prepared;
  }

  prepareSync(): void {
    if (this.#ready) return;
    this.#finish(this.ops.map((op) => this.prepare(op.source, true) as Executable));
  }

  /** Makes what never changes: uniform buffers and the bind groups of arena-only kernels. */
  #finish(exes: Executable[]): void {
    if (this.#ready) return;
    const device = this.program.backend.device;
    const minAlign = device.limits.minUniformBufferOffsetAlignment;
    this.ops.forEach((op, k) => {
      op.exe = exes[k];
      for (const sh of op.exe.data) {
        if (sh.numInputs + sh.numOutputs !== op.refs.length) {
          throw new Error(`executor: kernel expects ${sh.numInputs}+${sh.numOutputs} buffers, program gives ${op.refs.length}`);
        }
        const arenaOnly = op.refs.every((r) => r.kind === 'arena');
        op.bind.push(
          arenaOnly ? { fixed: makeBindGroup(device, sh.pipeline, op.refs.map((r) => (r as { buffer: GPUBuffer }).buffer)) } : { cache: new Map() },
        );
        const live = sh.passes.filter((p) => p.grid[0] * p.grid[1] > 0);
        op.live.push(live);
        if (sh.hasUniform && live.length > 0) {
          const size = live[0].uniform!.byteLength;
          const stride = Math.ceil(size / minAlign) * minAlign;
          const buf = device.createBuffer({ size: stride * live.length, usage: UNIFORM, mappedAtCreation: true });
          const bytes = new Uint8Array(buf.getMappedRange());
          live.forEach((p, i) => bytes.set(p.uniform!, i * stride));
          buf.unmap();
          stats.bindGroups++;
          op.uniforms.push({
            group: device.createBindGroup({ layout: sh.pipeline.getBindGroupLayout(1), entries: [{ binding: 0, resource: { buffer: buf, size } }] }),
            offsets: live.map((_, i) => [i * stride]),
          });
        } else op.uniforms.push(null);
      }
    });
    this.#ready = true;
  }

  /** The plan's kernels by class ('map size N', 'reduce Op:len size N', or a routine's name), with their dispatches. */
  census(): Map<string, { kernels: number; dispatches: number }> {
    const out = new Map<string, { kernels: number; dispatches: number }>();
    this.ops.forEach((op) => {
      const src = op.source as { size?: number; reduction?: { op: string; size: number }; name?: string; exp?: unknown };
      const kind = src.exp === undefined ? `routine ${src.name}` : src.reduction ? `reduce ${src.reduction.op}:${src.reduction.size} size ${src.size}` : `map size ${src.size}`;
      const c = out.get(kind) ?? { kernels: 0, dispatches: 0 };
      c.kernels++;
      c.dispatches += op.live.reduce((n, l) => n + l.length, 0);
      out.set(kind, c);
    });
    return out;
  }

  /**
   * Every kernel's bind group for a call whose inputs and outputs are `ins`/`outs`: fixed ones as made
   * at planning, the others from the kernel's own cache. The whole list is remembered per call
   * signature (the buffers' identities), so a training loop that cycles through the same few buffers
   * resolves nothing per dispatch.
   */
  #groupsFor(ins: GPUBuffer[], outs: GPUBuffer[]): GPUBindGroup[][] {
    let key = '';
    for (const b of ins) key += bufferId(b) + ',';
    key += '|';
    for (const b of outs) key += bufferId(b) + ',';
    const hit = this.#calls.get(key);
    if (hit) {
      this.#calls.delete(key); // most recent last
      this.#calls.set(key, hit);
      return hit;
    }
    const device = this.program.backend.device;
    const bufOf = bufferOf(ins, outs);
    const groups = this.ops.map((op) =>
      op.bind.map((bind, s) => {
        if ('fixed' in bind) return bind.fixed;
        const bufs = op.refs.map(bufOf);
        const k = bufs.map(bufferId).join(',');
        let g = bind.cache.get(k);
        if (!g) {
          g = makeBindGroup(device, op.exe!.data[s].pipeline, bufs);
          if (bind.cache.size >= BIND_CACHE) bind.cache.delete(bind.cache.keys().next().value!);
          bind.cache.set(k, g);
        }
        return g;
      }),
    );
    if (this.#calls.size >= CALL_CACHE) this.#calls.delete(this.#calls.keys().next().value!);
    this.#calls.set(key, groups);
    return groups;
  }
  readonly #calls = new Map<string, GPUBindGroup[][]>();

  get ready(): boolean {
    return this.#ready;
  }

  /**
   * Encodes and submits one call: `ins`/`outs` are the call's GPU buffers. The first `firstChunk`
   * kernels are submitted on their own, then every `chunk`, so the GPU starts while the rest is encoded.
   */
  run(ins: GPUBuffer[], outs: GPUBuffer[]): void {
    const t0 = performance.now();
    const device = this.program.backend.device;
    const queue = device.queue as GPUQueue & { submitNow?: (cbs: GPUCommandBuffer[]) => void };
    const submit = (enc: GPUCommandEncoder) => {
      const t = performance.now();
      const cb = enc.finish();
      if (queue.submitNow) queue.submitNow([cb]);
      else queue.submit([cb]);
      stats.submitMs += performance.now() - t;
    };
    const groups = this.#groupsFor(ins, outs);
    const timer = gpuTimer(device);
    let encoder = device.createCommandEncoder();
    for (const { index, buffer } of this.stageIn) encoder.copyBufferToBuffer(ins[index], 0, buffer, 0, Math.min(buffer.size, ins[index].size));
    let pass = timer ? timer.begin(encoder) : encoder.beginComputePass();
    stats.passes++;
    let nextSubmit = this.firstChunk;
    let lastPipeline: GPUComputePipeline | null = null; // a pass keeps its pipeline between dispatches
    const restart = (clear: GPUBuffer[] | null, flush: boolean) => {
      pass.end();
      if (timer) timer.end(encoder);
      if (clear) for (const b of clear) encoder.clearBuffer(b);
      if (flush) {
        submit(encoder);
        encoder = device.createCommandEncoder();
      }
      pass = timer ? timer.begin(encoder) : encoder.beginComputePass();
      stats.passes++;
      lastPipeline = null;
    };
    const bufOf = bufferOf(ins, outs);
    const ops = this.ops;
    let dispatches = 0;
    for (let k = 0; k < ops.length; k++) {
      const op = ops[k];
      const data = op.exe!.data;
      const opGroups = groups[k];
      for (let s = 0; s < data.length; s++) {
        const sh = data[s];
        const live = op.live[s];
        if (sh.clearOutputs) restart(op.refs.slice(sh.numInputs).map(bufOf), false);
        if (live.length === 0) continue;
        if (sh.pipeline !== lastPipeline) pass.setPipeline((lastPipeline = sh.pipeline));
        pass.setBindGroup(0, opGroups[s]);
        const u = op.uniforms[s];
        for (let i = 0; i < live.length; i++) {
          if (u) pass.setBindGroup(1, u.group, u.offsets[i]);
          pass.dispatchWorkgroups(live[i].grid[0], live[i].grid[1]);
        }
        dispatches += live.length;
      }
      if (k + 1 === nextSubmit && k + 1 < ops.length) {
        restart(null, true);
        nextSubmit += this.chunk;
      }
    }
    stats.dispatches += dispatches;
    pass.end();
    if (timer) timer.end(encoder);
    for (const { index, buffer } of this.stageOut) encoder.copyBufferToBuffer(buffer, 0, outs[index], 0, buffer.size);
    timer?.resolve(encoder);
    submit(encoder);
    timer?.collect();
    stats.calls++;
    stats.encodeMs += performance.now() - t0;
  }
}

function makeBindGroup(device: GPUDevice, pipeline: GPUComputePipeline, buffers: GPUBuffer[]): GPUBindGroup {
  stats.bindGroups++;
  return device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
}

/** One call's pending entry: holds its input and output slots until submitted or cancelled. */
class ReplayPending implements PendingLike {
  submitted = false;
  #rc = 1;
  constructor(readonly plan: Plan, readonly backend: WebGPUBackendLike, readonly ins: Slot[], readonly outs: Slot[]) {
    for (const s of ins) backend.incRef(s);
    for (const s of outs) backend.incRef(s);
  }
  #release(): void {
    for (const s of this.ins) this.backend.decRef(s);
    for (const s of this.outs) this.backend.decRef(s);
  }
  updateRc(delta: number): void {
    if (this.#rc <= 0) throw new Error('internal: executor pending used rc<=0');
    this.#rc += delta;
    if (this.#rc <= 0 && !this.submitted) this.#release();
  }
  /** Compiled already? (the 'eager-submit' patch submits a call at once only then) */
  ready(): boolean {
    return this.plan.ready;
  }
  prepare(): Promise<void> {
    return this.plan.prepareAsync();
  }
  prepareSync(): void {
    this.plan.prepareSync();
  }
  submit(): void {
    if (this.submitted) return;
    if (this.#rc <= 0) throw new Error('internal: executor pending used rc<=0');
    this.submitted = true;
    const b = this.backend;
    this.plan.run(this.ins.map((s) => b.gpuBuffer(s)), this.outs.map((s) => b.gpuBuffer(s)));
    this.#release();
  }
}

const plans = new WeakMap<Program, Plan>();
let lastPlan: WeakRef<Plan> | null = null;

/**
 * Kernel classes of the program the executor ran most recently (null: none, or collected), most
 * dispatches first: what `scripts/count-step-kernels.ts --classes` prints to find kernels worth fusing.
 */
export function lastPlanCensus(): { kind: string; kernels: number; dispatches: number }[] | null {
  const plan = lastPlan?.deref();
  if (!plan?.ready) return null;
  return [...plan.census()].map(([kind, c]) => ({ kind, ...c })).sort((a, b) => b.dispatches - a.dispatches);
}
let enabled = (globalThis as any).process?.env?.DI_EXECUTOR !== '0';

/** The executor jax-js calls for every jit program on WebGPU (registered by `installExecutor`). */
const webgpuExecutor = {
  execute(program: Program, inputs: Slot[], prepare: Prepare): { outputs: Slot[]; pending: PendingLike[] } | null {
    if (!enabled || typeof program.backend.gpuBuffer !== 'function') return null;
    let plan = plans.get(program);
    if (!plan) plans.set(program, (plan = new Plan(program, prepare, inputs.map((s) => program.backend.gpuBuffer(s).size))));
    if (plan.ops.length === 0) return null; // nothing to run: the stock path handles pure aliasing
    lastPlan = new WeakRef(plan);
    const backend = program.backend;
    const outputs: Slot[] = [];
    for (const [j, o] of plan.outputSource.entries()) {
      if (o.kind === 'new') {
        // the same few buffers per output, call after call, keep the bind-group cache warm
        const recent = (plan.recent[j] ??= []);
        const slot = backend.mallocPreferring(o.size, recent);
        outputs.push(slot);
        const b = backend.gpuBuffer(slot);
        const at = recent.indexOf(b);
        if (at !== 0) {
          if (at > 0) recent.splice(at, 1);
          recent.unshift(b);
          if (recent.length > RECENT) recent.pop();
        }
      } else if (o.kind === 'input') {
        backend.incRef(inputs[o.index]);
        outputs.push(inputs[o.index]);
      } else {
        backend.incRef(outputs[o.as]);
        outputs.push(outputs[o.as]);
      }
    }
    // kernels bind outputs by their position among the program's outputs
    return { outputs, pending: [new ReplayPending(plan, backend, inputs, outputs)] };
  },
};

const REGISTRY = Symbol.for('diff-instruct.jitExecutors');
const EAGER = Symbol.for('diff-instruct.eagerSubmit');
let eager = (globalThis as any).process?.env?.DI_EAGER_SUBMIT !== '0';

/**
 * Registers the executor for jax-js's WebGPU jit programs (idempotent); `DI_EXECUTOR=0` leaves it off.
 * With it comes eager submission (jax-js patch 'eager-submit'): a jit call whose program is planned is
 * encoded and submitted when it is made, so the GPU works while the host prepares what follows (stock
 * jax-js submits only when a result is read). `DI_EAGER_SUBMIT=0` or `setEagerSubmit(false)` keeps
 * jax-js's lazy submission; with the executor off, submission is always jax-js's own.
 */
export function installExecutor(): void {
  const g = globalThis as any;
  g[REGISTRY] ??= new Map();
  g[REGISTRY].set('webgpu', webgpuExecutor);
  g[EAGER] = (backend: { type?: string } | undefined) => enabled && eager && backend?.type === 'webgpu';
}

/** Turns eager submission on or off (see `installExecutor`); returns the previous setting. */
export function setEagerSubmit(on: boolean): boolean {
  const prev = eager;
  eager = on;
  return prev;
}

export function eagerSubmitEnabled(): boolean {
  return eager;
}

/** Turns the executor on or off (tests and benches compare it with the stock path); returns the previous setting. */
export function setExecutor(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

export function executorEnabled(): boolean {
  return enabled;
}

// ---- GPU timing of replayed steps (timestamp queries around each pass) ----

let timing = false;
/** Measures the GPU time of every replayed call from now on (needs the device's 'timestamp-query'). */
export function setGpuTiming(on: boolean): boolean {
  const prev = timing;
  timing = on;
  return prev;
}

/** Waits for outstanding GPU time reads (call after the timed steps were read). */
export async function gpuTimingSettled(): Promise<void> {
  await Promise.all([...pendingReads]);
}
const pendingReads = new Set<Promise<void>>();

interface Timer {
  begin(enc: GPUCommandEncoder): GPUComputePassEncoder;
  end(enc: GPUCommandEncoder): void;
  resolve(enc: GPUCommandEncoder): void;
  collect(): void;
}

function gpuTimer(device: GPUDevice): Timer | null {
  if (!timing || !device.features.has('timestamp-query')) return null;
  const MAX = 64; // pass boundaries per call (passes restart only at clearing kernels)
  const qs = device.createQuerySet({ type: 'timestamp', count: 2 * MAX });
  let n = 0;
  const resolveBuf = device.createBuffer({ size: 16 * MAX, usage: QUERY_RESOLVE | COPY_SRC });
  const readBuf = device.createBuffer({ size: 16 * MAX, usage: MAP_READ | COPY_DST });
  return {
    begin(enc) {
      if (n >= MAX) return enc.beginComputePass();
      return enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * n, endOfPassWriteIndex: 2 * n + 1 } });
    },
    end() {
      if (n < MAX) n++;
    },
    resolve(enc) {
      enc.resolveQuerySet(qs, 0, 2 * n, resolveBuf, 0);
      enc.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, 16 * n);
    },
    collect() {
      const count = n;
      const p = readBuf.mapAsync(MAP_MODE_READ).then(() => {
        const t = new BigInt64Array(readBuf.getMappedRange().slice(0));
        let ns = 0n;
        for (let i = 0; i < count; i++) ns += t[2 * i + 1] - t[2 * i];
        stats.gpuMs += Number(ns) / 1e6;
        stats.gpuTimedCalls++;
        readBuf.unmap();
        readBuf.destroy();
        resolveBuf.destroy();
        qs.destroy();
      });
      pendingReads.add(p);
      void p.finally(() => pendingReads.delete(p));
    },
  };
}
