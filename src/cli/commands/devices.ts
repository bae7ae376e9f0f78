/** `diff-instruct devices`: lists the compute devices available here and what `auto` would pick. */
import type { Command } from 'commander';
import { autoChoice, listDevices } from '../../platform/devices.js';
import { action } from '../common.js';

export function register(program: Command): void {
  program
    .command('devices')
    .description('list the compute devices available here (WebGPU adapters, Wasm) and the one --device auto picks')
    .option('--json', 'print JSON instead of a table')
    .action(
      action(async (opts: { json?: boolean }) => {
        const devs = await listDevices();
        const auto = autoChoice(devs);
        if (opts.json) {
          console.log(JSON.stringify({ devices: devs, auto: auto.backend }, null, 2));
          return;
        }
        for (const d of devs) {
          const f16 = d.features.includes('shader-f16') ? ', shader-f16' : '';
          const sm = d.features.some((f) => f.includes('subgroup-matri')) ? ', subgroup matrices' : '';
          console.log(`${d === auto ? '*' : ' '} ${d.backend.padEnd(7)} ${d.name}${f16}${sm}`);
        }
        console.log(`auto → ${auto.backend}${auto.software ? ' (software)' : ''}`);
        if (devs.some((d) => d.software && d.name.includes('opengles'))) {
          console.log("(Dawn's 'Warning: max… artificially reduced' lines are its own notes on OpenGL ES limits when it opens llvmpipe: harmless; auto never opens it)");
        }
      }),
    );
}
