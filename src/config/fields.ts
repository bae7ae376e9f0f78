/**
 * Config field types shared by the command schemas, pure zod (no Node built-ins: the web page parses
 * the same schemas).
 */
import { z } from 'zod';

/**
 * A seed-list field (`0-99`, `1,5,10-19`; '' for none), checked when the config is parsed, so a bad list
 * is an error before any compute whatever the teacher (the same syntax as random/seeds.ts parseSeeds).
 */
export function seedListField(def: string, description: string) {
  return z
    .string()
    .default(def)
    .refine((v) => v.trim() === '' || v.split(',').every((part) => {
      const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
      return m !== null && (m[2] === undefined || Number(m[1]) <= Number(m[2]));
    }), { message: "expected seeds as N or A-B (A ≤ B) separated by commas, e.g. '0-99' or '1,5,10-19'" })
    .describe(description);
}

/** A sample count for metrics: 0 (none) or at least 2, as FD needs a covariance (1 fails deep inside the metrics). */
export function evalCountField(def: number, description: string) {
  return z
    .number()
    .int()
    .min(0)
    .refine((n) => n === 0 || n >= 2, { message: 'expected 0 (no metrics) or at least 2 samples (FD needs a covariance)' })
    .default(def)
    .describe(description);
}
