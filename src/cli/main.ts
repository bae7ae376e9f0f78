/** The `diff-instruct` command-line program: one subcommand per file under `commands/`. */
import '../platform/node.js';
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

// Each module exports `register(program)`. Keep this list in the order `--help` should show.
const commands = ['./commands/devices.js', './commands/inspect.js', './commands/train-teacher.js', './commands/sample.js'];

const program = new Command('diff-instruct')
  .description('Diff-Instruct: distill diffusion models into one-step generators (WebGPU / Wasm)')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)');

for (const m of commands) (await import(m)).register(program);

program.exitOverride((err) => {
  process.exit(err.exitCode);
});
await program.parseAsync(process.argv);
// Dawn holds the event loop open after work finishes; exit when the command is done.
if (!process.env.DI_KEEP_ALIVE) setTimeout(() => process.exit(process.exitCode ?? 0), 10).unref?.();
