/**
 * What the page exposes on `window.__diPlayground` for people poking at it in the console and for the
 * browser tests: the backend, the run's history, the gallery's last timings. Read-only by convention.
 */
export interface HistoryPoint {
  genStep: number;
  fakeStep: number;
  fakeLoss: number;
  genLoss: number;
  /** performance.now() when the frame's read returned. */
  t: number;
}

export interface PageState {
  backend: string;
  deviceName: string;
  deviceMs: number;
  /** Whether the page is cross-origin isolated (SharedArrayBuffer, so multithreaded Wasm). */
  isolated: boolean;
  ready: boolean;
  error: string;
  /** Sections that stopped with an error while mounting ('name: message'); the others still mount. */
  sectionErrors: string[];
  /** URL settings that were not used, one line each. */
  urlProblems: string[];
  running: boolean;
  /** What the user last asked the 2-D run to do (true: run), which `running` follows once queued actions are done. */
  want: boolean;
  /** The 2-D section's queued actions not yet done (0: settled). */
  pending: number;
  /** Whether the 2-D status says it shares the device with a running image distillation. */
  sharing: boolean;
  /** The 2-D run's mode coverage at its last scoring, for toys with discrete modes. */
  modes: { genStep: number; covered: number; total: number } | null;
  /** Set when the 2-D run was stopped as diverged. */
  diverged: { genStep: number; why: string } | null;
  /** Runs built so far (each Reset or new teacher starts one). */
  runs: number;
  /** The current run's teacher, e.g. 'toy:ring8'. */
  teacher: string;
  history: HistoryPoint[];
  mmd: { genStep: number; mmd: number }[];
  stepsPerSec: number;
  /** The in-tab image distillation (distill-images.ts); metrics are its evaluations, the first at step 0. */
  distill: { status: string; genSteps: number; kimg: number; imagesPerSec: number; metrics: { genSteps: number; kimg: number; n: number; fd: number; classAcc: number; precision: number; recall: number; seconds: number }[]; fileBytes: number; quick?: { n: number; fd: number; classAcc: number; ms: number } };
  gallery: { status: string; generatorMs?: number; teacherMs?: number; batch?: number; label?: number; teacherStepsDone?: number };
}

export const pageState: PageState = {
  backend: '',
  deviceName: '',
  deviceMs: 0,
  isolated: false,
  ready: false,
  error: '',
  sectionErrors: [],
  urlProblems: [],
  running: false,
  want: false,
  pending: 0,
  sharing: false,
  modes: null,
  diverged: null,
  runs: 0,
  teacher: '',
  history: [],
  mmd: [],
  stepsPerSec: 0,
  distill: { status: 'idle', genSteps: 0, kimg: 0, imagesPerSec: 0, metrics: [], fileBytes: 0 },
  gallery: { status: 'idle' },
};

(globalThis as any).__diPlayground = pageState;
