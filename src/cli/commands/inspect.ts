/**
 * `diff-instruct inspect <file>`: what a safetensors checkpoint holds — every tensor (name, dtype, shape,
 * element count) as an aligned table, the total parameter count, and the metadata, with our
 * `diff_instruct` JSON pretty-printed. The whole file is validated (src/io/safetensors.ts), so a corrupt
 * file is reported as `diff-instruct: error: <file>: <problem>` with exit code 1.
 */
import { existsSync } from 'node:fs';
import { resolveNetworkPath } from '../../teacher/load.js';
import type { Command } from 'commander';
import { META_KEY } from '../../io/params.js';
import { numel, readSafetensors } from '../../io/safetensors.js';
import { action } from '../common.js';

interface Row {
  name: string;
  dtype: string;
  shape: number[];
  numel: number;
}

/** The report `inspect` prints, also its `--json` output. */
export function describeFile(path: string): { file: string; tensors: Row[]; total: number; metadata: Record<string, string>; [META_KEY]: unknown } {
  const { tensors, metadata } = readSafetensors(path);
  const rows = Object.keys(tensors)
    .sort()
    .map((name) => ({ name, dtype: tensors[name].dtype, shape: tensors[name].shape, numel: numel(tensors[name].shape) }));
  let parsed: unknown = null;
  if (META_KEY in metadata) {
    try {
      parsed = JSON.parse(metadata[META_KEY]);
    } catch {
      throw new Error(`${path}: __metadata__ '${META_KEY}' is not valid JSON`);
    }
  }
  return { file: path, tensors: rows, total: rows.reduce((s, r) => s + r.numel, 0), metadata, [META_KEY]: parsed };
}

/** Groups digits by thousands (1,234,567) for the counts column. */
const grouped = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

function printTable(d: ReturnType<typeof describeFile>): void {
  const head = ['name', 'dtype', 'shape', 'elements'];
  const cells = d.tensors.map((r) => [r.name, r.dtype, `[${r.shape.join(', ')}]`, grouped(r.numel)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  // numbers right-aligned, text left-aligned
  const fmt = (c: string[]) => c.map((s, i) => (i === 3 ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join('  ').trimEnd();
  console.log(fmt(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(fmt(c));
  console.log(`${d.tensors.length} tensor${d.tensors.length === 1 ? '' : 's'}, ${grouped(d.total)} parameters`);
  const keys = Object.keys(d.metadata).sort();
  if (keys.length === 0) {
    console.log('\nmetadata: none');
    return;
  }
  console.log('\nmetadata:');
  for (const k of keys) {
    if (k === META_KEY) {
      const pretty = JSON.stringify(d[META_KEY], null, 2).split('\n');
      console.log(`  ${k}: ${pretty[0]}`);
      for (const l of pretty.slice(1)) console.log(`  ${l}`);
    } else {
      console.log(`  ${k}: ${d.metadata[k]}`);
    }
  }
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('list the tensors (name, dtype, shape, elements) and metadata of a safetensors file; validates the whole file')
    .argument('<file>', 'a .safetensors file (checkpoint, snapshot or converted state_dict) or a shipped name (fmnist-cond)')
    .option('--json', 'print JSON instead of a table')
    .action(
      action(async (file: string, opts: { json?: boolean }) => {
        // a bare name that is no file here is a shipped network's (models/<name>.safetensors)
        const isName = !existsSync(file) && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file) && !file.endsWith('.safetensors');
        const d = describeFile(isName ? resolveNetworkPath(file) : file);
        if (opts.json) console.log(JSON.stringify(d, null, 2));
        else printTable(d);
      }),
    );
}
