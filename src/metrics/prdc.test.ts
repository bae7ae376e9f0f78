/** k-NN radii and improved precision/recall (Kynkäänniemi et al. 2019) on hand-computable point sets. */
import '../platform/node.js';
import assert from 'node:assert/strict';
import { testOnBackends, assertClose } from '../testing/backends.js';
import { knnRadii, precisionRecall } from './prdc.js';

/** Points on the x-axis of ℝ² (the y coordinate 0), as [n, 2] features. */
const onLine = (xs: number[]) => Float32Array.from(xs.flatMap((x) => [x, 0]));

testOnBackends('knnRadii: k-th nearest other point on a line, self excluded, duplicates at distance 0', async () => {
  const pts = onLine([0, 1, 3, 7, 15]);
  // k = 1: nearest neighbours 1, 1, 2, 4, 8; k = 2: second nearest 3, 2, 3, 6, 12
  assertClose(await knnRadii(pts, 5, 2, 1, 2), [1, 1, 2, 4, 8], { what: 'k=1' });
  assertClose(await knnRadii(pts, 5, 2, 2, 3), [3, 2, 3, 6, 12], { what: 'k=2' });
  assertClose(await knnRadii(onLine([5, 5, 9]), 3, 2, 1), [0, 0, 4], { what: 'duplicates', atol: 1e-3 });
});

testOnBackends('precision/recall: hand-computed example', async () => {
  // real = 0..9 (k = 1 radii all 1); fake = {0.5, 100} (k = 1 radii 99.5 each).
  // precision: 0.5 is inside B(0, 1), 100 is in no real ball → 1/2.
  // recall: every real point lies within 99.5 of 0.5 → 1.
  const real = onLine([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const fake = onLine([0.5, 100]);
  const pr = await precisionRecall(real, 10, fake, 2, 2, { k: 1, batch: 4 });
  assert.equal(pr.precision, 0.5);
  assert.equal(pr.recall, 1);
  // swapping roles: fake = 0..9 all lie within 1 of themselves... real = {0.5, 100}: precision is the
  // share of 0..9 within 99.5 of 0.5 or 100 → 1; recall is the share of {0.5, 100} inside the 0..9
  // manifold → 1/2.
  const sw = await precisionRecall(fake, 2, real, 10, 2, { k: 1, batch: 3 });
  assert.equal(sw.precision, 1);
  assert.equal(sw.recall, 0.5);
});

testOnBackends('precision/recall: one-line errors', async () => {
  await assert.rejects(precisionRecall(new Float32Array(4), 2, new Float32Array(3), 2, 2), /^Error: precisionRecall \(fake\): 3 values is not \[2, 2\]$/);
  await assert.rejects(knnRadii(new Float32Array(4), 2, 2, 2), /k must be an integer in \[1, 1\]/);
});
