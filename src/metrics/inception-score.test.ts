/** IS analogue and class accuracy against hand-computed values. */
import '../platform/node.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classAccuracy, inceptionScore } from './inception-score.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('IS: uniform predictions → 1; confident and balanced over C classes → C; collapsed → 1', () => {
  const n = 1000, C = 10;
  close(inceptionScore(new Float32Array(n * C), n, C).is, 1);
  const confident = new Float32Array(n * C);
  for (let i = 0; i < n; i++) confident[i * C + (i % C)] = 100; // p(y|x) one-hot up to e^-100
  const r = inceptionScore(confident, n, C);
  close(r.is, C, 1e-9);
  assert.equal(r.splits, 10);
  assert.ok(r.std < 1e-9);
  const collapsed = new Float32Array(n * C);
  for (let i = 0; i < n; i++) collapsed[i * C + 3] = 100;
  close(inceptionScore(collapsed, n, C).is, 1, 1e-9);
});

test('IS: two classes with p(y|x) = (0.9, 0.1) and (0.1, 0.9) → exp(0.9 ln 1.8 + 0.1 ln 0.2) ≈ 1.44494', () => {
  // p(y) = (½, ½); KL((0.9, 0.1) ‖ (½, ½)) = 0.9 ln(0.9/0.5) + 0.1 ln(0.1/0.5), same for the mirror image.
  const l = Math.log(9); // logits (ln 9, 0) → softmax (0.9, 0.1)
  const logits = Float32Array.of(l, 0, 0, l, l, 0, 0, l);
  close(inceptionScore(logits, 4, 2, 1).is, Math.exp(0.9 * Math.log(1.8) + 0.1 * Math.log(0.2)), 1e-6);
  close(inceptionScore(logits, 4, 2, 1).is, 1.44494, 1e-5);
});

test('classAccuracy: fraction of arg-max equal to the label; one-line errors', () => {
  const logits = Float32Array.of(1, 0, 0, 0, 2, 1, 0, 0, 3);
  assert.equal(classAccuracy(logits, 3, 3, [0, 1, 1]), 2 / 3);
  assert.throws(() => classAccuracy(logits, 3, 3, [0, 1]), /^Error: class accuracy: 2 labels for 3 images$/);
  assert.throws(() => classAccuracy(logits, 3, 3, [0, 1, 7]), /label 7 of image 2 is not in \[0, 3\)/);
  assert.throws(() => inceptionScore(logits, 3, 3, 4), /splits must be an integer in \[1, 3\]/);
});
