/**
 * The in-tab image distillation's worker: fetches the teacher, the metric network and its reference
 * statistics, and runs the `ImageSession` (image-session.ts: training steps, fixed-seed grids,
 * evaluations, the generator file) off the page's main thread, so compiling a step (seconds on Wasm) or
 * a step itself never blocks the page. Calls (rpc.ts) run one at a time, in the order the page sent them.
 */
import { classifier, initDevice, imageMetrics, referenceStats, safetensors, type DistillConfig } from 'diff-instruct';
import { fetchBytes, fetchCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import { ImageSession } from './image-session.js';
import { serveWorker } from './rpc.js';

const TEACHER_FILE = 'fmnist-cond.safetensors';
const CLASSIFIER_FILE = 'classifier-fmnist.safetensors';
const REFERENCE_FILE = 'ref-fmnist-test.safetensors';

let teacher: LoadedCheckpoint | null = null;
let evaluator: imageMetrics.ImageEvaluator | null = null;
let session: ImageSession | null = null;

/** The metric network and its reference statistics, checked against each other (sha256), as `diff-instruct eval` does. */
async function loadEvaluator(base: string): Promise<imageMetrics.ImageEvaluator> {
  const [c, r] = await Promise.all([fetchBytes(base + CLASSIFIER_FILE), fetchBytes(base + REFERENCE_FILE)]);
  if ('missing' in c || 'missing' in r) throw new Error([c, r].flatMap((x) => ('missing' in x ? [x.missing] : [])).join('; '));
  const clf = await classifier.classifierFromBytes(c.bytes, base + CLASSIFIER_FILE);
  const ref = referenceStats.referenceStatsFromSafetensors(safetensors.parseSafetensors(r.bytes, base + REFERENCE_FILE), base + REFERENCE_FILE, { classifier: clf, dataset: 'fashion-mnist' });
  return new imageMetrics.ImageEvaluator('fashion-mnist', clf, ref);
}

function need(): ImageSession {
  if (!session) throw new Error('no distillation is built');
  return session;
}

/** What the page tracks of the session after each call. */
const counters = (s: ImageSession) => ({ genSteps: s.genSteps, kimg: s.kimg, skipped: s.skipped });

serveWorker({
  init: ({ device }: { device: string }) => initDevice(device),
  /** Fetches the teacher and the evaluator (once) and starts a new session with `cfg`. */
  build: async ({ base, cfg }: { base: string; cfg: DistillConfig }) => {
    session?.dispose();
    session = null;
    teacher ??= await (async () => {
      const r = await fetchCheckpoint(base + TEACHER_FILE, 'teacher');
      if (r.status === 'missing') throw new Error(r.message);
      return r.ckpt;
    })();
    evaluator ??= await loadEvaluator(base);
    session = new ImageSession(teacher, cfg);
    return { labelDim: session.labelDim, shape: session.shape, ...counters(session) };
  },
  run: async ({ n }: { n: number }) => {
    const s = need();
    const r = await s.run(n);
    return { ...r, ...counters(s) };
  },
  images: ({ seeds, classes }: { seeds: number[]; classes: number[] | null }) => need().images(seeds, classes),
  evaluate: async ({ n }: { n: number }) => {
    if (!evaluator) throw new Error('the evaluator is not loaded');
    const m = await need().evaluate(evaluator, n);
    return { n: m.n, fd: m.fd, classAcc: m.classAcc ?? NaN, precision: m.precision, recall: m.recall, seconds: m.seconds };
  },
  generatorFile: ({ extra }: { extra: Record<string, unknown> }) => need().generatorFile(extra),
  dispose: () => {
    session?.dispose();
    session = null;
  },
});
