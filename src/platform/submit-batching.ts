/**
 * Batched WebGPU queue submission for jax-js on Dawn (Node).
 *
 * jax-js 0.1.25 records every kernel in its own command encoder and calls `queue.submit` once per
 * kernel; a teacher training step is ~2,700 kernels, so ~2,700 submits, each a trip through Dawn's
 * submit path (fences, resource tracking, a Vulkan queue submission). Here `queue.submit` only
 * collects command buffers and hands them to Dawn in one call: when `maxBatch` are waiting, at the
 * end of the current macrotask (so the GPU never waits on an idle host), or before anything whose
 * meaning depends on earlier work having been submitted: `queue.writeBuffer` (it is ordered against
 * submitted work only), `queue.onSubmittedWorkDone`, `buffer.mapAsync` and `buffer.destroy` (a
 * destroyed buffer must not appear in a later submit). The order of command buffers is unchanged, so
 * results are identical (tests compare against the unbatched path). `queue.submitNow` flushes and
 * submits at once, for work that wants the GPU to start before the macrotask ends (the step executor).
 */

type Queue = { submit(cbs: unknown[]): void; writeBuffer(...a: unknown[]): void; onSubmittedWorkDone(): Promise<void> };

const flushers = new Set<() => void>();
let bufferProtoPatched = false;

/** Flushes every batched queue (all devices). */
export function flushSubmits(): void {
  for (const f of flushers) f();
}

function patchBufferProto(bufferProto: any): void {
  if (bufferProtoPatched || !bufferProto) return;
  bufferProtoPatched = true;
  for (const m of ['mapAsync', 'destroy'] as const) {
    const orig = bufferProto[m];
    if (typeof orig !== 'function') continue;
    bufferProto[m] = function (this: unknown, ...args: unknown[]) {
      flushSubmits();
      return orig.apply(this, args);
    };
  }
}

/**
 * Wraps `device.queue` so that submits are batched (see the module comment). Returns a function that
 * undoes it. `bufferProto` is the prototype of the implementation's GPUBuffer (Dawn's, in Node).
 */
export function batchSubmits(device: { queue: Queue; createBuffer(d: object): any }, maxBatch = 512): () => void {
  const queue = device.queue;
  const submit = queue.submit.bind(queue);
  const writeBuffer = queue.writeBuffer.bind(queue);
  const onDone = queue.onSubmittedWorkDone.bind(queue);
  let waiting: unknown[] = [];
  let scheduled = false;
  const flush = () => {
    if (waiting.length === 0) return;
    const cbs = waiting;
    waiting = [];
    submit(cbs);
  };
  const later = () => {
    scheduled = false;
    flush();
  };
  flushers.add(flush);
  // Dawn's GPUBuffer prototype: from one throwaway buffer.
  const probe = device.createBuffer({ size: 4, usage: 0x0008 /* COPY_DST */ });
  patchBufferProto(Object.getPrototypeOf(probe));
  probe.destroy();
  const q = queue as any;
  q.submit = (cbs: unknown[]) => {
    for (const cb of cbs) waiting.push(cb);
    if (waiting.length >= maxBatch) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(later);
    }
  };
  // for work that wants the GPU to start now (src/engine/executor.ts submits a step in chunks)
  q.submitNow = (cbs: unknown[]) => {
    flush();
    submit(cbs);
  };
  q.writeBuffer = (...a: unknown[]) => {
    flush();
    return writeBuffer(...a);
  };
  q.onSubmittedWorkDone = () => {
    flush();
    return onDone();
  };
  return () => {
    flush();
    flushers.delete(flush);
    delete q.submit;
    delete q.submitNow;
    delete q.writeBuffer;
    delete q.onSubmittedWorkDone;
  };
}
