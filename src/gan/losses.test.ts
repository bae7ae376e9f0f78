/**
 * GAN losses against closed forms, jitted, on every backend: softplus (overflow-free), the
 * non-saturating D/G losses and their gradients, and R1 = ‖∇ₓD(x)‖² — value AND its gradient w.r.t.
 * D's params (the grad-of-grad the D step relies on) — for a linear D(x) = w·x + b and a quadratic
 * D(x) = (w·x)², where
 *   linear:     R1 = ‖w‖²,               ∂(γ/2·mean R1)/∂w = γ·w,  ∂/∂b = 0
 *   quadratic:  R1 = 4(w·x)²‖w‖²,        ∂R1/∂w = 8(w·x)‖w‖²·x + 8(w·x)²·w
 */
import assert from 'node:assert/strict';
import { grad, jit, numpy as np, valueAndGrad } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { discriminatorLoss, generatorLoss, r1Penalty, softplus } from './losses.js';

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

testOnBackends('softplus matches log(1 + eˣ) without overflow; NS losses and their gradients', async () => {
  const xs = [-100, -5, 0, 3, 100];
  const want = xs.map((x) => (x > 30 ? x : Math.log1p(Math.exp(x))));
  assertClose(await jit(softplus)(np.array(xs)).data(), want, { rtol: 1e-5, atol: 1e-7, what: 'softplus' });
  const real = [2, -1], fake = [0.5, -3];
  const sp = (x: number) => Math.log1p(Math.exp(x));
  assertClose(await discriminatorLoss(np.array(real), np.array(fake)).data(), real.map((r, i) => sp(-r) + sp(fake[i])), { rtol: 1e-5, what: 'L_D' });
  assertClose(await generatorLoss(np.array(fake)).data(), fake.map((f) => sp(-f)), { rtol: 1e-5, what: 'L_G' });
  // d softplus(−x)/dx = −σ(−x)
  const g = await jit(grad((x: np.Array) => generatorLoss(x).sum()))(np.array(fake)).data();
  assertClose(g, fake.map((f) => -1 / (1 + Math.exp(f))), { rtol: 1e-5, what: "L_G'" });
});

testOnBackends('R1 of a linear D: ‖w‖² per sample, and γ/2·mean R1 has gradient γ·w (grad-of-grad, jitted)', async () => {
  const w = [0.5, -1, 2, 0.25]; // D(x) = ⟨W, x⟩ + b over 1×2×2 images
  const x = np.array([[[[1, 2], [3, 4]]], [[[-1, 0], [0.5, 2]]], [[[0, 0], [0, 0]]]]);
  const gamma = 3;
  const D = (p: { w: np.Array; b: np.Array }, xx: np.Array) => xx.reshape([xx.shape[0], 4]).mul(p.w.reshape([1, 4])).sum(1).add(p.b);
  const f = jit((p: { w: np.Array; b: np.Array }, xx: np.Array) =>
    valueAndGrad((q: { w: np.Array; b: np.Array }) => r1Penalty((z) => D({ w: q.w.ref, b: q.b.ref }, z), xx).mean().mul(gamma / 2))(p),
  );
  const r1 = await r1Penalty((z) => D({ w: np.array(w), b: np.array(0.7) }, z), x.ref).data();
  assertClose(r1, [dot(w, w), dot(w, w), dot(w, w)], { rtol: 1e-6, what: 'R1' });
  const [v, g] = f({ w: np.array(w), b: np.array(0.7) }, x);
  assertClose(await v.data(), [(gamma / 2) * dot(w, w)], { rtol: 1e-6, what: 'γ/2·R1' });
  assertClose(await g.w.data(), w.map((wi) => gamma * wi), { rtol: 1e-5, what: '∂/∂w' });
  assertClose(await g.b.data(), [0], { atol: 1e-7, what: '∂/∂b' });
});

testOnBackends('R1 of a quadratic D = (w·x)²: value 4(w·x)²‖w‖² and its w-gradient in closed form', async () => {
  const w = [0.3, -0.8, 1.1];
  const xs = [[1, 0.5, -2], [0.2, 1, 0.4]];
  const D = (wa: np.Array, xx: np.Array) => np.square(np.matmul(xx, wa.reshape([3, 1])).reshape([-1]));
  const f = jit((wa: np.Array, xx: np.Array) => valueAndGrad((q: np.Array) => r1Penalty((z) => D(q.ref, z), xx).sum())(wa));
  const [v, g] = f(np.array(w), np.array(xs));
  const ww = dot(w, w);
  const want = xs.map((x) => 4 * dot(w, x) ** 2 * ww).reduce((a, b) => a + b, 0);
  const wantG = w.map((wi, i) => xs.reduce((s, x) => s + 8 * dot(w, x) * ww * x[i] + 8 * dot(w, x) ** 2 * wi, 0));
  assertClose(await v.data(), [want], { rtol: 1e-5, what: 'Σ R1' });
  assertClose(await g.data(), wantG, { rtol: 1e-4, what: '∂ΣR1/∂w' });
  assert.ok(wantG.some((v) => Math.abs(v) > 1), 'the test gradient is not trivially small');
});
