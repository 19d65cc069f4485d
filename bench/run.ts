/**
 * `npm run bench` — W1, W2, W3 and GEMM in qkv and in PyTorch, one table (see src/bench/).
 *
 *   npm run bench                      all rows, 20 timed steps after 5 warm-up
 *   npm run bench -- --only w1,gemm    some rows
 *   npm run bench -- --steps 40 --warmup 10 --threads 2 --no-torch --json out.json
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatBenchReport, runBench, type BenchOptions } from '../src/bench/index.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    steps: { type: 'string' },
    warmup: { type: 'string' },
    threads: { type: 'string' },
    sizes: { type: 'string' },
    'no-torch': { type: 'boolean' },
    json: { type: 'string' },
    quiet: { type: 'boolean' },
  },
});

const opts: BenchOptions = {
  only: values.only?.split(',').map((s) => s.trim().toLowerCase()) as BenchOptions['only'],
  steps: values.steps ? Number(values.steps) : undefined,
  warmup: values.warmup ? Number(values.warmup) : undefined,
  threads: values.threads ? Number(values.threads) : undefined,
  gemmSizes: values.sizes ? values.sizes.split(',').map(Number) : undefined,
  torch: !values['no-torch'],
  log: values.quiet ? undefined : (l) => process.stderr.write(`  ${l}\n`),
};

const report = await runBench(opts);
console.log(formatBenchReport(report));
if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
