/** What the page calls the config's choices: one table for the 2-D playground and the image distillation. */

/** Each choice: [what the drop-down shows (short enough for its width), what the hint under it says]. */
export const LOSS_TEXT: Record<string, [string, string]> = {
  ikl: ['IKL (Diff-Instruct)', 'Integral KL: follows D_φ − D_p, the difference of the two denoisers'],
  sid: ['SiD', 'score identity distillation (Zhou et al. 2024)'],
  sds: ['SDS (no fake score)', 'score distillation (DreamFusion): the fake score is left out'],
  dmd: ['DMD', 'distribution matching distillation (Yin et al. 2024)'],
};
export const WEIGHTING_TEXT: Record<string, [string, string]> = {
  reference: ['reference', 'w(σ) = 1 on D_φ − D_p, as the reference code'],
  'score-uniform': ['score-uniform', 'w(σ) = 1/σ²: every noise level weighs the same in score units'],
  normalized: ['normalized', 'w = 1 / mean|x₀ − D_p| per sample (DMD’s)'],
};
export const SIGMA_TEXT: Record<string, [string, string]> = {
  lognormal: ['log-normal', 'ln σ ~ N(P_mean, P_std²), EDM’s training distribution'],
  loguniform: ['log-uniform', 'σ log-uniform on [σ_min, σ_max]'],
  karras: ['Karras', 'σ on the Karras schedule, t uniform in [0, t_max]'],
  fixed: ['fixed σ', 'one noise level: the plain KL at that σ'],
};
