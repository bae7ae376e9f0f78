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
      `/**
* diff-instruct patch 'jit-executor': jaxpr object → backend → program, so a call does not hash the jaxpr
* again (one program per setting of the 'custom-kernels' hook, which changes what is compiled).
*/
const jitCompileByJaxpr = /* @__PURE__ */ new WeakMap();
function jitCompile(backend, jaxpr) {
	let byBackend = jitCompileByJaxpr.get(jaxpr);
	if (!byBackend) jitCompileByJaxpr.set(jaxpr, byBackend = /* @__PURE__ */ new Map());
	const key = customKernelsKey(); // the hook's switch and the splitting switches (patch 'custom-kernels')
	let programs = byBackend.get(backend);
	if (!programs) byBackend.set(backend, programs = {});
	return programs[key] ??= jitCompileUncached(backend, jaxpr);
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

/**
 * custom-kernels: the WebGPU jit path can run our own shaders for an equation.
 *
 * Stock 0.1.25 lowers every `conv` (forward, and the input- and weight-gradient convs of its transpose
 * rule) into one generic multiply+reduce kernel: one thread per output, a serial loop over the whole
 * reduction (100,352 terms for a weight gradient at batch 128, 28×28), integer div/mod on every load.
 * Here `jitCompile` asks a hook, `globalThis[Symbol.for("diff-instruct.customKernels")]`
 * (`{ enabled, primitives, lower(desc) }`, installed by src/engine/custom-kernels.ts), about each
 * equation whose primitive it lists. `desc` gives the backend type, primitive, params, output avals
 * and, per input, its aval plus the chain of view equations back to the array it was taken from
 * (`root`): those whose primitive is in `hook.viewPrimitives` (default `transpose`, `flip`; `root.isInput`: the
 * root is an input of the program, always materialized). A lowering
 * `{ name, readFrom[], scratchBytes[], shaders(device) }` makes the equation one routine step: its
 * inputs are materialized buffers, input i the array `readFrom[i]` views up its chain (0: the input
 * itself, `views.length`: the root), so a kernel reads a sliced, reshaped, transposed or flipped
 * operand in place (a conv weight straight out of a flat parameter vector), its outputs are the equation's outputs followed by
 * scratch buffers freed right after it, and the WebGPU backend's `createRoutineShader` returns
 * `shaders(device)` for it. The decision is made once per compiled jaxpr (a WeakMap), so graph
 * splitting and code generation see the same lowerings. A declined equation (other shapes, dtypes,
 * backends), or a hook that is absent or disabled, leaves everything stock; the compile cache keys on
 * whether the hook was enabled, so a process can compare both.
 */
const customKernels = {
  name: 'custom-kernels',
  replace: [
    [
      `function splitGraphDataflow(backend, jaxpr) {`,
      `/** diff-instruct patch 'custom-kernels': a routine whose shaders come from the hook's lowering. */
var CustomKernelRoutine = class {
	name;
	type;
	params;
	constructor(name, type, params) {
		this.name = name;
		this.type = type;
		this.params = params;
	}
};
const CUSTOM_KERNELS_HOOK = Symbol.for("diff-instruct.customKernels");
const customLoweringsByJaxpr = /* @__PURE__ */ new WeakMap();
/**
 * Prefix of the jit compile cache key: programs built with and without the hook are different, and so are
 * those built with its kernels chosen differently (its \`cacheKey()\`: f16 or f32, which tile variant) and
 * programs split with the 'view-reads' or 'recompute' patch switched off.
 */
function customKernelsKey() {
	const env = globalThis.process?.env ?? {};
	const hook = globalThis[CUSTOM_KERNELS_HOOK];
	return (hook?.enabled ? "custom-kernels," + (hook.cacheKey?.() ?? "") + "," : "") + (env.DI_VIEW_READS === "0" ? "noview," : "") + (env.DI_RECOMPUTE === "0" ? "norecompute," : "");
}
/** Equation → { lowering, reads } for every equation the hook lowers (null when the hook is off). */
function customLowerings(backend, jaxpr) {
	const hook = globalThis[CUSTOM_KERNELS_HOOK];
	if (!hook?.enabled) return null;
	const key = hook.cacheKey?.() ?? "";
	let byKey = customLoweringsByJaxpr.get(jaxpr);
	if (!byKey) customLoweringsByJaxpr.set(jaxpr, byKey = /* @__PURE__ */ new Map());
	let found = byKey.get(key);
	if (found) return found;
	found = /* @__PURE__ */ new Map();
	const defn = /* @__PURE__ */ new Map();
	for (const eqn of jaxpr.eqns) for (const v of eqn.outBinders) defn.set(v, eqn);
	const hookViewPrimitives = hook.viewPrimitives ?? ["transpose", "flip"];
	for (const eqn of jaxpr.eqns) {
		if (!hook.primitives.includes(eqn.primitive)) continue;
		const chains = [];
		const inputs = eqn.inputs.map((input) => {
			const views = [];
			const chain = [input];
			let root = input;
			while (root instanceof Var) {
				const d = defn.get(root);
				if (!d || !hookViewPrimitives.includes(d.primitive) || !(d.inputs[0] instanceof Var)) break;
				views.unshift({ primitive: d.primitive, params: d.params });
				root = d.inputs[0];
				chain.push(root);
			}
			chains.push(chain);
			return { shape: input.aval.shape, dtype: input.aval.dtype, isVar: input instanceof Var, views, root: { shape: root.aval.shape, dtype: root.aval.dtype, isInput: root instanceof Var && !defn.has(root) } };
		});
		const lowering = hook.lower({ backend: backend.type, primitive: eqn.primitive, params: eqn.params, inputs, outputs: eqn.outBinders.map((v) => ({ shape: v.aval.shape, dtype: v.aval.dtype })) });
		if (!lowering) continue;
		const reads = eqn.inputs.map((input, i) => {
			const k = lowering.readFrom?.[i] ?? 0;
			if (!Number.isInteger(k) || k < 0 || k >= chains[i].length) throw new Error(\`custom-kernels: lowering \${lowering.name} reads input \${i} from view \${k} of \${chains[i].length - 1}\`);
			return chains[i][k];
		});
		if (reads.some((v) => !(v instanceof Var))) throw new Error(\`custom-kernels: lowering \${lowering.name} takes a literal input\`);
		found.set(eqn, { lowering, reads });
	}
	byKey.set(key, found);
	return found;
}
/** Determines how to split the Jaxpr into kernels via dataflow analysis. */
function splitGraphDataflow(backend, jaxpr) {
	const customKernels = customLowerings(backend, jaxpr);`,
    ],
    [
      `	for (let i = 0; i < jaxpr.eqns.length; i++) {
		const eqn = jaxpr.eqns[i];
		if (reducePrimitives.includes(eqn.primitive)) {`,
      `	for (let i = 0; i < jaxpr.eqns.length; i++) {
		const eqn = jaxpr.eqns[i];
		if (reducePrimitives.includes(eqn.primitive) && !customKernels?.has(eqn)) {`,
    ],
    [
      `		if (!inputShapes) continue;`,
      `		if (!inputShapes || customKernels?.has(eqn)) continue;`,
    ],
    [
      `		if (reductionEndpointEqns.has(i) || heterogeneousViewPrimitives.includes(eqn.primitive) || routinePrimitives.has(eqn.primitive) ||`,
      `		if (customKernels?.has(eqn) || reductionEndpointEqns.has(i) || heterogeneousViewPrimitives.includes(eqn.primitive) || routinePrimitives.has(eqn.primitive) ||`,
    ],
    [
      `		if (routinePrimitives.has(eqn.primitive)) {
			const routine`,
      `		const custom = customKernels?.get(eqn);
		if (custom) {
			const { lowering, reads } = custom;
			const scratch = lowering.scratchBytes ?? [];
			const routine = new CustomKernelRoutine(lowering.name, {
				inputShapes: reads.map((x) => x.aval.shape),
				inputDtypes: reads.map((x) => x.aval.dtype),
				outputShapes: [...eqn.outBinders.map((x) => x.aval.shape), ...scratch.map((b) => [b / 4])],
				outputDtypes: [...eqn.outBinders.map((x) => x.aval.dtype), ...scratch.map(() => "float32")]
			}, { customKernel: lowering });
			const inputs = reads.map((v) => {
				const jv = ctx.get(v);
				if (jv?.type !== "imm") throw new Error(\`jit: custom kernel \${lowering.name} input is not materialized\`);
				return jv.arg;
			});
			const outputs = [];
			for (const outVar of eqn.outBinders) {
				const outId = builder.pushBuffer(outVar.aval.size * byteWidth(outVar.aval.dtype));
				outputs.push(outId);
				ctx.set(outVar, {
					type: "imm",
					arg: outId
				});
			}
			for (const bytes of scratch) outputs.push(builder.pushBuffer(bytes));
			builder.pushRoutine(routine, inputs, outputs);
			continue;
		}
		if (routinePrimitives.has(eqn.primitive)) {
			const routine`,
    ],
    [
      `	const blackNodes = splitGraphDataflow(backend, jaxpr);`,
      `	const customKernels = customLowerings(backend, jaxpr);
	const blackNodes = splitGraphDataflow(backend, jaxpr);`,
    ],
    [
      // a custom kernel reads the buffers of its lowering's \`reads\`, never its own inputs: it does not make
      // them (or the views between) buffers of their own
      `		for (const v of eqn.outBinders) for (const j of varToUsages.get(v) ?? []) for (const o of jaxpr.eqns[j].outBinders) {`,
      `		for (const v of eqn.outBinders) for (const j of varToUsages.get(v) ?? []) if (!customKernels?.has(jaxpr.eqns[j])) for (const o of jaxpr.eqns[j].outBinders) {`,
    ],
    [`const cached = jitCompileCache.get(cacheKey);`, `const cached = jitCompileCache.get(customKernelsKey() + cacheKey);`],
    [`jitCompileCache.set(cacheKey, jp);`, `jitCompileCache.set(customKernelsKey() + cacheKey, jp);`],
    [
      `	const heterogeneousViewPrimitives = ["random_bits", "gather"];`,
      `	const heterogeneousViewPrimitives = ["random_bits", "gather"];
	// diff-instruct patch 'custom-kernels': what a custom kernel reads is materialized
	for (const { reads } of customKernels?.values() ?? []) for (const v of reads) {
		blackNodes.add(v);
		p1NextBlack.set(v, v);
	}`,
    ],
  ],
};

/** custom-kernels, WebGPU side: a custom routine's shaders come from its lowering. */
const customKernelsWebgpu = {
  name: 'custom-kernels',
  file: 'webgpu',
  replace: [
    [
      `function createRoutineShader(device, routine) {`,
      `function createRoutineShader(device, routine) {
	// diff-instruct patch 'custom-kernels'
	if (routine.params?.customKernel) return routine.params.customKernel.shaders(device);`,
    ],
  ],
};

/**
 * reduce-split: a WebGPU reduction's serial loop is spread over a workgroup when it is long.
 *
 * Stock 0.1.25 gives each output of a reduction one thread looping over all its terms, unless its tuner
 * groups the loop (at most 16 threads, only for contiguous inputs, fewer than 4,096 outputs and ≥ 512
 * terms). Two costs: on a GPU, few outputs with long loops leave it idle (GroupNorm statistics and bias
 * gradients: 32 outputs × 100,352 terms, `reduce Add:100352 size 32`, ×21 per fmnist-small step on
 * the H100); on Mesa llvmpipe, which stops an invocation's loops after 65,535 iterations, long loops
 * are silently cut (a jitted sum of 10^7 ones gives 4,194,240; an eager matmul with K = 70,000 gives
 * 65,535). Here `pipelineSource` may give each output (or each tuner group) `split` threads, a power of
 * two, that start at their lane and step by `split` through the loop, then sum through the tuner's
 * workgroup tree reduction: enough lanes that no invocation loops more than 60,000 times, and, for
 * fewer than 16,384 outputs with ≥ 1,024 iterations, up to 256 threads per output while each keeps
 * ≥ 16 iterations. Any expression works (the loop index is only substituted), so eager and jitted
 * kernels, grouped or not, are covered. Results change by f32 summation order only.
 * The 1,024 is the loop after the tuner's unrolling (it sums 4 terms an iteration), which left the
 * GroupNorm statistics of a fmnist-base step (4,096 outputs × 3,136 terms: 784 iterations) and its bias
 * gradients (128 outputs × 25,088: 16 threads each, 392 iterations) unsplit, at 30 GB/s on an H100
 * (530 µs and 99 µs a kernel). `globalThis[Symbol.for("diff-instruct.reduceSplit")].minIterations`
 * lowers it: src/engine/reduce-split.ts sets 32 on hardware adapters and leaves 1,024 on software
 * ones, where workgroup barriers are emulated on the CPU and cost more than a longer loop.
 * `DI_REDUCE_SPLIT=0` restores stock code generation.
 */
const reduceSplit = {
  name: 'reduce-split',
  file: 'webgpu',
  replace: [
    [
      `function pipelineSource(device, kernel) {`,
      `/** diff-instruct patch 'reduce-split': threads per output (or per tuner group) sharing a reduction loop. */
const REDUCE_SPLIT = globalThis.process?.env?.DI_REDUCE_SPLIT !== "0";
const REDUCE_SPLIT_MAX_ITERATIONS = 60000;
function reductionLoopSplit(device, iterations, tunedGroups, outputs, dtype) {
	if (!REDUCE_SPLIT || dtype === "bool") return 1;
	const maxThreads = Math.min(256, device.limits.maxComputeWorkgroupSizeX, device.limits.maxComputeInvocationsPerWorkgroup);
	let split = 1;
	while (Math.ceil(iterations / split) > REDUCE_SPLIT_MAX_ITERATIONS && tunedGroups * split * 2 <= maxThreads) split *= 2;
	const minIterations = globalThis[Symbol.for("diff-instruct.reduceSplit")]?.minIterations ?? 1024;
	if (outputs < 16384 && iterations >= minIterations) while (Math.ceil(iterations / (split * 2)) >= 16 && tunedGroups * split * 2 <= maxThreads) split *= 2;
	return split;
}
function pipelineSource(device, kernel) {`,
    ],
    [
      `	const groupCount = re ? tune.size.groups ?? 1 : 1;
	const groupedReduction = re && groupCount > 1;
	if (groupedReduction && tune.threadCount % groupCount !== 0) throw new Error("WebGPU grouped reduction has invalid thread count");`,
      `	const tunedGroups = re ? tune.size.groups ?? 1 : 1;
	if (re && tune.threadCount % tunedGroups !== 0) throw new Error("WebGPU grouped reduction has invalid thread count");
	const loopSplit = re ? reductionLoopSplit(device, tune.size.reduce, tunedGroups, tune.threadCount / tunedGroups, re.dtype) : 1;
	const groupCount = tunedGroups * loopSplit;
	const groupedReduction = re && groupCount > 1;`,
    ],
    [
      `	const gridSize = groupedReduction ? tune.threadCount / groupCount : Math.ceil(tune.threadCount / workgroupSize);`,
      `	const gridSize = groupedReduction ? tune.threadCount / tunedGroups : Math.ceil(tune.threadCount / workgroupSize);`,
    ],
    [
      `wb.emit("let group: i32 = i32(lid.x);");`,
      `wb.emit(loopSplit > 1 ? \`let group: i32 = i32(lid.x) % \${tunedGroups};\` : "let group: i32 = i32(lid.x);");`,
    ],
    [
      `wb.emit(\`for (var ridx: i32 = 0; ridx < \${tune.size.reduce}; ridx++) {\`, wb.pushIndent);`,
      `wb.emit(loopSplit > 1 ? \`for (var ridx: i32 = i32(lid.x) / \${tunedGroups}; ridx < \${tune.size.reduce}; ridx += \${loopSplit}) {\` : \`for (var ridx: i32 = 0; ridx < \${tune.size.reduce}; ridx++) {\`, wb.pushIndent);`,
    ],
  ],
};

/**
 * eager-submit: a jit call on WebGPU may be encoded and submitted when it is made, not when a result is
 * first read.
 *
 * Stock 0.1.25 is lazy: a jit call only records pending work, and nothing reaches the GPU until some
 * output's `data()` (or `blockUntilReady()`) submits it — so the GPU idles while the host prepares the
 * step and the next ones, and a trainer that keeps steps in flight gets no overlap at all: reading the
 * loss of step i−4 submits step i−4 and then waits for it. Here the jit rule asks a hook,
 * `globalThis[Symbol.for("diff-instruct.eagerSubmit")](backend)` (installed by src/engine/executor.ts),
 * and when it says yes and every pending entry of the call (the work its inputs still wait on, then the
 * program) is already compiled (the executor's entry says so itself with `ready()`; a group when all its
 * members are; a stock kernel when it or the prepared cache holds its executable; a program's first
 * call stays lazy and compiles asynchronously as before), submits them at once, in that order. The
 * patch touches only the jit rule, so the other patches' text stays as they wrote it. Results are unchanged: the
 * same work in the same queue order; only work whose outputs would all have been dropped unread now runs.
 */
const eagerSubmit = {
  name: 'eager-submit',
  replace: [
    [
      `				pending.splice(0, 0, ...prevPending);`,
      `				pending.splice(0, 0, ...prevPending);
				// diff-instruct patch 'eager-submit': submit now when the hook asks and everything is compiled
				// (an entry's own ready(), a group's members, a kernel's prepared executable or cache entry)
				if (pending.length > 0 && globalThis[Symbol.for("diff-instruct.eagerSubmit")]?.(backend)) {
					const ready = (p) => typeof p.ready === "function" ? p.ready() : p instanceof PendingGroup ? p.members.every(ready) : !!p.prepared || !!preparedBySource.get(p.source)?.get(p.backend)?.value;
					if (pending.every(ready)) for (const p of pending) {
						p.prepareSync();
						p.submit();
					}
				}`,
    ],
  ],
};

/**
 * device-features: jax-js's WebGPU device also asks for `subgroups` and
 * `chromium-experimental-subgroup-matrix` when the adapter offers them.
 *
 * Stock 0.1.25 requests only `shader-f16` and `timestamp-query`, so a shader using subgroup matrices
 * (f16 tensor cores on NVIDIA through Dawn with `allow_unsafe_apis`) fails to compile on its device.
 * Only features the adapter lists are requested (the same filter as before), so software adapters and
 * browsers without them get the device they got before. Used by src/engine/kernels/conv-gemm-f16.ts.
 * The adapter is kept at `globalThis[Symbol.for("diff-instruct.webgpuAdapter")]`: its `info` lists the
 * subgroup-matrix shapes (`subgroupMatrixConfigs`), which Dawn's `device.adapterInfo` leaves empty
 * (measured on an H100: the device had the feature and `[]` for configs).
 */
const deviceFeatures = {
  name: 'device-features',
  file: 'backend',
  replace: [
    [
      `const requestedFeatures = ["shader-f16", "timestamp-query"];`,
      `const requestedFeatures = ["shader-f16", "timestamp-query", "subgroups", "chromium-experimental-subgroup-matrix"]; // diff-instruct patch 'device-features'
		globalThis[Symbol.for("diff-instruct.webgpuAdapter")] = adapter;`,
    ],
  ],
};

/**
 * view-reads: a view of a buffer is read through by each of its readers, not copied into a buffer of its
 * own.
 *
 * Stock 0.1.25's graph splitting (`splitGraphDataflow`) makes every value that reaches more than one
 * kernel a buffer, views included. A view (transpose, broadcast, reshape, flip, shrink, a part of a split) of an array that
 * is a buffer anyway (a program input, or a kernel's output) costs nothing to read in place, but became a
 * copy kernel: with parameters held in one flat vector (src/train/flat-params.ts) every bias, GroupNorm
 * scale and linear weight read by a forward and a backward kernel was copied out of it first, and so was
 * every broadcast of the embedding: 121 copy kernels of a fmnist-small teacher step's 1,234. Here, after
 * that decision and before the argument-count pass, such a view (and a view of such a view) stops being
 * a buffer unless something needs one: a program output, what a custom kernel or a routine reads, the
 * operands of `concatenate`/`pad`/`gather`/`random_bits`. Each reader then indexes the underlying buffer
 * through the view, as it does for a view with a single reader. The same values are read, but a reduction
 * that reads through a view may be tuned differently (another summation order). WebGPU only: on Wasm the
 * strided reads cost more than the copies (a fmnist-small teacher step measured ~3× slower) and the Wasm
 * results stay those of stock splitting, to the bit. `DI_VIEW_READS=0` restores stock splitting.
 */
const viewReads = {
  name: 'view-reads',
  replace: [
    [
      `	const p2Deps = /* @__PURE__ */ new Map();`,
      `	// diff-instruct patch 'view-reads': views of buffers are read through, not copied
	if (backend.type === "webgpu" && globalThis.process?.env?.DI_VIEW_READS !== "0") {
		const pinned = /* @__PURE__ */ new Set();
		for (const v of jaxpr.outs) if (v instanceof Var) pinned.add(v);
		for (const { reads } of customKernels?.values() ?? []) for (const v of reads) pinned.add(v);
		for (const eqn of jaxpr.eqns) if (routinePrimitives.has(eqn.primitive) || needsCleanShapePrimitives.includes(eqn.primitive) || heterogeneousViewPrimitives.includes(eqn.primitive)) {
			for (const v of eqn.inputs) if (v instanceof Var) pinned.add(v);
		}
		// jax-js's own convs and dots read each operand element many times, in their inner loop: for a large
		// operand a copy read contiguously beats a view's index arithmetic there (on Wasm, weight-gradient sums
		// ran 10x slower); small ones (a linear layer's weight) are read through
		for (const eqn of jaxpr.eqns) if (["conv", "dot", "pool_transpose"].includes(eqn.primitive) && !customKernels?.has(eqn)) {
			for (const v of eqn.inputs) if (v instanceof Var && v.aval.size >= 16384) pinned.add(v);
		}
		const inputs = new Set(jaxpr.inBinders);
		const readThrough = /* @__PURE__ */ new Set();
		const cheapViews = ["transpose", "broadcast", "reshape", "flip", "shrink", "split"];
		for (const eqn of jaxpr.eqns) {
			if (!cheapViews.includes(eqn.primitive)) continue;
			const src = eqn.inputs[0];
			if (!(src instanceof Var) || !inputs.has(src) && !blackNodes.has(src) && !readThrough.has(src)) continue;
			for (const out of eqn.outBinders) {
				readThrough.add(out);
				if (!pinned.has(out)) blackNodes.delete(out);
			}
		}
	}
	const p2Deps = /* @__PURE__ */ new Map();`,
    ],
  ],
};

/**
 * recompute: a cheap elementwise value read by several kernels is recomputed in each of them instead of
 * being written to a buffer of its own.
 *
 * Stock splitting (phase 1 of `splitGraphDataflow`) gives a kernel of its own to every value that reaches
 * more than one kernel output, so `silu(h)`, `h·w + b` or `1 − sigmoid(h)` read by two kernels cost a
 * dispatch, a write and a read per reader. Here such a value is inlined into each reader when its equation
 * is elementwise (or a view) and at most one of its operands is as large as its output (the others are
 * broadcast scalars or per-channel vectors): each reader then reads that one operand instead of the
 * materialized value, which is never more memory traffic and one kernel fewer. A value read by more than
 * four kernels is still materialized. The readers compute the same expression, so the values are those
 * of stock splitting (a compiler may still contract a multiply-add differently in another kernel).
 * WebGPU only, like 'view-reads' (Wasm stays stock to the bit); `DI_RECOMPUTE=0` restores stock splitting.
 * Both switches are part of the compile cache's key (`customKernelsKey`), so a program compiled under one
 * setting is not reused under another in the same process.
 */
const recompute = {
  name: 'recompute',
  replace: [
    [
      `	for (let i = jaxpr.eqns.length - 1; i >= 0; i--) {
		const eqn = jaxpr.eqns[i];
		if (customKernels?.has(eqn) || reductionEndpointEqns.has(i)`,
      `	// diff-instruct patch 'recompute': cheap elementwise values reaching several kernels are inlined in each
	const p1Recompute = /* @__PURE__ */ new Map();
	const recomputeOn = backend.type === "webgpu" && globalThis.process?.env?.DI_RECOMPUTE !== "0";
	const recomputePrimitives = new Set(["add", "mul", "min", "max", "neg", "reciprocal", "stop_gradient", "cast", "exp", "log", "sqrt", "sin", "cos", "erf", "compare", "where", "transpose", "broadcast", "reshape", "flip", "shrink"]);
	// values that flow (through fused equations) into a generic conv or dot: there each element is read once per
	// output it contributes to, so a value recomputed there would be recomputed that many times
	const p1IntoContraction = /* @__PURE__ */ new Set();
	const contractionPrimitives = ["conv", "dot", "pool_transpose"];
	const intoContraction = (eqn) => eqn.outBinders.some((v) => (varToUsages.get(v) ?? []).some((j) => {
		const user = jaxpr.eqns[j];
		if (customKernels?.has(user)) return false;
		return contractionPrimitives.includes(user.primitive) || user.outBinders.some((o) => p1IntoContraction.has(o));
	}));
	const recomputable = (eqn, reach) => {
		if (!recomputeOn || reach.size > 4 || !recomputePrimitives.has(eqn.primitive) || eqn.outBinders.length !== 1) return false;
		if (intoContraction(eqn)) return false;
		const size = eqn.outBinders[0].aval.size;
		let large = 0;
		for (const v of eqn.inputs) if (v instanceof Var && v.aval.size >= size) large++;
		return large <= 1;
	};
	for (let i = jaxpr.eqns.length - 1; i >= 0; i--) {
		const eqn = jaxpr.eqns[i];
		if (customKernels?.has(eqn) || reductionEndpointEqns.has(i)`,
    ],
    [
      `			const u = p1NextBlack.get(o);
			if (u) reach.add(u);
		}
		if (reach.size > 1) for (const v of eqn.outBinders) {`,
      `			const u = p1NextBlack.get(o);
			if (u) reach.add(u);
			const many = p1Recompute.get(o);
			if (many) for (const b of many) reach.add(b);
		}
		if (recomputeOn && intoContraction(eqn)) for (const v of eqn.outBinders) p1IntoContraction.add(v);
		if (reach.size > 1 && recomputable(eqn, reach)) for (const v of eqn.outBinders) p1Recompute.set(v, reach);
		else if (reach.size > 1) for (const v of eqn.outBinders) {`,
    ],
  ],
};

export const PATCHES = [pendingGroup, wasmInline, wasmGrow, preparedCache, jitExecutor, jitExecutorWebgpu, customKernels, customKernelsWebgpu, viewReads, recompute, reduceSplit, eagerSubmit, deviceFeatures];
