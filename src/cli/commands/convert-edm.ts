/**
 * `diff-instruct convert-edm <input> <output>`: NVlabs/edm networks ⇄ our checkpoints, either way
 * (docs/convert-edm-checkpoint.md). The direction follows the input: an EDM pickle (`.pkl`, needs
 * `--edm-dir` and a Python with PyTorch) or an EDM interchange `.safetensors` (`edm` metadata) becomes
 * our teacher; our teacher or generator (`diff_instruct` metadata, or a shipped name) becomes an EDM
 * interchange `.safetensors`, or with a `.pkl` output a pickle that EDM's generate.py samples.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readSafetensorsHeader } from '../../io/safetensors.js';
import { META_KEY } from '../../io/params.js';
import { exportEdmFile, importEdmFile } from '../../teacher/edm-convert.js';
import { resolveNetworkPath } from '../../teacher/load.js';
import { action } from '../common.js';

export function register(program: Command): void {
  program
    .command('convert-edm')
    .description('convert an NVlabs/edm network (pickle or EDM-named safetensors) to a diff-instruct teacher, or a diff-instruct teacher/generator to EDM')
    .argument('<input>', 'EDM pickle (.pkl), EDM interchange .safetensors, or our checkpoint / shipped name')
    .argument('<output>', 'our .safetensors (from EDM), or EDM .safetensors / .pkl (from ours)')
    .option('--edm-dir <path>', 'an NVlabs/edm checkout (needed for .pkl input or output: its dnnlib/torch_utils unpickle and rebuild the network)')
    .option('--python <exe>', 'Python with PyTorch for the .pkl steps (default: $DI_PYTHON, else python3)')
    .action(
      action(async (input: string, output: string, opts: { edmDir?: string; python?: string }) => {
        const py = { edmDir: opts.edmDir, python: opts.python };
        if (input.endsWith('.pkl')) {
          if (!existsSync(input)) throw new Error(`'${input}' not found`);
          const r = importEdmFile(input, output, py);
          console.log(`wrote ${output}: ${r.net} teacher (${r.precond} preconditioning), ${r.tensors} tensors`);
          return;
        }
        const path = resolveNetworkPath(input);
        const { metadata } = readSafetensorsHeader(path);
        if ('edm' in metadata) {
          const r = importEdmFile(path, output, py);
          console.log(`wrote ${output}: ${r.net} teacher (${r.precond} preconditioning), ${r.tensors} tensors`);
        } else if (META_KEY in metadata) {
          if (!output.endsWith('.pkl') && !output.endsWith('.safetensors')) throw new Error(`output '${output}' must end in .safetensors (EDM state dict) or .pkl (EDM pickle)`);
          const r = exportEdmFile(path, output, py);
          console.log(`wrote ${output}: ${r.precond} with ${r.tensors} tensors under EDM's names`);
        } else {
          throw new Error(`'${path}' has neither 'edm' nor '${META_KEY}' metadata: nothing says which network it holds`);
        }
      }),
    );
}
