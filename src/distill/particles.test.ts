/**
 * The particle generator and its SDS gradient. A batch of N is every particle once; seeds pick particle
 * k mod N; and the SDS surrogate's gradient with respect to particle k is exactly
 * (w/N)·(x_k − D_p(x_k + σε_k)), the Dirac IKL gradient of docs/sds-as-diff-instruct.md, recomputed here
 * on the host from the Gaussian-mixture teacher's float64 denoiser with the same σ and ε.
 */
import assert from 'node:assert/strict';
import { grad, numpy as np, random } from '@jax-js/jax';
import { GaussianMixture } from '../data/gmm.js';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { splitKeyList } from '../random/seeds.js';
import { generatorLoss, type GeneratorLossOpts } from './losses.js';
import { initParticles, particleGeneratorModel } from './particles.js';

const N = 6;

testOnBackends('particles: a batch of N is every particle in order; seeds pick k mod N; random batches pick particles', async () => {
  const gen = particleGeneratorModel({ count: N, dim: 2 });
  const x = initParticles(random.key(3), { count: N, dim: 2 }, 2.0);
  const want = (await x.x.ref.data()) as Float32Array;
  const all = await gen.apply({ x: x.x.ref }, gen.sampleLatent(random.key(0), N), null).data();
  assertClose(all, want, { what: 'batch of N' });
  const bySeed = await gen.apply({ x: x.x.ref }, gen.latentForSeeds([1, N + 4]), null).data();
  assertClose(bySeed, [want[2], want[3], want[8], want[9]], { what: 'seeds 1 and N+4' });
  const some = (await gen.apply({ x: x.x }, gen.sampleLatent(random.key(1), 20), null).data()) as Float32Array;
  for (let i = 0; i < 20; i++) {
    const hit = Array.from({ length: N }, (_, k) => k).some((k) => some[2 * i] === want[2 * k] && some[2 * i + 1] === want[2 * k + 1]);
    assert.ok(hit, `sample ${i} (${some[2 * i]}, ${some[2 * i + 1]}) is not one of the particles`);
  }
  assert.throws(() => gen.apply({ y: np.zeros([N, 2]) }, np.eye(N), null), /params must be exactly \{x/);
});

testOnBackends('particles: SDS gradient on each particle = (w/N)·(x_k − D_p(x_k + σε_k)), the Dirac IKL gradient', async () => {
  const teacher = new GaussianMixture([[1, 0], [-1, 0.5]], [0.3, 0.5], [1, 2]);
  const gen = particleGeneratorModel({ count: N, dim: 2 });
  const theta = initParticles(random.key(5), { count: N, dim: 2 }, 1.5);
  const x0 = (await theta.x.ref.data()) as Float32Array;
  const sigma = 0.4;
  const opts: GeneratorLossOpts = { kind: 'sds', weighting: 'reference', sigma: { kind: 'fixed', value: sigma }, sidAlpha: 1.2 };
  const key = random.key(9);
  const f = (p: { x: np.Array }) =>
    generatorLoss(opts, teacher.asDenoiser(), {}, null, null, gen.apply(p, np.eye(N), null), null, key.ref).mean();
  const g = (await (grad(f)({ x: theta.x }) as { x: np.Array }).x.data()) as Float32Array;
  // the same ε the loss drew: generatorLoss splits its key into (σ key, noise key) and draws ε from the second
  const [kSigma, kNoise] = splitKeyList(key, 2);
  kSigma.dispose();
  const eps = (await random.normal(kNoise, [N, 2]).data()) as Float32Array;
  const want: number[] = [];
  for (let k = 0; k < N; k++) {
    const xk = [x0[2 * k], x0[2 * k + 1]];
    const d = teacher.denoiseJS([xk[0] + sigma * eps[2 * k], xk[1] + sigma * eps[2 * k + 1]], sigma);
    want.push((xk[0] - d[0]) / N, (xk[1] - d[1]) / N);
  }
  assertClose(g, want, { rtol: 1e-3, atol: 1e-5, what: 'SDS gradient' });
});
