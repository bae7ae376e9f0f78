/** Picks the setup for a distillation config: analytic toy teachers or EDM teacher checkpoints. */
import type { DistillConfig } from './config.js';
import { setupToy, type DistillSetup } from './setup.js';

export async function buildSetup(cfg: DistillConfig): Promise<DistillSetup> {
  if (cfg.teacher.startsWith('toy:')) return setupToy(cfg);
  const { setupImageTeacher } = await import('./setup-image.js');
  return setupImageTeacher(cfg);
}
