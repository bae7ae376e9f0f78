/**
 * The DCGAN generator as a Diff-Instruct student (`GeneratorModel`, src/distill/generator.ts): its own
 * latent z ~ N(0, I_zDim) and architecture, nothing borrowed from a teacher. Also the self-describing
 * snapshot format of GAN generators (metadata `format: 'diff-instruct/gan-generator@1'`, `kind:
 * 'generator'`, `generator: 'dcgan'`, `netConfig`, `zDim`, `labelDim`, …) and loading one back.
 * `loadNetwork` (src/teacher/generate.ts) dispatches here, so `sample`, `eval` and `refine` read GAN
 * generators the same way as EDM one-step generators.
 */
import { random } from '@jax-js/jax';
import { loadParams, readMeta } from '../io/params.js';
import type { GeneratorModel, Params } from '../distill/generator.js';
import { normalForSeeds } from '../random/seeds.js';
import { dcganGenerator, dcganGeneratorShapes, validateDcganConfig, type DcganConfig } from './dcgan.js';

export const GAN_GENERATOR_FORMAT = 'diff-instruct/gan-generator@1';

/** What a GAN generator snapshot's `diff_instruct` metadata holds (training adds config, kimg, step, …). */
export interface GanGeneratorMeta {
  format: typeof GAN_GENERATOR_FORMAT;
  kind: 'generator';
  generator: 'dcgan';
  netConfig: DcganConfig;
  zDim: number;
  labelDim: number;
  resolution: number;
  channels: number;
  dataShape: number[];
  dataset?: string;
  cond: boolean;
  [key: string]: unknown;
}

/** x = G(z, y) with z ~ N(0, I_zDim): the GAN generator as a `GeneratorModel` (kind 'dcgan'). */
export function dcganGeneratorModel(c: DcganConfig): GeneratorModel {
  validateDcganConfig(c);
  return {
    kind: 'dcgan',
    latentShape: [c.zDim],
    outputShape: [c.channels, c.resolution, c.resolution],
    labelDim: c.labelDim,
    sampleLatent: (key, n) => random.normal(key, [n, c.zDim]),
    latentForSeeds: (seeds) => normalForSeeds(seeds, [c.zDim]),
    apply: (params, z, labels, opts) => {
      opts?.key?.dispose(); // no dropout
      return dcganGenerator(c, params, z, labels);
    },
  };
}

/** The metadata that describes a GAN generator fully (plus `extra`: dataset, config, kimg, …). */
export function ganGeneratorMeta(c: DcganConfig, extra: Record<string, unknown> = {}): GanGeneratorMeta {
  return {
    format: GAN_GENERATOR_FORMAT,
    kind: 'generator',
    generator: 'dcgan',
    netConfig: c,
    zDim: c.zDim,
    labelDim: c.labelDim,
    resolution: c.resolution,
    channels: c.channels,
    dataShape: [c.channels, c.resolution, c.resolution],
    cond: c.labelDim > 0,
    ...extra,
  };
}

/** Whether a checkpoint's metadata describes a GAN generator. */
export function isGanGeneratorMeta(meta: unknown): boolean {
  const m = meta as Record<string, unknown> | null;
  return !!m && typeof m === 'object' && m.kind === 'generator' && (m.generator === 'dcgan' || m.format === GAN_GENERATOR_FORMAT);
}

/** Validates GAN generator metadata; returns its network config. One-line errors naming the file. */
export function checkGanGeneratorMeta(path: string, meta: unknown): DcganConfig {
  const m = meta as Partial<GanGeneratorMeta> | null;
  if (!m || m.format !== GAN_GENERATOR_FORMAT) throw new Error(`'${path}': metadata format is ${JSON.stringify(m?.format)}, expected "${GAN_GENERATOR_FORMAT}"`);
  if (m.generator !== 'dcgan') throw new Error(`'${path}': unknown GAN generator ${JSON.stringify(m.generator)} (expected "dcgan")`);
  if (!m.netConfig || typeof m.netConfig !== 'object') throw new Error(`'${path}': metadata has no 'netConfig'`);
  try {
    validateDcganConfig(m.netConfig);
  } catch (e) {
    throw new Error(`'${path}': ${(e as Error).message}`);
  }
  return m.netConfig;
}

export interface LoadedGanGenerator {
  path: string;
  model: GeneratorModel;
  /** Owned by the caller. */
  params: Params;
  meta: GanGeneratorMeta;
  config: DcganConfig;
}

/** Loads a GAN generator snapshot (tensor shapes checked against its own `netConfig`). */
export async function loadGanGenerator(path: string): Promise<LoadedGanGenerator> {
  const { meta } = readMeta(path);
  const config = checkGanGeneratorMeta(path, meta);
  const { params } = await loadParams(path, { expect: dcganGeneratorShapes(config) });
  return { path, model: dcganGeneratorModel(config), params, meta: meta as GanGeneratorMeta, config };
}
