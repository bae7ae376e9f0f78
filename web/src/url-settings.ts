/**
 * Every URL setting the page reads, each validated once, on its own, by the schema its form field uses:
 * the 2-D playground's keys by `playgroundConfig` (the `distill` config plus the page's rules), the
 * in-tab distillation's by the `DistillConfig` field they preset, and the page's own keys (device, run
 * lengths, gallery sizes) by `PageSettings` below. A bad value or an unknown key is named in `problems`
 * (one line each, shown at the top of the page) and its default is used: a URL never stops the page.
 */
import { z } from 'zod';
import { DistillConfig, type DistillConfig as DistillConfigT } from 'diff-instruct';
import { playgroundConfig } from './toy-config.js';

/** The page's own settings (not `distill` config fields), with their defaults and ranges. */
export const PageSettings = z
  .object({
    device: z.enum(['auto', 'wasm', 'webgpu']).default('auto').describe('compute device: auto (a hardware WebGPU adapter, else WebAssembly), wasm or webgpu'),
    steps: z.number().int().positive().optional().describe('pause the first 2-D run after this many generator steps'),
    models: z.string().min(1).default('models/').describe('URL prefix of the model files'),
    galleryBatch: z.number().int().min(1).max(64).default(16).describe('images per gallery batch'),
    teacherSteps: z.number().int().min(1).max(100).default(18).describe("the gallery teacher's Heun steps (EDM's 18)"),
    distillSteps: z.number().int().positive().optional().describe('in-tab distillation: stop after this many generator steps'),
    distillEvery: z.number().int().positive().optional().describe('in-tab distillation: evaluate every this many generator steps'),
    distillEvalN: z.number().int().min(2).optional().describe('in-tab distillation: images per evaluation'),
    distillBatch: z.number().int().min(1).max(256).optional().describe('in-tab distillation: generator images per step'),
    distillLoss: DistillConfig.shape.loss.optional().describe('in-tab distillation: generator loss'),
    distillLrGen: DistillConfig.shape.lrGen.unwrap().optional().describe('in-tab distillation: generator learning rate'),
    distillLrFake: DistillConfig.shape.lrFake.unwrap().optional().describe('in-tab distillation: fake-score learning rate'),
  })
  .strict();
export type PageSettings = z.infer<typeof PageSettings>;

/** `distill` config fields the playground takes from the URL (`toy` is `teacher: toy:<name>`). */
const PLAYGROUND_KEYS = ['toy', 'loss', 'weighting', 'sigmaDist', 'lrGen', 'lrFake', 'fakeSteps', 'seed', 'pMean', 'pStd', 'sigmaMin', 'sigmaMax', 'sigmaFixed', 'batch', 'fakeWarmup'] as const;
const TEXT_KEYS = new Set(['device', 'models', 'toy', 'loss', 'weighting', 'sigmaDist', 'distillLoss']);

export interface UrlSettings {
  page: PageSettings;
  /** Playground overrides of the `distill` config that passed, alone and together. */
  playground: Partial<DistillConfigT>;
  /** One line per URL setting that was not used, and why. */
  problems: string[];
}

/** A URL value as its schema expects it: text, or a number ('' and 'abc' stay invalid). */
function valueOf(key: string, raw: string): unknown {
  if (TEXT_KEYS.has(key)) return raw;
  return raw.trim() === '' ? NaN : Number(raw);
}

function firstIssue(e: unknown): string {
  const issues = (e as { issues?: { message: string }[] }).issues;
  return (issues?.[0]?.message ?? (e as Error).message ?? String(e)).split('\n')[0];
}

/** Parses `search` (location.search): never throws. */
export function parseUrlSettings(search: string): UrlSettings {
  const q = new URLSearchParams(search);
  const problems: string[] = [];
  const page: Record<string, unknown> = {};
  const playground: Record<string, unknown> = {};
  const pageKeys = Object.keys(PageSettings.shape);
  const known = [...pageKeys, ...PLAYGROUND_KEYS];
  for (const [key, raw] of q) {
    const v = valueOf(key, raw);
    if ((PLAYGROUND_KEYS as readonly string[]).includes(key)) {
      const field = key === 'toy' ? 'teacher' : key;
      const value = key === 'toy' ? `toy:${raw}` : v;
      try {
        playgroundConfig({ [field]: value });
        playground[field] = value;
      } catch (e) {
        problems.push(`URL setting ${key}=${raw} is not valid (${firstIssue(e)}): using the default`);
      }
    } else if (pageKeys.includes(key)) {
      const r = (PageSettings.shape as Record<string, z.ZodType>)[key].safeParse(v);
      if (r.success) page[key] = r.data;
      else problems.push(`URL setting ${key}=${raw} is not valid (${firstIssue(r.error)}): using the default`);
    } else {
      problems.push(`URL setting ${key}=${raw} is not known: ignored (known: ${known.join(', ')})`);
    }
  }
  // settings valid alone can still clash (σ_min above σ_max): then the playground's set is dropped whole
  try {
    playgroundConfig(playground);
  } catch (e) {
    problems.push(`URL settings ${Object.keys(playground).join(', ')} do not fit together (${firstIssue(e)}): using the defaults`);
    for (const k of Object.keys(playground)) delete playground[k];
  }
  return { page: PageSettings.parse(page), playground: playground as Partial<DistillConfigT>, problems };
}

let parsed: UrlSettings | null = null;
/** This page's URL settings (parsed once). */
export function urlSettings(): UrlSettings {
  return (parsed ??= parseUrlSettings(globalThis.location?.search ?? ''));
}
