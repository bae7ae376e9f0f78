/**
 * GAN losses, per sample (they never reduce, call an optimizer or log): the non-saturating logistic
 * loss of Goodfellow et al. 2014 (§3) as StyleGAN2 uses it, and the R1 gradient penalty on real data
 * (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?", Eq. 9):
 *
 *   L_D = softplus(D(G(z))) + softplus(−D(x)) + (γ/2)·‖∇_x D(x)‖²,     x ~ p_data
 *   L_G = softplus(−D(G(z)))
 *
 * R1 is a gradient of D w.r.t. its input inside the loss that is itself differentiated w.r.t. D's
 * params: grad-of-grad. jax-js 0.1.25's autodiff does this right (closed forms in losses.test.ts;
 * the real D against finite differences in dcgan.test.ts), eagerly on every backend and jitted on
 * WebGPU; its Wasm backend miscompiles the jitted D's version (convs with 4k channels), so the trainer
 * runs that one eagerly on Wasm (steps.ts).
 */
import { grad, numpy as np } from '@jax-js/jax';

/** log(1 + eˣ) without overflow: max(x, 0) + log1p(e^−|x|) (jax-js's nn.softplus overflows for x ≳ 88). */
export function softplus(x: np.Array): np.Array {
  return np.maximum(x.ref, 0).add(np.log1p(np.exp(np.abs(x).neg())));
}

/** Σ over all but the first axis: [N, ...] → [N]. */
function sumPerSample(x: np.Array): np.Array {
  return x.ndim === 1 ? x : x.sum(Array.from({ length: x.ndim - 1 }, (_, i) => i + 1));
}

/** The discriminator's non-saturating loss [N] from real and fake logits [N] (consumed). */
export function discriminatorLoss(realLogits: np.Array, fakeLogits: np.Array): np.Array {
  return softplus(fakeLogits).add(softplus(realLogits.neg()));
}

/** The generator's non-saturating loss [N] from the logits [N] of its samples (consumed). */
export function generatorLoss(fakeLogits: np.Array): np.Array {
  return softplus(fakeLogits.neg());
}

/**
 * R1 = ‖∇_x D(x)‖² per sample [N], for a discriminator `d: x [N, ...] → logits [N]` that may close
 * over its params (differentiating the result w.r.t. them is the grad-of-grad). Samples are independent
 * in D, so the gradient of Σ_n D(x_n) holds each sample's own ∇_x D(x_n). Consumes `x`.
 */
export function r1Penalty(d: (x: np.Array) => np.Array, x: np.Array): np.Array {
  const g = grad((xx: np.Array) => d(xx).sum())(x);
  return sumPerSample(np.square(g));
}
