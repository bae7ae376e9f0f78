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

export const PATCHES = [pendingGroup];
