/**
 * Our patches to @jax-js/jax 0.1.25 (applied by scripts/patch-jax.mjs; documented in patches/README.md).
 * Each patch lists literal [before, after] replacements of the dist build.
 */

/**
 * pending-group: the outputs of one jit call share one pending entry for the whole compiled program.
 *
 * Stock 0.1.25 gives every output array of a jit call its own Set holding every kernel of the program
 * (plus everything its inputs were still waiting on), and trims those Sets on each access. A training
 * step returning a parameter tree of 570 arrays from a 2,700-kernel program thus builds 1.5 million
 * Set entries per step and walks them again when the next step takes the tree as input: host time
 * that grows with (outputs × kernels), and with every step left in flight. Here the program's kernels
 * sit in one `PendingGroup` (prepared, submitted, reference-counted and cancelled as a unit, in
 * program order), so each output holds a handful of entries. Semantics are unchanged: reading any
 * output submits the whole program, as before; disposing every output unread cancels it, as before.
 */
const pendingGroup = {
  name: 'pending-group',
  replace: [
    [
      `/**
* A multidimensional numeric array with data stored on CPU or GPU.`,
      `/** diff-instruct patch 'pending-group': the kernels of one jit call, submitted and counted as one. */
var PendingGroup = class {
	members;
	submitted = false;
	#rc = 1;
	#prepared = false;
	constructor(members) {
		this.members = members;
	}
	updateRc(delta) {
		if (this.#rc <= 0) throw new Error("internal: PendingGroup used rc<=0");
		this.#rc += delta;
		if (this.#rc <= 0 && !this.submitted) for (const exe of this.members) exe.updateRc(-1);
	}
	async prepare() {
		if (this.#prepared) return;
		await Promise.all(this.members.map((exe) => exe.prepare()));
		this.#prepared = true;
	}
	prepareSync() {
		if (this.#prepared) return;
		for (const exe of this.members) exe.prepareSync();
		this.#prepared = true;
	}
	submit() {
		if (this.submitted) return;
		if (this.#rc <= 0) throw new Error("internal: PendingGroup used rc<=0");
		this.submitted = true;
		for (const exe of this.members) exe.submit();
	}
};
/**
* A multidimensional numeric array with data stored on CPU or GPU.`,
    ],
    [
      `const { outputs, pending } = jitCompile(backend, jaxpr).execute(args.map((x) => x._realizeSource()));`,
      `const { outputs, pending: programPending } = jitCompile(backend, jaxpr).execute(args.map((x) => x._realizeSource()));
				const pending = programPending.length > 0 ? [new PendingGroup(programPending)] : [];`,
    ],
  ],
};

/**
 * wasm-inline: small Wasm kernels run on the calling thread instead of a worker round trip.
 *
 * Stock 0.1.25 sends every Wasm kernel to its worker pool when workers exist (at least one worker per
 * kernel, however small), so each kernel costs a postMessage to a worker, its wake-up and a reply —
 * tens of µs idle, far more on a busy 2-core machine — which dominates steps made of small kernels (the
 * 2-D MLP students: 1,100 generator images/s on ring8, 4,080 with the pool off). Here codegen records
 * each kernel's work (output elements × reduction length) and a kernel with at most
 * `DI_WASM_INLINE_WORK` (default 2^21 multiply-adds, a few hundred µs on one core; 0 turns this off) runs
 * on the dispatching thread, still inside the pool's serial queue, so it sees every earlier kernel's
 * writes and later kernels see its own. Instances are cached per compiled program (the pool-less
 * synchronous path used to instantiate the module on every call). Results are bit-identical: the same
 * compiled kernel runs over the same range, only on another thread.
 */
const wasmInline = {
  name: 'wasm-inline',
  file: 'backend',
  replace: [
    [
      `const MIN_ELEMS_PER_THREAD = 512;`,
      `const MIN_ELEMS_PER_THREAD = 512;
/** diff-instruct patch 'wasm-inline': kernels with at most this much work run on the dispatching thread. */
const WASM_INLINE_WORK = (() => {
	const v = Number(globalThis.process?.env?.DI_WASM_INLINE_WORK ?? 2097152);
	return Number.isFinite(v) && v >= 0 ? v : 2097152;
})();`,
    ],
    [
      `	dispatchRoutine(routine, inputs, outputs) {`,
      `	/** diff-instruct patch 'wasm-inline': runs \`run\` on this thread, in queue order. */
	dispatchInline(run) {
		return this.#enqueue(async () => run());
	}
	dispatchRoutine(routine, inputs, outputs) {`,
    ],
    [
      `		workSize: kernel.size,
		chunkAlignment:`,
      `		workSize: kernel.size,
		work: kernel.size * (re ? re.size : 1),
		chunkAlignment:`,
    ],
    [
      `				const epoch = this.#workerPool.dispatch(program.kernelHash, program.module, ptrs, program.workSize, program.chunkAlignment, program.minWorkPerWorker);`,
      `				const epoch = program.work <= WASM_INLINE_WORK ? this.#workerPool.dispatchInline(() => this.#mainKernel(program)(...ptrs, 0, program.workSize)) : this.#workerPool.dispatch(program.kernelHash, program.module, ptrs, program.workSize, program.chunkAlignment, program.minWorkPerWorker);`,
    ],
    [
      `				const func = new WebAssembly.Instance(program.module, { env: { memory: this.#memory } }).exports.kernel;
				func(...ptrs, 0, program.workSize);`,
      `				this.#mainKernel(program)(...ptrs, 0, program.workSize);`,
    ],
    [
      `	#getBuffer(slot) {
		const buffer = this.#buffers.get(slot);
		if (!buffer) throw new SlotError(slot);
		return new Uint8Array(this.#memory.buffer, buffer.ptr, buffer.size);
	}`,
      `	#getBuffer(slot) {
		const buffer = this.#buffers.get(slot);
		if (!buffer) throw new SlotError(slot);
		return new Uint8Array(this.#memory.buffer, buffer.ptr, buffer.size);
	}
	/** diff-instruct patch 'wasm-inline': this thread's instance of a compiled kernel, made once. */
	#mainKernel(program) {
		return program.mainKernel ??= new WebAssembly.Instance(program.module, { env: { memory: this.#memory } }).exports.kernel;
	}`,
    ],
  ],
};

/**
 * wasm-grow: Wasm linear memory grows by a quarter at a time (at least 16 MiB), not by the pages the
 * allocation in hand needs.
 *
 * Stock 0.1.25 grows the memory to exactly the pages each new block needs, so a training step that
 * settles at 2 GiB grows it thousands of times (4,200 calls in a fmnist-small distill bench at batch 4),
 * and every grow makes V8 account the new pages as external memory, which soon triggers a full
 * "Mark-Compact (reduce) … external memory pressure" GC of 100–300 ms. Measured (2-core machine, Wasm,
 * 1 thread): 27.6 s of a 58 s bench in 250 late grows, 26 s of Mark-Compact in all; the steady-state
 * iteration spent most of its 4.3 s there. Growing geometrically makes that a few dozen grows in all.
 * Pages grown ahead are reserved, not touched (the OS maps them on first write), and the allocator's
 * layout is unchanged: the same blocks at the same addresses, only the memory's length differs. Near
 * the 4 GiB cap, or when the larger grow is refused, it grows by exactly what is needed, as before;
 * `DI_WASM_GROW=exact` restores stock growth (for measurements).
 */
const wasmGrow = {
  name: 'wasm-grow',
  file: 'backend',
  replace: [
    [
      `			const requiredPages = Math.ceil(endPtr / WASM_PAGE_SIZE);
			const currentPages = currentBytes / WASM_PAGE_SIZE;
			this.#memory.grow(requiredPages - currentPages);`,
      `			const requiredPages = Math.ceil(endPtr / WASM_PAGE_SIZE);
			const currentPages = currentBytes / WASM_PAGE_SIZE;
			// diff-instruct patch 'wasm-grow': a quarter more at a time (at least 16 MiB), capped at 4 GiB
			// (DI_WASM_GROW=exact: stock behaviour, for comparisons)
			const aheadPages = globalThis.process?.env?.DI_WASM_GROW === 'exact' ? requiredPages : Math.min(MAX_MEMORY32_BYTES / WASM_PAGE_SIZE, Math.max(requiredPages, currentPages + Math.max(256, Math.ceil(currentPages / 4))));
			try {
				this.#memory.grow(aheadPages - currentPages);
			} catch {
				this.#memory.grow(requiredPages - currentPages);
			}`,
    ],
  ],
};

/**
 * prepared-cache: a compiled program's kernels are prepared once per backend, not on every call.
 *
 * Stock 0.1.25 makes a new `PendingExecute` per kernel per jit call, and each one prepares its kernel
 * again: the backend hashes the whole kernel expression (BigInt arithmetic over every node) to find the
 * compiled module or pipeline in its cache, and wraps it in a new `Executable` (WebGPU routines even
 * rebuild their shaders). The kernel objects themselves belong to the compiled program and are the same
 * on every call, so the prepared executable is kept beside them (a WeakMap from kernel to backend to
 * executable): the second call of a step prepares nothing. Measured (2-core machine, Wasm, fmnist-small
 * distill bench): 1.6 s of 41 s of the profile in that hashing. Executables hold only the compiled
 * module or pipeline, never per-dispatch state, so sharing them between calls changes nothing else.
 * `DI_JAX_PREPARED_CACHE=0` prepares every call again (for comparisons); hits and misses are counted
 * on `globalThis[Symbol.for('diff-instruct.preparedCache')]` for the tests.
 */
const preparedCache = {
  name: 'prepared-cache',
  replace: [
    [
      `	async prepare() {
		if (this.prepared) return;
		if (this.#promise) {`,
      `	async prepare() {
		if (this.prepared) return;
		// diff-instruct patch 'prepared-cache': once per (kernel or routine, backend)
		const entry = preparedEntry(this.source, this.backend);
		if (!entry) return this.prepareUncached();
		if (entry.value) {
			this.prepared = entry.value;
			return;
		}
		entry.promise ??= this.prepareUncached().then(() => entry.value = this.prepared, (e) => {
			entry.promise = void 0;
			throw e;
		});
		await entry.promise;
		this.prepared ??= entry.value;
	}
	async prepareUncached() {
		if (this.prepared) return;
		if (this.#promise) {`,
    ],
    [
      `	prepareSync() {
		if (this.prepared) return;
		if (this.source instanceof`,
      `	prepareSync() {
		if (this.prepared) return;
		const entry = preparedEntry(this.source, this.backend);
		if (entry?.value) {
			this.prepared = entry.value;
			return;
		}
		this.prepareSyncUncached();
		if (entry) entry.value = this.prepared;
	}
	prepareSyncUncached() {
		if (this.source instanceof`,
    ],
    [
      `/** diff-instruct patch 'pending-group': the kernels of one jit call, submitted and counted as one. */`,
      `/** diff-instruct patch 'prepared-cache': kernel or routine → backend → { value?: Executable, promise? }. */
const PREPARED_CACHE = globalThis.process?.env?.DI_JAX_PREPARED_CACHE !== "0";
const preparedBySource = /* @__PURE__ */ new WeakMap();
/** Lookups that found an entry / made one, for tests: globalThis[Symbol.for("diff-instruct.preparedCache")]. */
const preparedStats = globalThis[Symbol.for("diff-instruct.preparedCache")] ??= { hits: 0, misses: 0 };
function preparedEntry(source, backend) {
	if (!PREPARED_CACHE) return void 0;
	let byBackend = preparedBySource.get(source);
	if (!byBackend) preparedBySource.set(source, byBackend = /* @__PURE__ */ new Map());
	let entry = byBackend.get(backend);
	if (!entry) {
		byBackend.set(backend, entry = {});
		preparedStats.misses++;
	} else preparedStats.hits++;
	return entry;
}
/** diff-instruct patch 'pending-group': the kernels of one jit call, submitted and counted as one. */`,
    ],
  ],
};

/**
 * jit-executor: a compiled jit program may be run by an executor of ours (src/engine/executor.ts).
 *
 * Stock 0.1.25 runs a jit program step by step: a `backend.malloc` per intermediate, a `PendingExecute`
 * per kernel (each taking and dropping references on its buffers), and on WebGPU a command encoder, a
 * bind group, a uniform buffer and a `queue.submit` per kernel (41 µs of host time each on an H100,
 * ../shared/probes/dispatch.mjs). This patch only opens a door: `JitProgram.execute` first offers the
 * program to the executor registered for its backend type on
 * `globalThis[Symbol.for("diff-instruct.jitExecutors")]` (a Map type → executor); an executor returns
 * `{ outputs, pending }` exactly as `execute` does, or `null` to decline, and then the stock path runs.
 * It is given the program, its input slots and a `prepare(source, sync)` that makes a kernel's or
 * routine's `Executable` (a kernel is told from a routine by its \`exp\`: the CJS build names the classes
 * differently). The WebGPU backend gains `gpuBuffer(slot)` (the GPUBuffer behind a slot),
 * which the executor needs to bind program inputs and outputs, and `mallocPreferring(size, buffers)`,
 * a `malloc` that takes one of the given buffers from its pool when one is free there (so each output
 * of a program cycles through the same few buffers and its bind groups are made once). With no executor registered nothing
 * changes. Also: `jitCompile` remembers its program per jaxpr object, so a call no longer hashes the
 * whole jaxpr (thousands of equations) to find it.
 */
const jitExecutor = {
  name: 'jit-executor',
  replace: [
    [
      `	execute(inputs) {
		const scope = /* @__PURE__ */ new Map();`,
      `	execute(inputs) {
		// diff-instruct patch 'jit-executor': a registered executor may run the whole program
		const executor = globalThis[Symbol.for("diff-instruct.jitExecutors")]?.get(this.backend.type);
		if (executor) {
			const prepare = (source, sync) => "exp" in source ? sync ? this.backend.prepareKernelSync(source) : this.backend.prepareKernel(source) : sync ? this.backend.prepareRoutineSync(source) : this.backend.prepareRoutine(source);
			const result = executor.execute(this, inputs, prepare);
			if (result) return result;
		}
		const scope = /* @__PURE__ */ new Map();`,
    ],
    [
      `function jitCompile(backend, jaxpr) {
	const cacheKey = backend.type + ","`,
      `/** diff-instruct patch 'jit-executor': jaxpr object → backend → program, so a call does not hash the jaxpr again. */
const jitCompileByJaxpr = /* @__PURE__ */ new WeakMap();
function jitCompile(backend, jaxpr) {
	let byBackend = jitCompileByJaxpr.get(jaxpr);
	if (!byBackend) jitCompileByJaxpr.set(jaxpr, byBackend = /* @__PURE__ */ new Map());
	let program = byBackend.get(backend);
	if (!program) byBackend.set(backend, program = jitCompileUncached(backend, jaxpr));
	return program;
}
function jitCompileUncached(backend, jaxpr) {
	const cacheKey = backend.type + ","`,
    ],
  ],
};

/**
 * jit-executor, WebGPU side: the GPUBuffer behind a slot and a malloc that prefers given buffers (see
 * jitExecutor), and a larger buffer pool: stock keeps at most 64 free buffers of one size and destroys
 * the rest, so a training step whose parameter, Adam-moment and EMA trees hold more same-sized leaves
 * than that (times the steps in flight) made new buffers every step, each needing new bind groups
 * (measured on the tiny test U-Net: 126 new bind groups every third step). 1,024 per size.
 */
const jitExecutorWebgpu = {
  name: 'jit-executor',
  file: 'webgpu',
  replace: [
    [`const MAX_REUSABLE_BUFFERS_PER_SIZE = 64;`, `const MAX_REUSABLE_BUFFERS_PER_SIZE = 1024; // diff-instruct patch 'jit-executor' (stock: 64)`],
    [
      `	#getBuffer(slot) {
		const buffer = this.buffers.get(slot);`,
      `	/** diff-instruct patch 'jit-executor': the GPUBuffer behind a slot (for src/engine/executor.ts). */
	gpuBuffer(slot) {
		return this.#getBuffer(slot).buffer;
	}
	/**
	* diff-instruct patch 'jit-executor': \`malloc(size)\`, taking one of \`preferred\` (GPUBuffers) from the
	* pool when one is free there, so a program's outputs cycle through the same few buffers and their
	* bind groups can be reused.
	*/
	mallocPreferring(size, preferred) {
		const allocatedSize = Math.ceil(size / 4) * 4 || 4;
		const bucket = size > 0 ? this.#bufferPool.get(allocatedSize) : void 0;
		if (bucket) for (const buffer of preferred) {
			const i = bucket.indexOf(buffer);
			if (i < 0) continue;
			bucket.splice(i, 1);
			if (bucket.length === 0) this.#bufferPool.delete(allocatedSize);
			const slot = this.nextSlot++;
			this.buffers.set(slot, {
				buffer,
				size,
				allocatedSize,
				ref: 1
			});
			return slot;
		}
		return this.malloc(size);
	}
	#getBuffer(slot) {
		const buffer = this.buffers.get(slot);`,
    ],
  ],
};

export const PATCHES = [pendingGroup, wasmInline, wasmGrow, preparedCache, jitExecutor, jitExecutorWebgpu];
