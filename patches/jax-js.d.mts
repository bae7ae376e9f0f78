/** Types of patches/jax-js.mjs (our literal before → after patches of @jax-js/jax's dist files). */
export interface JaxPatch {
  name: string;
  /** The dist file edited: 'index' (default) or 'backend' (the backends' chunk, backend-<hash>.js/.cjs). */
  file?: 'index' | 'backend';
  replace: [before: string, after: string][];
}
export declare const PATCHES: JaxPatch[];
