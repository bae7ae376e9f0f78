/**
 * diff-instruct's library barrel: what the CLI, the web page and users import. Namespaces group the
 * layers of docs/ARCHITECTURE.md; the common entry points are also exported flat.
 */
import './platform/node.js';

export * as devices from './platform/devices.js';
export { initDevice, listDevices, type DeviceInfo } from './platform/devices.js';
export * as config from './config/config.js';

export * as safetensors from './io/safetensors.js';
export * as params from './io/params.js';
export * as png from './io/png.js';
export * as scatter from './io/scatter.js';

export * as data from './data/images.js';
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

export * as losses from './distill/losses.js';
export * as sigma from './distill/sigma.js';
export * as generator from './distill/generator.js';
export * as steps from './distill/steps.js';
export { DistillConfig } from './distill/config.js';
export { makeSteps } from './distill/steps.js';
export { generatorLoss, GENERATOR_LOSSES, WEIGHTINGS } from './distill/losses.js';
