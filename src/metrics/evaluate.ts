/**
 * Image metrics with the shipped (or given) classifier and reference statistics read from disk; the
 * metrics themselves are in evaluator.ts (no Node APIs).
 */
import { numpy as np, tree } from '@jax-js/jax';
import { loadClassifier } from './classifier-file.js';
import { ImageEvaluator, type EvaluateOptions, type ImageMetrics } from './evaluator.js';
import { defaultReferencePath, loadReferenceStats } from './reference.js';
import { defaultClassifierPath } from './train-classifier.js';

export * from './evaluator.js';

export interface EvaluatorOptions {
  /** default models/classifier-<fmnist|mnist>.safetensors */
  classifierPath?: string;
  /** default models/ref-<fmnist|mnist>-test.safetensors */
  referencePath?: string;
}

/** Loads the classifier and the reference statistics for `dataset`; checks they belong together. */
export async function createImageEvaluator(dataset: string, opts: EvaluatorOptions = {}): Promise<ImageEvaluator> {
  const clf = await loadClassifier(opts.classifierPath ?? defaultClassifierPath(dataset));
  try {
    if (clf.meta.dataset !== dataset) throw new Error(`classifier '${clf.path}' was trained on '${clf.meta.dataset}', not '${dataset}'`); // before reading the statistics
    const ref = loadReferenceStats(opts.referencePath ?? defaultReferencePath(dataset, 'test'), { classifier: clf, dataset });
    return new ImageEvaluator(dataset, clf, ref);
  } catch (e) {
    tree.dispose(clf.params);
    throw e;
  }
}

/**
 * One-shot evaluation (loads the classifier and reference statistics, evaluates, frees them). Trainers
 * that evaluate repeatedly can hold an `ImageEvaluator` instead.
 */
export async function evaluateImages(images: Float32Array | np.Array, opts: EvaluateOptions & EvaluatorOptions & { dataset: string }): Promise<ImageMetrics> {
  let ev: ImageEvaluator;
  try {
    ev = await createImageEvaluator(opts.dataset, opts);
  } catch (e) {
    if (images instanceof np.Array) images.dispose();
    throw e;
  }
  try {
    return await ev.evaluate(images, opts);
  } finally {
    ev.dispose();
  }
}
