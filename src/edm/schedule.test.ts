/**
 * Karras σ schedule (EDM Eq. 5). Expected values from Python:
 *   [(80**(1/7) + i/(n-1)*(0.002**(1/7) - 80**(1/7)))**7 for i in range(n)] + [0]
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose } from '../testing/backends.js';
import { karrasSigmas } from './schedule.js';

test('karrasSigmas(18) equals EDM Eq. 5 with a trailing 0', () => {
  const s = karrasSigmas(18);
  assert.equal(s.length, 19);
  assert.equal(s[18], 0);
  assertClose(s.slice(0, 18), [
    80.0, 57.58598472124816, 40.78557379650796, 28.374584604156844, 19.35245298032523, 12.91008238075732, 8.400935309099816,
    5.315194521796382, 3.256821519765537, 1.9233398370400518, 1.088170636545279, 0.5853481231945422, 0.29644228447915727,
    0.13951646873101678, 0.05994731123547159, 0.022934518372333384, 0.0075280199627840785, 0.002,
  ], { rtol: 1e-12, what: 'sigma' });
  assertClose(karrasSigmas(4), [80, 9.723201355260132, 0.46997905799774714, 0.002, 0], { rtol: 1e-12 });
});

test('karrasSigmas edge cases: one step starts at σ_max; bad arguments are one-line errors', () => {
  assert.deepEqual(karrasSigmas(1, 0.002, 80), [80, 0]);
  assert.throws(() => karrasSigmas(0), /positive integer, got 0/);
  assert.throws(() => karrasSigmas(5, 1, 0.5), /sigmaMin <= sigmaMax/);
});
