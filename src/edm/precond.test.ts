/**
 * Preconditioning scalings against EDM Table 1 at fixed σ. Expected numbers were computed with
 * Python's math module from the Table 1 formulas, e.g. EDM at σ=2, σd=0.5:
 *   c_skip = 0.25/(4+0.25), c_out = 2·0.5/√4.25, c_in = 1/√4.25, c_noise = ln(2)/4;
 *   VP at σ=1: c_noise = 999·(√(0.1² + 2·19.9·ln 2) − 0.1)/19.9.
 */
import assert from 'node:assert/strict';
import { numpy as np } from '@jax-js/jax';
import { assertClose, testOnBackends } from '../testing/backends.js';
import { precondition, preconditionScalings, type PrecondKind, type RawNet } from './precond.js';

const table: Record<PrecondKind, { sigma: number[]; cSkip: number[]; cOut: number[]; cIn: number[]; cNoise: number[] }> = {
  edm: {
    sigma: [0.002, 0.5, 2, 80],
    cSkip: [0.9999840002559959, 0.5, 0.058823529411764705, 3.906097418069607e-5],
    cOut: [0.0019999840001919972, 0.35355339059327373, 0.48507125007266594, 0.49999023466109294],
    cIn: [1.9999840001919975, 1.414213562373095, 0.48507125007266594, 0.012499755866527323],
    cNoise: [-1.5536520246055479, -0.17328679513998632, 0.17328679513998632, 1.0955066586684703],
  },
  vp: {
    sigma: [0.002, 1, 80],
    cSkip: [1, 1, 1],
    cOut: [-0.002, -1, -80],
    cIn: [0.9999980000060001, 0.7071067811865475, 0.01249902355192602],
    cNoise: [0.039802133414954484, 258.7013021703638, 932.5776320974633],
  },
  ve: {
    sigma: [0.02, 3, 100],
    cSkip: [1, 1, 1],
    cOut: [0.02, 3, 100],
    cIn: [1, 1, 1],
    cNoise: [-4.605170185988091, 0.4054651081081644, 3.912023005428146],
  },
};

testOnBackends('precond scalings equal EDM Table 1 (edm, vp, ve) at fixed σ', async () => {
  for (const [kind, t] of Object.entries(table) as [PrecondKind, (typeof table)['edm']][]) {
    const s = preconditionScalings(kind, np.array(t.sigma), { sigmaData: 0.5 });
    for (const k of ['cSkip', 'cOut', 'cIn', 'cNoise'] as const) {
      assertClose(await s[k].data(), t[k], { rtol: 2e-5, atol: 1e-6, what: `${kind} ${k}` });
    }
  }
});

testOnBackends('precondition: D = c_skip·x + c_out·F(c_in·x, c_noise); the raw net sees c_noise, not σ', async () => {
  const sigma = [0.5, 2];
  const x = [
    [1, -2],
    [3, 0.5],
  ];
  // F returns its input (tests c_in, c_skip, c_out); G returns c_noise broadcast (tests what the net sees).
  const identity: RawNet = (p, xin, noise) => {
    noise.dispose();
    return xin;
  };
  const noiseOut: RawNet = (p, xin, noise) => np.broadcastTo(noise.reshape([-1, 1]), xin.shape).add(xin.mul(0));
  const e = table.edm;
  const d1 = (await precondition('edm', identity)({}, np.array(x), np.array(sigma), null).data()) as Float32Array;
  const d2 = (await precondition('edm', noiseOut)({}, np.array(x), np.array(sigma), null).data()) as Float32Array;
  const exp1: number[] = [], exp2: number[] = [];
  for (let i = 0; i < 2; i++) {
    const j = i + 1; // σ = 0.5, 2 are rows 1 and 2 of the EDM table
    for (const v of x[i]) {
      exp1.push(e.cSkip[j] * v + e.cOut[j] * e.cIn[j] * v);
      exp2.push(e.cSkip[j] * v + e.cOut[j] * e.cNoise[j]);
    }
  }
  assertClose(d1, exp1, { rtol: 1e-5, atol: 1e-6, what: 'D with identity F' });
  assertClose(d2, exp2, { rtol: 1e-5, atol: 1e-6, what: 'D with F = c_noise' });
  assert.throws(() => precondition('edm', identity)({}, np.zeros([2, 2]), np.zeros([3]), null), /sigma has shape \[3\], expected \[2\]/);
  assert.throws(() => precondition('bogus' as PrecondKind, identity), /unknown preconditioning 'bogus'/);
});
