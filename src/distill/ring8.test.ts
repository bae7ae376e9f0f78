/**
 * The first fifth of the 2-D quick start (`configs/quickstart-ring8.json`, seed 0, Wasm): after 128 of its
 * 640 kimg the MLP generator already covers all 8 modes of `toy:ring8` and puts most samples near them.
 * Measured on the 2-core development machine (2026-12-06): 8/8 modes, 78.7 % of 5,000 samples within 3 std
 * of a mode centre (from 0 % for the initial generator), 32 s of training. The whole run and its ≥ 90 %
 * acceptance are `ring8.slow.test.ts` (`npm run test:slow`); a uniform ring would put ~38 % within 3σ.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDevice } from '../platform/devices.js';
import { parseConfig } from '../config/config.js';
import { DistillConfig } from './config.js';
import { buildSetup } from './build.js';
import { disposeSetup, runDistill } from './trainer.js';

test('ring8: a fifth of the quick start covers 8/8 modes with ≥ 70 % of samples within 3σ (seeded, CPU)', { timeout: 900_000 }, async () => {
  await initDevice('wasm');
  const recipe = JSON.parse(readFileSync(new URL('../../configs/quickstart-ring8.json', import.meta.url), 'utf8'));
  const out = mkdtempSync(join(tmpdir(), 'di-ring8-'));
  const cfg = parseConfig(DistillConfig, { ...recipe, duration: 128, outdir: out, snap: 1000, seed: 0 });
  const setup = await buildSetup(cfg);
  let r;
  try {
    r = await runDistill(cfg, setup, { echo: false });
  } finally {
    disposeSetup(setup);
    rmSync(out, { recursive: true, force: true });
  }
  assert.equal(r.skipped, 0, 'no step was skipped as non-finite');
  const [first, last] = [r.metrics[0], r.metrics.at(-1)!];
  assert.equal(first.kimg, 0);
  assert.equal(last.kimg, 128);
  assert.ok(first.highQuality < 0.1, `the initial generator is not already on the modes (${first.highQuality})`);
  assert.equal(last.n, 5000);
  assert.equal(last.modesCovered, 8, `modes covered: ${last.modesCovered}/8`);
  assert.ok(last.highQuality >= 0.7, `within 3σ of a mode: ${(100 * last.highQuality).toFixed(1)} % (need ≥ 70 %)`);
});
