/**
 * `loadGenerator`: any generator snapshot → a `GeneratorModel` with its params, rebuilt from the file's
 * metadata alone — an EDM one-step generator (`generator: 'edm-one-step'`, the teacher's denoiser at
 * σ_init) or a GAN generator (`generator: 'dcgan'`). It goes through `loadNetwork`, so a generator
 * loaded here samples by the same code as `diff-instruct sample`.
 */
import { tree } from '@jax-js/jax';
import type { GeneratorModel, Params } from '../distill/generator.js';
import { generatorOf, loadNetwork, type Network } from '../teacher/generate.js';

export interface LoadedGenerator {
  path: string;
  model: GeneratorModel;
  /** Owned by the caller (the same arrays as `network.params`). */
  params: Params;
  meta: Network['meta'];
  /** The same generator as a `Network`, for `generateImages`. */
  network: Network;
}

/** Loads a generator snapshot (file or shipped name); a teacher file is a one-line error. */
export async function loadGenerator(pathOrName: string): Promise<LoadedGenerator> {
  const network = await loadNetwork(pathOrName);
  if (network.kind !== 'generator') {
    tree.dispose(network.params);
    throw new Error(`'${network.path}' holds a ${network.kind} checkpoint, expected a generator (EDM one-step or GAN)`);
  }
  return { path: network.path, model: generatorOf(network), params: network.params, meta: network.meta, network };
}
