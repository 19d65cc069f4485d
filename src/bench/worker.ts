/**
 * One bench job in its own process (forked by runBench), so that each workload's peak memory is
 * its own. Receives a job as JSON in argv[2], sends the result back over the IPC channel.
 */
import { performance } from 'node:perf_hooks';
import { buildGeneration, buildWorkload, GENERATION, overheadCases, type WorkloadName } from './workloads.js';
import { getNumThreads, nativeStatus, setNumThreads } from '../backend/index.js';
import { rand } from '../tensor/creation.js';
import { matmul } from '../ops/matmul.js';

export type Job =
  | { kind: 'workload'; name: WorkloadName; steps: number; warmup: number; threads: number }
  | { kind: 'gemm'; sizes: number[]; threads: number; minTimeMs: number }
  | { kind: 'generate'; reps: number; threads: number }
  | { kind: 'overhead'; threads: number };

/** W4: medians over `reps` runs. */
export interface GenerateRun {
  /** The whole generate() call (prompt + 64 tokens), ms. */
  totalMs: number;
  /** The prompt's forward with a fresh cache, ms. */
  prefillMs: number;
  /** Generated tokens per second after the prefill. */
  tokensPerSec: number;
  maxRssKB: number;
  backend: string;
  isa: string | null;
  threads: number;
}

/** W6: (a) chain fwd+bwd ms, (b) Linear forward µs (steady), (c) mean µs of its first 50 calls. */
export interface OverheadRun {
  chainMs: number;
  linearUs: number;
  first50Us: number;
  backend: string;
  isa: string | null;
  threads: number;
}

export interface WorkloadRun {
  timesMs: number[];
  medianMs: number;
  loss: number;
  /** Peak resident set of the process (getrusage). */
  maxRssKB: number;
  /** Largest ArrayBuffer total seen (after forward and after backward of extra steps). */
  peakArrayBuffersKB: number;
  backend: string;
  isa: string | null;
  threads: number;
}

export interface GemmRun {
  gflops: Record<string, number>;
  backend: string;
  isa: string | null;
  threads: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function runJob(job: Job): WorkloadRun | GemmRun | GenerateRun | OverheadRun {
  setNumThreads(job.threads);
  const st = nativeStatus();
  if (job.kind === 'overhead') {
    const c = overheadCases();
    // (c) first: nothing has run in this process yet.
    const first: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      c.linear();
      first.push(performance.now() - t0);
    }
    const lin: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now();
      c.linear();
      if (i >= 200) lin.push(performance.now() - t0);
    }
    const chain: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      c.chain();
      if (i >= 50) chain.push(performance.now() - t0);
    }
    const mean = first.reduce((a, b) => a + b, 0) / first.length;
    return { chainMs: median(chain), linearUs: median(lin) * 1000, first50Us: mean * 1000, backend: st.active, isa: st.isa, threads: getNumThreads() };
  }
  if (job.kind === 'generate') {
    const g = buildGeneration();
    g.generate(); // warm-up
    const totals: number[] = [], prefills: number[] = [], rates: number[] = [];
    for (let r = 0; r < job.reps; r++) {
      let t0 = performance.now();
      g.generate();
      totals.push(performance.now() - t0);
      t0 = performance.now();
      const { cache, next } = g.prefill();
      const t1 = performance.now();
      prefills.push(t1 - t0);
      let last = next;
      for (let i = 1; i < GENERATION.tokens; i++) last = g.decode(cache, last);
      rates.push((GENERATION.tokens - 1) / ((performance.now() - t1) / 1000));
    }
    return {
      totalMs: median(totals), prefillMs: median(prefills), tokensPerSec: median(rates),
      maxRssKB: process.resourceUsage().maxRSS, backend: st.active, isa: st.isa, threads: getNumThreads(),
    };
  }
  if (job.kind === 'gemm') {
    const gflops: Record<string, number> = {};
    for (const n of job.sizes) {
      const a = rand([n, n]), b = rand([n, n]);
      for (let i = 0; i < 3; i++) matmul(a, b);
      const times: number[] = [];
      const end = performance.now() + job.minTimeMs;
      while (times.length < 5 || performance.now() < end) {
        const t0 = performance.now();
        matmul(a, b);
        times.push(performance.now() - t0);
      }
      gflops[String(n)] = (2 * n ** 3) / (median(times) / 1000) / 1e9;
    }
    return { gflops, backend: st.active, isa: st.isa, threads: getNumThreads() };
  }
  const w = buildWorkload(job.name);
  const times: number[] = [];
  let loss = NaN;
  for (let i = 0; i < job.warmup + job.steps; i++) {
    const t0 = performance.now();
    loss = w.step();
    if (i >= job.warmup) times.push(performance.now() - t0);
  }
  // Memory: a few more steps, sampling the ArrayBuffer total where activations peak.
  let peakAB = 0;
  for (let i = 0; i < 3; i++) {
    w.model.zeroGrad();
    const l = w.loss();
    peakAB = Math.max(peakAB, process.memoryUsage().arrayBuffers);
    l.backward();
    peakAB = Math.max(peakAB, process.memoryUsage().arrayBuffers);
  }
  return {
    timesMs: times,
    medianMs: median(times),
    loss,
    maxRssKB: process.resourceUsage().maxRSS,
    peakArrayBuffersKB: Math.round(peakAB / 1024),
    backend: st.active,
    isa: st.isa,
    threads: getNumThreads(),
  };
}

// Entry point when forked.
if (process.send && process.argv[2]) {
  const job = JSON.parse(process.argv[2]) as Job;
  try {
    const result = runJob(job);
    process.send({ ok: true, result }, () => process.exit(0));
  } catch (err) {
    process.send({ ok: false, error: String((err as Error)?.stack ?? err) }, () => process.exit(1));
  }
}
