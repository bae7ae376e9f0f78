/**
 * Kernel profiles from jax-js's tracer: `profiler.startTrace()` makes every dispatched kernel emit a
 * `performance.measure` entry (track 'webgpu' with GPU timestamps, or the Wasm track), which Node's
 * PerformanceObserver collects. We group them by kernel class so a step's time can be attributed.
 */
import { profiler } from '@jax-js/jax';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

export interface KernelClass {
  label: string;
  /** 'reduce:<op>:<size>' for reductions, 'map' for elementwise, or the routine name. */
  kind: string;
  count: number;
  totalMs: number;
  maxMs: number;
}

export interface Profile {
  kernels: number;
  gpuMs: number;
  classes: KernelClass[];
}

function kindOf(e: PerformanceEntry): string {
  const props: [string, string][] = (e as any).detail?.devtools?.properties ?? [];
  const get = (k: string) => props.find((p) => p[0] === k)?.[1];
  const red = get('reduction');
  if (red) return `reduce ${red} size ${get('size')}`;
  if (get('inputShapes')) return `routine ${e.name} ${get('inputShapes')} → ${get('outputShapes')}`;
  return `map size ${get('size')}`;
}

/** Runs `fn` with tracing on and returns the kernel entries it produced, grouped (longest first). */
export async function profileKernels(fn: () => Promise<void>): Promise<Profile> {
  const entries: PerformanceEntry[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as any).detail?.devtools?.trackGroup === 'JAX Profiler') entries.push(e);
  });
  obs.observe({ entryTypes: ['measure'] });
  profiler.startTrace();
  try {
    await fn();
  } finally {
    profiler.stopTrace();
    await new Promise((r) => setTimeout(r, 50));
    obs.disconnect();
  }
  const byKind = new Map<string, KernelClass>();
  for (const e of entries) {
    const kind = kindOf(e);
    const c = byKind.get(kind) ?? { label: e.name, kind, count: 0, totalMs: 0, maxMs: 0 };
    c.count++;
    c.totalMs += e.duration;
    c.maxMs = Math.max(c.maxMs, e.duration);
    byKind.set(kind, c);
  }
  const classes = [...byKind.values()].sort((a, b) => b.totalMs - a.totalMs);
  return { kernels: entries.length, gpuMs: classes.reduce((s, c) => s + c.totalMs, 0), classes };
}
