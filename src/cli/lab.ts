/** qkv lab — the main job: the five experiments and their report. */
import * as path from 'node:path';
import { runLab, EXPERIMENTS } from '../lab/index.js';
import { backend } from '../backend/index.js';
import { describeConfig, type CommandSpec, type Parsed } from './args.js';
import { fmtTime } from './progress.js';

export const spec: CommandSpec = {
  name: 'lab',
  summary: 'reproduce and explain five transformer pitfalls; writes a report with plots',
  usage: 'qkv lab [--only NAME,…] [--quick] [--seed N] [--out DIR]',
  options: {
    only: { type: 'list', help: `experiments to run: ${Object.keys(EXPERIMENTS).join(', ')}` },
    quick: { type: 'boolean', help: 'smaller, shorter runs (about a tenth of the time)', default: false },
    seed: { type: 'integer', help: 'random seed', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER },
    out: { type: 'string', help: 'report folder', default: 'qkv-report' },
  },
  details: 'Writes DIR/report.html (open it in a browser), DIR/report.md, DIR/plots/*.svg|png and DIR/results.json.\nExample: qkv lab --only layernorm,tying --quick',
};

export function run({ values: v }: Parsed): number {
  console.log(`qkv lab — backend ${backend().name}\n${describeConfig(v)}`);
  const t0 = performance.now();
  const { dir, results, pngError } = runLab({
    only: v.only as string[] | undefined, quick: v.quick as boolean, seed: v.seed as number, out: v.out as string,
    log: (line) => console.log(`[${fmtTime((performance.now() - t0) / 1000).padStart(6)}] ${line}`),
    onResult: (r) => console.log(`\n${r.title} — ${r.seconds.toFixed(1)} s\n${r.verdict.split('\n').map((l) => `  ${l}`).join('\n')}\n`),
  });
  if (pngError) console.log(`note: PNG plots were skipped (${pngError}); the SVG plots are complete`);
  console.log(`\n${results.length} experiment(s) in ${fmtTime((performance.now() - t0) / 1000)}. Report: ${path.join(dir, 'report.html')}`);
  return 0;
}
