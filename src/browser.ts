/**
 * diff-instruct's browser entry: the library barrel less everything that needs Node (files, run
 * folders, dataset loaders, config files). Bundlers pick it through package.json's `browser` export
 * condition; src/index.ts re-exports all of it and adds the Node-only namespaces. Checkpoints load from
 * bytes here (`params.paramsFromBytes(await (await fetch(url)).arrayBuffer())`), not from paths.
 */
import './platform/node.js';

export * as devices from './platform/devices.js';
export { initDevice, listDevices, type DeviceInfo } from './platform/devices.js';

export * as safetensors from './io/safetensors-format.js';
export * as params from './io/params-format.js';

export * as gmm from './data/gmm.js';
export * as toy2d from './data/toy2d.js';

export * as adam from './train/adam.js';
export * as ema from './train/ema.js';
export * as trees from './train/tree.js';
export * as seeds from './random/seeds.js';

export * as layers from './nets/layers.js';
export * as songUNet from './nets/song-unet.js';
export * as mlp from './nets/mlp.js';
export * as mlpGenerator from './nets/mlp-generator.js';

export * as precond from './edm/precond.js';
export * as edmLoss from './edm/loss.js';
export * as schedule from './edm/schedule.js';
export * as sampler from './edm/sampler.js';

export * as classifier from './metrics/classifier.js';
export * as referenceStats from './metrics/reference-format.js';
export * as imageMetrics from './metrics/evaluator.js';

export * as losses from './distill/losses.js';
export * as sigma from './distill/sigma.js';
export * as generator from './distill/generator.js';
export * as sample from './distill/sample.js';
export * as steps from './distill/steps.js';
export * as iteration from './distill/iteration.js';
export * as toyModels from './distill/toy-models.js';
export * as toyMetrics from './metrics/toy2d.js';
export * as distillOptions from './distill/options.js';
export { DistillConfig } from './distill/config.js';
export { makeSteps } from './distill/steps.js';
export { generatorLoss, GENERATOR_LOSSES, WEIGHTINGS } from './distill/losses.js';
