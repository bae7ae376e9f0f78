/** The `diff-instruct` command-line program: one subcommand per file under `commands/`. */
import '../platform/node.js';
import { Command } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { isStopping } from './common.js';

// Each module exports `register(program)`. Keep this list in the order `--help` should show. Static
// import() thunks (not a list of path strings) so the device bundle (scripts/device-pack.sh) can inline them.
const commands: (() => Promise<{ register(p: Command): void }>)[] = [
  () => import('./commands/devices.js'),
  () => import('./commands/inspect.js'),
  () => import('./commands/convert-edm.js'),
  () => import('./commands/train-teacher.js'),
  () => import('./commands/sample.js'),
  () => import('./commands/distill.js'),
  () => import('./commands/quickstart.js'),
  () => import('./commands/train-gan.js'),
  () => import('./commands/refine.js'),
  () => import('./commands/study2d.js'),
  () => import('./commands/train-classifier.js'),
  () => import('./commands/eval.js'),
  () => import('./commands/bench.js'),
];

// `diff-instruct inspect f | head`: a closed pipe ends the command quietly, as for any Unix tool.
// A terminal that closed (SIGHUP) fails later writes: a stopping trainer carries on to write its state
// (its lines still go to log.txt).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (isStopping()) return;
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const program = new Command('diff-instruct')
  .description('Diff-Instruct: distill diffusion models into one-step generators (WebGPU / Wasm)')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  // commander's own errors (unknown option, missing value) read like ours: `diff-instruct: error: …`;
  // subcommands inherit this, as they are added below
  .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'diff-instruct: error: ')) });

for (const load of commands) (await load()).register(program);

program.exitOverride((err) => {
  process.exit(err.exitCode);
});
await program.parseAsync(process.argv);
// Dawn holds the event loop open after work finishes; exit when the command is done.
if (!process.env.DI_KEEP_ALIVE) setTimeout(() => process.exit(process.exitCode ?? 0), 10).unref?.();
