// Clipping by global norm against torch.nn.utils.clip_grad_norm_'s formula.
import '../platform/node.js';
import { jit, numpy as np } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { clipByGlobalNorm } from './clip.js';

testOnBackends('clipByGlobalNorm scales to maxNorm, leaves small grads, and can be disabled', async () => {
  // grads (3, 4) and (12): norm 13. torch: coef = min(1, maxNorm / (13 + 1e-6))
  const g = () => ({ a: np.array([3, 4]), b: np.array([12]) });
  const cases: [number, number][] = [[1, 1 / (13 + 1e-6)], [6.5, 6.5 / (13 + 1e-6)], [100, 1], [0, 1], [-1, 1], [Infinity, 1]];
  for (const [maxNorm, coef] of cases) {
    const clip = jit((t: { a: np.Array; b: np.Array }) => clipByGlobalNorm(t, maxNorm));
    const { grads, norm } = clip(g());
    assertClose(await norm.data(), [13], { what: `norm (maxNorm ${maxNorm})` });
    assertClose(await grads.a.data(), [3 * coef, 4 * coef], { what: `a (maxNorm ${maxNorm})` });
    assertClose(await grads.b.data(), [12 * coef], { what: `b (maxNorm ${maxNorm})` });
    clip.dispose();
  }
});
