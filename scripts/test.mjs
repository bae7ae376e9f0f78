// Runs every *.test.ts under web/ and src/ with Node's test runner through tsx.
// Node 20's --test takes no globs, so the files are listed here. Extra arguments pass through
// (e.g. `npm test -- --test-name-pattern=safetensors`; a word without a dash keeps the files whose path
// contains it). `*.slow.test.ts` files are the long convergence checks: `npm run test:slow` (`--slow`)
// runs them alone, `npm test` leaves them out.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

function find(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const args = process.argv.slice(2);
const slow = args.includes('--slow');
const filters = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-') && a !== '--slow');
// web/ first: its browser file is the longest (~3 min), so it overlaps the rest instead of running last alone
let files = [...find('web').sort(), ...find('src').sort()].filter((f) => f.endsWith('.slow.test.ts') === slow);
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
const env = { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' };
// Three files at a time (DI_TEST_CONCURRENCY to change): on the 2-core CI machine a file spends much of its
// time single-threaded or waiting (start-up, tsx, small kernels, child processes, the browser), so files
// overlap well: 2026-12-07, the same tree, 2 → 8m20s, 3 → 8m07s, 4 → 8m00s (CPU use ~1.2 cores either way).
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${process.env.DI_TEST_CONCURRENCY ?? 3}`, ...flags, ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
