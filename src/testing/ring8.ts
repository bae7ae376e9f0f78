/**
 * The 2-D quick start (`configs/quickstart-ring8.json`) as the ring8 tests run it: seed 0, Wasm, metrics
 * (5,000 samples) only before the first and after the last step, for `duration` kimg (the recipe's 640
 * by default). Returns the trainer's result; the run folder is deleted.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initDevice } from '../platform/devices.js';
import { parseConfig } from '../config/config.js';
import { DistillConfig } from '../distill/config.js';
import { buildSetup } from '../distill/build.js';
import { disposeSetup, runDistill, type DistillResult } from '../distill/trainer.js';

export async function runRing8QuickStart(duration?: number): Promise<{ cfg: DistillConfig; r: DistillResult }> {
  await initDevice('wasm');
  const recipe = JSON.parse(readFileSync(new URL('../../configs/quickstart-ring8.json', import.meta.url), 'utf8'));
  const out = mkdtempSync(join(tmpdir(), 'di-ring8-'));
  const cfg = parseConfig(DistillConfig, { ...recipe, ...(duration ? { duration } : {}), outdir: out, snap: 1000, seed: 0 });
  const setup = await buildSetup(cfg);
  try {
    return { cfg, r: await runDistill(cfg, setup, { echo: false }) };
  } finally {
    disposeSetup(setup);
    rmSync(out, { recursive: true, force: true });
  }
}
