/** Types of patches/jax-js.mjs (our literal before → after patches of @jax-js/jax's dist files). */
export interface JaxPatch {
  name: string;
  replace: [before: string, after: string][];
}
export declare const PATCHES: JaxPatch[];
