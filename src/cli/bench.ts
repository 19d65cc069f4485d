/** qkv bench — the benchmark table of DESIGN.md (W1, W2, W3, GEMM) against PyTorch, same run. */
import { writeFileSync } from 'node:fs';
import { ArgumentError } from '../errors.js';
import { formatBenchReport, runBench, type BenchOptions } from '../bench/index.js';
import { formatProfile, profileWorkload } from '../bench/profile.js';
import type { WorkloadName } from '../bench/workloads.js';
import type { CommandSpec, Parsed } from './args.js';

export const spec: CommandSpec = {
  name: 'bench',
  summary: 'time W1, W2, W3 train steps and GEMM in qkv and PyTorch (same run): medians, GFLOP/s, ratios, peak memory',
  usage: 'qkv bench [--only w1,…,w6,gemm] [--steps N] [--warmup N] [--threads N] [--sizes 256,512,1024] [--no-torch] [--json FILE] | qkv bench --profile w1|w2|w3|w5 [--steps N]',
  options: {
    only: { type: 'list', help: 'rows to run: w1, w2, w3, w4 (GPT-2 small generation), w5 (GPT-2 small train step), w6 (small-op overhead), gemm (default all)' },
    steps: { type: 'integer', help: 'timed steps per workload', default: 20, min: 1, max: 100_000 },
    warmup: { type: 'integer', help: 'untimed warm-up steps', default: 5, min: 0, max: 100_000 },
    threads: { type: 'integer', help: 'qkv threads for W1–W3 (default: all cores)', min: 1, max: 1024 },
    sizes: { type: 'list', help: 'GEMM sizes', default: ['256', '512', '1024'] },
    torch: { type: 'boolean', help: 'run the PyTorch side when python3-torch is installed (--no-torch to skip)', default: true },
    json: { type: 'string', help: 'also write the full report (every step time) as JSON' },
    quiet: { type: 'boolean', help: 'no progress lines on stderr', default: false },
    profile: { type: 'string', help: 'instead of the table: time per kernel of one workload\'s train step, in this process', choices: ['w1', 'w2', 'w3', 'w5'] },
  },
  details: 'Each measurement runs in its own process, one after another; PyTorch uses OPENBLAS_NUM_THREADS=2 and torch.set_num_threads(1), its best setting on 2 cores. Do not run two benches at once.',
};

export async function run({ values: v }: Parsed): Promise<number> {
  if (v.profile) {
    console.log(formatProfile(profileWorkload(v.profile as WorkloadName, v.steps as number)));
    return 0;
  }
  const opts: BenchOptions = {
    only: v.only as BenchOptions['only'],
    steps: v.steps as number,
    warmup: v.warmup as number,
    threads: v.threads as number | undefined,
    gemmSizes: (v.sizes as string[]).map((n) => {
      if (!/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 8192) throw new ArgumentError(`--sizes takes GEMM sizes in [1, 8192] written in decimal digits, got ${JSON.stringify(n)}; see \`qkv bench --help\``);
      return Number(n);
    }),
    torch: v.torch as boolean,
    log: v.quiet ? undefined : (l) => process.stderr.write(`  ${l}\n`),
  };
  const report = await runBench(opts);
  console.log(formatBenchReport(report));
  if (v.json) writeFileSync(v.json as string, `${JSON.stringify(report, null, 2)}\n`);
  return 0;
}
