/**
 * One typed configuration per command: a strict zod object whose every field has a default and a
 * one-line reason (`.describe`). The same schema drives the CLI flags, the library and the web page;
 * unknown keys are errors; the resolved config is written into the run folder and checkpoint metadata.
 */
import { z } from 'zod';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

export type Schema = z.ZodObject<any>;

/** kebab-case flag name for a camelCase config key (`sigmaInit` → `sigma-init`). */
export const toKebab = (k: string) => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const toCamel = (k: string) => k.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

/** Unwraps default/optional/nullable wrappers to the inner zod type. */
function inner(t: z.ZodType): z.ZodType {
  let cur: any = t;
  while (cur?.def && ['default', 'optional', 'nullable', 'prefault', 'readonly'].includes(cur.def.type)) cur = cur.def.innerType;
  return cur;
}

function formatIssue(issue: z.core.$ZodIssue, where: string, flags: ReadonlySet<string>): string {
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown config key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  }
  const path = issue.path.join('.') || '(root)';
  // a value the user typed as a flag is named as typed (--lr-fake), one from a file by its key
  if (flags.has(path)) return `--${toKebab(path)}: ${issue.message}`;
  return `${where}: config key '${path}': ${issue.message}`;
}

/**
 * Validates `raw` against `schema` and fills defaults. Throws a one-line error naming the first bad key.
 * `where` names the source (a file, "command line") in the message; keys in `flags` came from
 * command-line flags and are named as the flag.
 */
export function parseConfig<S extends Schema>(schema: S, raw: unknown, where = 'config', flags: ReadonlySet<string> = new Set()): z.infer<S> {
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new Error(`${where}: expected a JSON object of config keys, got ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)}`);
  }
  const r = schema.strict().safeParse(raw ?? {});
  if (!r.success) throw new Error(formatIssue(r.error.issues[0], where, flags));
  return r.data as z.infer<S>;
}

/** Turns a CLI string into the type the field expects (numbers, booleans, enums, number lists). */
export function coerceCliValue(t: z.ZodType, value: string, key: string): unknown {
  const base: any = inner(t);
  const kind = base?.def?.type;
  if (kind === 'number') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`--${toKebab(key)}: expected a number, got '${value}'`);
    return n;
  }
  if (kind === 'boolean') {
    if (['true', '1', 'yes', ''].includes(value)) return true;
    if (['false', '0', 'no'].includes(value)) return false;
    throw new Error(`--${toKebab(key)}: expected true or false, got '${value}'`);
  }
  if (kind === 'array') {
    const el = inner(base.def.element)?.def?.type;
    const parts = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    return el === 'number' ? parts.map((s) => coerceCliValue(base.def.element, s, key)) : parts;
  }
  return value;
}

/** The `<placeholder>` of a field's flag: its choices, or what kind of value it takes. */
function placeholder(key: string, t: z.ZodType): string {
  const base: any = inner(t);
  switch (base?.def?.type) {
    case 'enum':
      return `<${Object.values(base.def.entries).join('|')}>`;
    case 'boolean':
      return '<true|false>';
    case 'array':
      return '<list>';
    case 'number':
      return base.isInt || (base.def.checks ?? []).some((c: any) => c?._zod?.def?.format === 'safeint') ? '<n>' : '<x>';
    default:
      return /dir$/i.test(key) ? '<dir>' : /^(init|resume|teacher|network|generator|classifier|images|run|config)$/.test(key) ? '<path>' : '<text>';
  }
}

/** Adds one `--kebab-key <placeholder>` option per schema field, described by its reason and default. */
export function addConfigOptions(cmd: Command, schema: Schema): Command {
  const defaults = schema.parse({});
  for (const [k, t] of Object.entries(schema.shape)) {
    const d = (defaults as any)[k];
    const reason = (t as z.ZodType).description ?? '';
    // one default, and none for an empty one or where the reason already says it
    const shown = d === undefined || d === null || d === '' || /\bdefault\b/.test(reason) ? '' : ` (default: ${Array.isArray(d) ? d.join(',') : d})`;
    cmd.option(`--${toKebab(k)} ${placeholder(k, t as z.ZodType)}`, `${reason}${shown}`);
  }
  cmd.option('--config <file>', 'JSON file of config values (command-line flags override it)');
  cmd.option('--dry-run', 'check the inputs, print the resolved config as JSON (a file for --config) and exit');
  return cmd;
}

/** The values of a `--config` file, checked against `schema` on their own (unknown keys, types): errors name the file. */
function readConfigFile(schema: Schema, path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`config file '${path}' cannot be read${code === 'ENOENT' ? ': no such file' : code === 'EISDIR' ? ': it is a folder' : code ? ` (${code})` : ''}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`config file '${path}' is not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error(`config file '${path}' must hold a JSON object of config keys, not ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
  }
  parseConfig(schema, raw, path); // unknown keys and bad values in the file, named by the file
  return raw as Record<string, unknown>;
}

/**
 * Builds the config from `--config <file>` and the schema flags commander parsed into `opts`; `under`
 * replaces schema defaults (e.g. a device's: `defaultsNotGiven`) and is itself overridden by the file and flags.
 */
export function configFromOptions<S extends Schema>(schema: S, opts: Record<string, unknown>, under: Record<string, unknown> = {}): z.infer<S> {
  const raw: Record<string, unknown> = typeof opts.config === 'string' ? readConfigFile(schema, opts.config) : {};
  const flags = new Set<string>();
  for (const [k, t] of Object.entries(schema.shape)) {
    const v = opts[k] ?? opts[toCamel(toKebab(k))];
    if (typeof v === 'string') {
      raw[k] = coerceCliValue(t as z.ZodType, v, k);
      flags.add(k);
    }
  }
  return parseConfig(schema, { ...under, ...raw }, typeof opts.config === 'string' ? opts.config : 'command line', flags);
}

/** The entries of `defaults` whose keys the user gave neither in `--config <file>` nor as flags. */
export function defaultsNotGiven(schema: Schema, opts: Record<string, unknown>, defaults: Record<string, unknown>): Record<string, unknown> {
  const given = explicitConfigValues(schema, opts);
  return Object.fromEntries(Object.entries(defaults).filter(([k]) => !(k in given)));
}

/** `batch 4, duration 0.256` for a note on stderr. */
export function describeValues(values: Record<string, unknown>): string {
  return Object.entries(values).map(([k, v]) => `--${toKebab(k)} ${v}`).join(', ');
}

/**
 * Only the values the user gave (from `--config <file>` and explicit flags), typed, without defaults:
 * what `--resume` lays over the config saved in the run. `resume` itself is dropped.
 */
export function explicitConfigValues(schema: Schema, opts: Record<string, unknown>): Record<string, unknown> {
  const raw: Record<string, unknown> = typeof opts.config === 'string' ? readConfigFile(schema, opts.config) : {};
  for (const [k, t] of Object.entries(schema.shape)) {
    const v = opts[k] ?? opts[toCamel(toKebab(k))];
    if (typeof v === 'string') raw[k] = coerceCliValue(t as z.ZodType, v, k);
  }
  delete raw.resume;
  return raw;
}
