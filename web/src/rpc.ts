/**
 * Calls into the page's Web Workers (the training and sampling run there, the page only draws): each
 * call is one message `{id, op, args}` and one reply `{id, ok, value | error}`; a worker may also post
 * `{progress}` messages between replies (compile and evaluation progress). The worker side handles one
 * call at a time, in order, so a section's calls are serialised as its state machine sent them.
 */

type Handler = (args: any, progress: (p: unknown) => void) => Promise<unknown> | unknown;

interface Reply {
  id?: number;
  ok?: boolean;
  value?: unknown;
  error?: string;
  progress?: unknown;
}

/** The page's side of one worker. */
export class WorkerClient {
  #worker: Worker;
  #next = 1;
  #pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  #dead: Error | null = null;
  /** Called with each `{progress}` message. */
  onProgress: (p: any) => void = () => {};

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (e: MessageEvent<Reply>) => {
      const m = e.data;
      if (m.id === undefined) return this.onProgress(m.progress);
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error ?? 'worker call failed'));
    };
    worker.onerror = (e: ErrorEvent) => this.#fail(new Error(`the worker stopped: ${e.message || 'it could not be loaded'}`));
  }

  #fail(e: Error): void {
    this.#dead = e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /** Runs `op` in the worker; rejects with the worker's one-line error. */
  call<T>(op: string, args: unknown = {}, transfer: Transferable[] = []): Promise<T> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, op, args }, transfer);
    });
  }

  /** Stops the worker at once (a call in progress is abandoned and rejects with `why`). */
  terminate(why = 'the worker was stopped'): void {
    this.#worker.terminate();
    this.#fail(new Error(why));
  }
}

/**
 * The worker's side: answers calls with `handlers`, one at a time, in the order they came; `immediate`
 * ones (e.g. cancel) run as soon as they arrive, between the awaits of the call in progress.
 */
export function serveWorker(handlers: Record<string, Handler>, immediate: Record<string, Handler> = {}): void {
  const scope = globalThis as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage: (m: unknown, t?: Transferable[]) => void };
  let chain: Promise<void> = Promise.resolve();
  const progress = (p: unknown) => scope.postMessage({ progress: p });
  scope.onmessage = (e: MessageEvent<{ id: number; op: string; args: unknown }>) => {
    const { id, op, args } = e.data;
    const answer = async () => {
      try {
        const h = handlers[op] ?? immediate[op];
        if (!h) throw new Error(`unknown worker call '${op}'`);
        const value = await h(args, progress);
        // copied, not transferred: a handler may return arrays it keeps (the teacher's points)
        scope.postMessage({ id, ok: true, value });
      } catch (err) {
        console.error(err);
        scope.postMessage({ id, ok: false, error: (err as Error).message ?? String(err) });
      }
    };
    if (op in immediate) void answer();
    else chain = chain.then(answer);
  };
}

