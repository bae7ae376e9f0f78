/**
 * A small MLP denoiser network for low-dimensional data (the 2-D toy distributions): the raw network F
 * of EDM preconditioning (src/edm/precond.ts) with SongUNet's calling convention
 * `mlpNet(cfg, params, x [N, D], noiseLabels [N], classLabels | null) → [N, D]`.
 *
 * The noise label is embedded as in SongUNet (EDM `PositionalEmbedding`, endpoint, sin/cos halves) and
 * mapped through two SiLU layers; each hidden layer adds its own affine projection of that embedding,
 * so every layer knows the noise level. The output layer starts near zero (EDM's `init_zero`), so the
 * untrained denoiser is D ≈ c_skip·x.
 */
import { numpy as np, tree } from '@jax-js/jax';
import { INIT, INIT_ZERO, initParams, linear, linearSpecs, positionalEmbedding, silu, specShapes, type NetOpts, type ParamSpec, type Params } from './layers.js';

export interface MlpConfig {
  /** Data dimension D. */
  dim: number;
  /** Width of every hidden layer. */
  hidden: number;
  /** Hidden layers (each Linear + emb affine + SiLU), followed by one output Linear. */
  layers: number;
  /** Channels of the positional noise embedding. */
  embChannels: number;
  /** Number of class labels; 0 = unconditional. */
  labelDim: number;
}

export const MLP_DEFAULTS: Omit<MlpConfig, 'dim' | 'labelDim'> = { hidden: 128, layers: 3, embChannels: 32 };

export function mlpSpecs(cfg: MlpConfig): ParamSpec[] {
  if (cfg.dim < 1 || cfg.hidden < 1 || cfg.layers < 1 || cfg.embChannels < 4) throw new Error(`MLP: bad config ${JSON.stringify(cfg)}`);
  const specs: ParamSpec[] = [];
  if (cfg.labelDim) specs.push(...linearSpecs('map_label', cfg.labelDim, cfg.embChannels, INIT));
  specs.push(...linearSpecs('map_layer0', cfg.embChannels, cfg.hidden, INIT));
  specs.push(...linearSpecs('map_layer1', cfg.hidden, cfg.hidden, INIT));
  for (let i = 0; i < cfg.layers; i++) {
    specs.push(...linearSpecs(`layers.${i}`, i === 0 ? cfg.dim : cfg.hidden, cfg.hidden, INIT));
    specs.push(...linearSpecs(`layers.${i}.affine`, cfg.hidden, cfg.hidden, INIT));
  }
  specs.push(...linearSpecs('out', cfg.hidden, cfg.dim, INIT_ZERO));
  return specs;
}

export const mlpShapes = (cfg: MlpConfig): Record<string, number[]> => specShapes(mlpSpecs(cfg));

/** Consumes `key`. */
export function initMlp(key: np.Array, cfg: MlpConfig): Params {
  return initParams(key, mlpSpecs(cfg));
}

/** F(x; c_noise, labels) → [N, D]. Consumes every array argument (params included). No dropout. */
export function mlpNet(cfg: MlpConfig, params: Params, x: np.Array, noiseLabels: np.Array, classLabels: np.Array | null, opts: NetOpts = {}): np.Array {
  try {
    opts.key?.dispose();
    if (x.ndim !== 2 || x.shape[1] !== cfg.dim) throw new Error(`MLP: input shape [${x.shape}] does not match [N, ${cfg.dim}]`);
    const half = cfg.embChannels / 2;
    let emb = positionalEmbedding(noiseLabels, cfg.embChannels, { endpoint: true });
    emb = np.concatenate([emb.ref.slice([], [half]), emb.slice([], [0, half])], 1);
    if (cfg.labelDim) {
      const labels = classLabels ?? np.zeros([x.shape[0], cfg.labelDim]);
      emb = emb.add(linear(params, 'map_label', labels.mul(Math.sqrt(cfg.labelDim))));
    } else classLabels?.dispose();
    emb = silu(linear(params, 'map_layer0', emb));
    emb = silu(linear(params, 'map_layer1', emb));
    let h = x;
    for (let i = 0; i < cfg.layers; i++) h = silu(linear(params, `layers.${i}`, h).add(linear(params, `layers.${i}.affine`, emb.ref)));
    emb.dispose();
    return linear(params, 'out', h);
  } finally {
    tree.dispose(params);
  }
}
