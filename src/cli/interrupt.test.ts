/**
 * Nothing lost: the real CLI (bin/diff-instruct.mjs) distils a tiny 2-D toy on Wasm with a training
 * state every 0.06 s (`--state-minutes 0.001`), is stopped by SIGTERM, SIGHUP or kill -9 once its first
 * timed state exists, and is continued by `--resume`: the final EMA generator is bit-identical to an
 * uninterrupted run's, and stats.jsonl lists no (kind, step) twice. SIGTERM and SIGHUP exit 128 + the
 * signal and print the command that continues the run, which is run as printed; the kill -9 run is
 * continued by `quickstart --resume`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../io/safetensors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'diff-instruct.mjs');
// ~1,000 generator steps of a 16-wide MLP: about 2 s of training on one thread
const TOY = ['distill', '--teacher', 'toy:ring8', '--batch', '32', '--mlp-width', '16', '--mlp-depth', '2', '--fake-warmup', '3', '--lr-gen', '1e-3', '--lr-fake', '1e-3',
  '--sigma-data', '1', '--dropout', 'false', '--ema-half-life', '0.1', '--grid-seeds', '0-3', '--eval-n', '0', '--tick', '3.2', '--snap', '1000', '--duration', '32', '--device', 'wasm'];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the CLI (cwd: the repository); `kill` sends that signal once a timed training state exists under `outdir`. */
function cli(args: string[], opts: { outdir?: string; kill?: NodeJS.Signals } = {}): Promise<Exit> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, DI_DEBUG: '', DI_WASM_THREADS: '1' }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 240_000 });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    if (opts.kill) {
      timer = setInterval(() => {
        const run = opts.outdir && existsSync(opts.outdir) ? readdirSync(opts.outdir).map((d) => join(opts.outdir!, d))[0] : undefined;
        if (run && readdirSync(run).some((f) => /^training-state-.*\.safetensors$/.test(f))) {
          clearInterval(timer);
          p.kill(opts.kill);
        }
      }, 20);
    }
    p.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

const runOf = (outdir: string) => join(outdir, readdirSync(outdir)[0]);
const finalWeights = (run: string) => readSafetensors(join(run, 'generator-snapshot-000032.safetensors')).tensors;
const rows = (run: string) => readFileSync(join(run, 'stats.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('SIGTERM, SIGHUP or kill -9 after the first timed state, then --resume: the uninterrupted run, bit for bit', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'di-stop-'));
  try {
    const refOut = join(dir, 'ref');
    const cases = (['SIGTERM', 'SIGHUP', 'SIGKILL'] as const).map((sig) => ({ sig, out: join(dir, sig) }));
    const [ref, ...stopped] = await Promise.all([
      cli([...TOY, '--outdir', refOut]),
      ...cases.map(({ sig, out }) => cli([...TOY, '--outdir', out, '--state-minutes', '0.001'], { outdir: out, kill: sig })),
    ]);
    assert.equal(ref.code, 0, ref.stderr);
    const reference = finalWeights(runOf(refOut));
    // each stopped run, checked and continued (the three resumes at once)
    await Promise.all(cases.map(async ({ sig, out }, i) => {
      const r = stopped[i];
      const run = runOf(out);
      assert.ok(!existsSync(join(run, 'generator-snapshot-000032.safetensors')), `${sig}: stopped before the end`);
      let resume: string[];
      if (sig === 'SIGKILL') {
        assert.equal(r.signal, 'SIGKILL');
        resume = ['quickstart', '--resume', run, '--device', 'wasm']; // quickstart --resume continues any distill run
        assert.match((await cli([...resume, '--preset', 'cpu'])).stderr, /^diff-instruct: error: --resume continues the run's own config and folder: give it without --preset$/m);
      } else {
        assert.equal(r.code, sig === 'SIGTERM' ? 143 : 129, `${sig}: exit code\n${r.stderr}`);
        const m = /continue it with:\n {2}node (\S+) (.+)\n/.exec(r.stderr);
        assert.ok(m, `${sig}: the resume command is printed\n${r.stderr}`);
        assert.equal(join(root, m[1]), bin);
        resume = m[2].split(' ');
        assert.deepEqual(resume, ['distill', '--resume', run, '--device', 'wasm']);
      }
      const again = await cli(resume);
      assert.equal(again.code, 0, `${sig}: resume\n${again.stderr}`);
      const log = readFileSync(join(run, 'log.txt'), 'utf8');
      assert.match(log, /Resumed from .*training-state-0000\d\d\.\d{3}\.safetensors at step [1-9]/, `${sig}: resumed mid-run`);
      const w = finalWeights(run);
      for (const k of Object.keys(reference)) assert.deepEqual(w[k].data, reference[k].data, `${sig}: EMA generator tensor ${k}`);
      const keys = rows(run).map((x) => `${x.kind}@${x.step}`);
      assert.deepEqual(keys, [...new Set(keys)], `${sig}: no stats row twice`);
      if (sig === 'SIGKILL') {
        // resumed from a timed state mid-tick: every tick row is the uninterrupted run's (losses to the last bit)
        const ticks = (rs: Record<string, number | string>[]) => rs.filter((x) => x.kind === 'tick').map((x) => [x.tick, x.step, x.fakeLoss, x.genLoss]);
        assert.deepEqual(ticks(rows(run)), ticks(rows(runOf(refOut))));
      }
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
