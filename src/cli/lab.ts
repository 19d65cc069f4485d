/** qkv lab — the main job: the five experiments over seeds, and their report. */
import * as path from 'node:path';
import { runLab, EXPERIMENTS } from '../lab/index.js';
import { backend } from '../backend/index.js';
import { describeConfig, type CommandSpec, type Parsed } from './args.js';
import { fmtTime } from './progress.js';

export const spec: CommandSpec = {
  name: 'lab',
  summary: 'reproduce five transformer pitfalls as asked, explain them over seeds; writes a report with plots',
  usage: 'qkv lab [--only NAME,…] [--quick] [--seeds N] [--seed N] [--workers N] [--out DIR]',
  options: {
    only: { type: 'list', help: `experiments to run: ${Object.keys(EXPERIMENTS).join(', ')}` },
    quick: { type: 'boolean', help: 'smaller, shorter runs (and 3 seeds unless --seeds says otherwise)', default: false },
    seeds: { type: 'integer', help: 'how many seeds every figure is measured over (default 5, 3 with --quick)', min: 1, max: 1000 },
    seed: { type: 'integer', help: 'the first seed (the lab uses seed, seed + 1, …)', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER },
    workers: { type: 'integer', help: 'worker processes for the per-seed runs (0: none; default 2 on 2+ cores)', min: 0, max: 64 },
    out: { type: 'string', help: 'report folder', default: 'qkv-report' },
  },
  details: 'Writes DIR/report.html (open it in a browser), DIR/report.md, DIR/plots/*.svg|png and DIR/results.json (figures, the original programs\' figures, per-seed values and the comparisons behind each verdict).\nExample: qkv lab --only layernorm,tying --quick',
};

export async function run({ values: v }: Parsed): Promise<number> {
  const seeds = v.seeds as number | undefined, workers = v.workers as number | undefined;
  console.log(`qkv lab — backend ${backend().name}\n${describeConfig(v)}`);
  const t0 = performance.now();
  const lab = await runLab({
    only: v.only as string[] | undefined, quick: v.quick as boolean, seed: v.seed as number, seeds, workers, out: v.out as string,
    log: (line) => console.log(`[${fmtTime((performance.now() - t0) / 1000).padStart(6)}] ${line}`),
    onResult: (r) => console.log(`\n${r.title} (${r.seedList.length} seeds)\n  As asked: ${r.asAsked.judgement}\n${r.verdict.split('\n').map((l) => `  ${l}`).join('\n')}\n`),
  });
  if (lab.pngError) console.log(`note: PNG plots were skipped (${lab.pngError}); the SVG plots are complete`);
  console.log(`\n${lab.results.length} experiment(s) in ${fmtTime(lab.seconds)} wall, ${fmtTime(lab.cpuSeconds)} CPU, ${lab.workers ? `${lab.workers} worker processes` : 'one process'}, load average ${lab.load[0].toFixed(1)} → ${lab.load[1].toFixed(1)}. Report: ${path.join(lab.dir, 'report.html')}`);
  return 0;
}
