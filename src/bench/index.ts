/**
 * The performance bench of DESIGN.md: W1, W2, W3 (fwd + bwd + optimizer step) and square GEMM,
 * in qkv and — when Debian's python3-torch is installed — in PyTorch, in the same run, with
 * medians, GFLOP/s, qkv/PyTorch ratios and each side's peak memory.
 *
 * Every measurement runs in a fresh process: qkv jobs in a forked Node (worker.ts), PyTorch jobs
 * in /usr/bin/python3 torch_bench.py (beside this file) with OPENBLAS_NUM_THREADS set in its
 * environment and torch.set_num_threads(1) (PyTorch's best setting on a 2-core machine; the GEMM
 * rows set OPENBLAS_NUM_THREADS to the row's thread count). Jobs run one after another, qkv
 * then PyTorch for each row, so both sides see the same machine state.
 *
 * Used by `qkv bench` (and `npm run bench`, which builds dist/ and runs it). The whole bench lives
 * in this folder: see README.md here.
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../errors.js';
import { nativeStatus } from '../backend/index.js';
import { WORKLOADS, WORKLOAD_TITLES, type WorkloadName } from './workloads.js';
import type { GemmRun, GenerateRun, Job, OverheadRun, WorkloadRun } from './worker.js';

export { WORKLOADS, buildWorkload } from './workloads.js';
export type { WorkloadName } from './workloads.js';

export interface BenchOptions {
  /** Which rows: 'w1' … 'w6', 'gemm'. Default all. */
  only?: readonly BenchRowName[];
  /** Timed steps per workload (≥ 1; DESIGN.md asks for ≥ 20). Default 20. */
  steps?: number;
  /** Untimed warm-up steps. Default 5. */
  warmup?: number;
  /** qkv threads for W1–W3. Default: the cores this process may use. */
  threads?: number;
  /** GEMM sizes. Default [256, 512, 1024]. */
  gemmSizes?: readonly number[];
  /** GEMM thread counts. Default [1, 2]. */
  gemmThreads?: readonly number[];
  /** Run the PyTorch side (when available). Default true. */
  torch?: boolean;
  /** Python with torch. Default /usr/bin/python3. */
  python?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface SideResult {
  medianMs: number;
  timesMs: number[];
  /** Peak resident memory of that side's process, MiB. */
  peakRssMB: number;
  loss: number;
}

export interface WorkloadRow {
  name: WorkloadName;
  title: string;
  qkv: SideResult & { peakArrayBuffersMB: number };
  torch: SideResult | null;
  /** qkv time / PyTorch time (null without PyTorch). */
  ratio: number | null;
  /** qkv peak RSS / PyTorch peak RSS. */
  memRatio: number | null;
}

export type BenchRowName = WorkloadName | 'w4' | 'w6' | 'gemm';
export const BENCH_ROWS: readonly BenchRowName[] = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'gemm'];

/** W4, GPT-2-small generation: medians over repetitions. */
export interface GenerationRow {
  qkv: { totalMs: number; prefillMs: number; tokensPerSec: number; peakRssMB: number };
  torch: { totalMs: number; prefillMs: number; tokensPerSec: number; peakRssMB: number } | null;
  /** qkv / PyTorch prefill time; qkv / PyTorch tokens/s (> 1: qkv generates faster). */
  prefillRatio: number | null;
  tokensRatio: number | null;
  memRatio: number | null;
}

/** W6, small-op overhead. */
export interface OverheadRow {
  qkv: { chainMs: number; linearUs: number; first50Us: number };
  torch: { chainMs: number; linearUs: number; first50Us: number } | null;
}

export interface GemmRow {
  n: number;
  threads: number;
  qkvGflops: number;
  torchGflops: number | null;
  /** qkv GFLOP/s / PyTorch GFLOP/s. */
  ratio: number | null;
}

export interface BenchReport {
  date: string;
  node: string;
  cpu: string;
  cores: number;
  backend: string;
  isa: string | null;
  threads: number;
  torch: { version: string; blas: string } | null;
  /** Why PyTorch was not run, when it was not. */
  torchSkipped: string | null;
  steps: number;
  warmup: number;
  workloads: WorkloadRow[];
  generation: GenerationRow | null;
  overhead: OverheadRow | null;
  gemm: GemmRow[];
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
/**
 * src/bench/torch_bench.py of the package: beside this file when it runs from src/, and reached
 * through the package's src/ (shipped with it) when it runs from dist/bench/.
 */
export const TORCH_SCRIPT = path.join(HERE, '..', '..', 'src', 'bench', 'torch_bench.py');

function workerPath(): string {
  const ext = path.extname(fileURLToPath(import.meta.url));
  return path.join(HERE, `worker${ext}`);
}

function runWorker<T>(job: Job): Promise<T> {
  const file = workerPath();
  // From the TypeScript sources the child needs tsx, from dist/ it does not.
  const execArgv = file.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return new Promise((resolve, reject) => {
    const child = fork(file, [JSON.stringify(job)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let settled = false;
    child.on('message', (m: { ok: boolean; result?: T; error?: string }) => {
      settled = true;
      if (m.ok) resolve(m.result as T);
      else reject(new Error(`bench worker (${job.kind}) failed: ${m.error}`));
    });
    child.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    child.on('exit', (code) => {
      if (!settled) reject(new Error(`bench worker (${job.kind}) exited with code ${code} before reporting`));
    });
  });
}

interface TorchOut {
  torch: string;
  blas: string;
  times_ms?: number[];
  median_ms?: number;
  loss?: number;
  gflops?: Record<string, number>;
  maxrss_kb: number;
  total_ms?: number;
  prefill_ms?: number;
  tokens_per_sec?: number;
  chain_ms?: number;
  linear_us?: number;
  first50_us?: number;
}

function runTorch(python: string, args: string[], blasThreads: number): Promise<TorchOut> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(blasThreads), OMP_NUM_THREADS: '1' };
    const child = spawn(python, [TORCH_SCRIPT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`PyTorch bench (${args.join(' ')}) failed with code ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as TorchOut);
      } catch {
        reject(new Error(`PyTorch bench (${args.join(' ')}) printed no result: ${last.slice(0, 200)}`));
      }
    });
  });
}

/** Why PyTorch cannot run here, or null when it can. */
export function torchUnavailable(python = '/usr/bin/python3'): string | null {
  if (!existsSync(TORCH_SCRIPT)) return `${TORCH_SCRIPT} is missing`;
  const r = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  if (r.error) return `${python} not found`;
  return r.status === 0 ? null : `${python} has no torch (Debian: apt-get install python3-torch)`;
}

function checkInt(v: number, name: string, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ArgumentError(`bench: ${name} must be an integer ≥ ${min}, got ${v}`);
}

/** Runs the bench; see BenchOptions. */
export async function runBench(opts: BenchOptions = {}): Promise<BenchReport> {
  const steps = opts.steps ?? 20, warmup = opts.warmup ?? 5;
  checkInt(steps, 'steps', 1);
  checkInt(warmup, 'warmup', 0);
  const only = opts.only ?? BENCH_ROWS;
  for (const o of only) {
    if (!BENCH_ROWS.includes(o)) throw new ArgumentError(`bench: unknown row ${JSON.stringify(o)} (expected ${BENCH_ROWS.join(', ')})`);
  }
  const st = nativeStatus();
  const threads = opts.threads ?? st.threads;
  checkInt(threads, 'threads', 1);
  const sizes = opts.gemmSizes ?? [256, 512, 1024];
  const gemmThreads = opts.gemmThreads ?? [1, 2];
  sizes.forEach((n) => checkInt(n, 'GEMM size', 1));
  gemmThreads.forEach((t) => checkInt(t, 'GEMM threads', 1));
  const python = opts.python ?? '/usr/bin/python3';
  const torchSkipped = opts.torch === false ? 'disabled' : torchUnavailable(python);
  const log = opts.log ?? (() => {});
  let torchInfo: BenchReport['torch'] = null;

  const workloads: WorkloadRow[] = [];
  for (const name of WORKLOADS.filter((w) => only.includes(w))) {
    log(`${WORKLOAD_TITLES[name]}: qkv …`);
    const q = await runWorker<WorkloadRun>({ kind: 'workload', name, steps, warmup, threads });
    let torch: SideResult | null = null;
    if (!torchSkipped) {
      log(`${WORKLOAD_TITLES[name]}: PyTorch …`);
      const t = await runTorch(python, ['--workload', name, '--steps', String(steps), '--warmup', String(warmup)], 2);
      torchInfo = { version: t.torch, blas: t.blas };
      torch = { medianMs: t.median_ms!, timesMs: t.times_ms!, peakRssMB: t.maxrss_kb / 1024, loss: t.loss! };
    }
    const qkv = { medianMs: q.medianMs, timesMs: q.timesMs, peakRssMB: q.maxRssKB / 1024, loss: q.loss, peakArrayBuffersMB: q.peakArrayBuffersKB / 1024 };
    workloads.push({
      name, title: WORKLOAD_TITLES[name], qkv, torch,
      ratio: torch ? qkv.medianMs / torch.medianMs : null,
      memRatio: torch ? qkv.peakRssMB / torch.peakRssMB : null,
    });
  }

  let generation: GenerationRow | null = null;
  if (only.includes('w4')) {
    const reps = Math.max(1, Math.min(steps, 3));
    log('W4 GPT-2 small generation: qkv …');
    const q = await runWorker<GenerateRun>({ kind: 'generate', reps, threads });
    let t: GenerationRow['torch'] = null;
    if (!torchSkipped) {
      log('W4 GPT-2 small generation: PyTorch …');
      const r = await runTorch(python, ['--workload', 'w4', '--reps', String(reps)], 2);
      torchInfo = { version: r.torch, blas: r.blas };
      t = { totalMs: r.total_ms!, prefillMs: r.prefill_ms!, tokensPerSec: r.tokens_per_sec!, peakRssMB: r.maxrss_kb / 1024 };
    }
    const qkv = { totalMs: q.totalMs, prefillMs: q.prefillMs, tokensPerSec: q.tokensPerSec, peakRssMB: q.maxRssKB / 1024 };
    generation = {
      qkv, torch: t,
      prefillRatio: t ? qkv.prefillMs / t.prefillMs : null,
      tokensRatio: t ? qkv.tokensPerSec / t.tokensPerSec : null,
      memRatio: t ? qkv.peakRssMB / t.peakRssMB : null,
    };
  }

  let overhead: OverheadRow | null = null;
  if (only.includes('w6')) {
    log('W6 small-op overhead: qkv …');
    const q = await runWorker<OverheadRun>({ kind: 'overhead', threads });
    let t: OverheadRow['torch'] = null;
    if (!torchSkipped) {
      log('W6 small-op overhead: PyTorch …');
      const r = await runTorch(python, ['--workload', 'w6'], 2);
      torchInfo = { version: r.torch, blas: r.blas };
      t = { chainMs: r.chain_ms!, linearUs: r.linear_us!, first50Us: r.first50_us! };
    }
    overhead = { qkv: { chainMs: q.chainMs, linearUs: q.linearUs, first50Us: q.first50Us }, torch: t };
  }

  const gemm: GemmRow[] = [];
  if (only.includes('gemm')) {
    for (const t of gemmThreads) {
      log(`GEMM, ${t} thread${t > 1 ? 's' : ''}: qkv …`);
      const q = await runWorker<GemmRun>({ kind: 'gemm', sizes: [...sizes], threads: t, minTimeMs: 400 });
      let tg: Record<string, number> | null = null;
      if (!torchSkipped) {
        log(`GEMM, ${t} thread${t > 1 ? 's' : ''}: PyTorch …`);
        const r = await runTorch(python, ['--workload', 'gemm', '--sizes', sizes.join(',')], t);
        torchInfo = { version: r.torch, blas: r.blas };
        tg = r.gflops!;
      }
      for (const n of sizes) {
        const qg = q.gflops[String(n)], pg = tg ? tg[String(n)] : null;
        gemm.push({ n, threads: t, qkvGflops: qg, torchGflops: pg, ratio: pg ? qg / pg : null });
      }
    }
  }

  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    backend: st.active,
    isa: st.isa,
    threads,
    torch: torchInfo,
    torchSkipped,
    steps,
    warmup,
    workloads,
    generation,
    overhead,
    gemm,
  };
}

const fmt = (x: number | null, digits = 1): string => (x === null || !Number.isFinite(x) ? '—' : x.toFixed(digits));

/** The report as the plain-text table the README shows. */
export function formatBenchReport(r: BenchReport): string {
  const lines: string[] = [];
  lines.push(`qkv bench — ${r.date.slice(0, 16).replace('T', ' ')} UTC, ${r.cpu} (${r.cores} cores), Node ${r.node}`);
  lines.push(`qkv: backend ${r.backend}${r.isa ? ` (${r.isa})` : ''}, ${r.threads} thread${r.threads > 1 ? 's' : ''}; ` +
    (r.torch ? `PyTorch ${r.torch.version} (${r.torch.blas}), OPENBLAS_NUM_THREADS=2, torch.set_num_threads(1)` : `PyTorch not run: ${r.torchSkipped}`));
  lines.push(`train steps (fwd + bwd + optimizer): median of ${r.steps} after ${r.warmup} warm-up; peak = max RSS of each side's process`);
  if (r.workloads.length) {
    lines.push('');
    const head = ['workload', 'qkv ms', 'torch ms', 'qkv/torch', 'qkv peak MB', 'torch peak MB', 'mem ratio'];
    const rows = r.workloads.map((w) => [
      w.title, fmt(w.qkv.medianMs), fmt(w.torch?.medianMs ?? null), fmt(w.ratio, 2),
      fmt(w.qkv.peakRssMB, 0), fmt(w.torch?.peakRssMB ?? null, 0), fmt(w.memRatio, 2),
    ]);
    lines.push(...table(head, rows));
  }
  if (r.generation) {
    const g = r.generation;
    lines.push('');
    const head = ['W4 GPT-2 small, 256-token prompt + 64 greedy tokens', 'qkv', 'torch', 'qkv/torch'];
    lines.push(...table(head, [
      ['whole call, ms', fmt(g.qkv.totalMs, 0), fmt(g.torch?.totalMs ?? null, 0), fmt(g.torch ? g.qkv.totalMs / g.torch.totalMs : null, 2)],
      ['prefill, ms', fmt(g.qkv.prefillMs, 0), fmt(g.torch?.prefillMs ?? null, 0), fmt(g.prefillRatio, 2)],
      ['tokens/s after the prefill', fmt(g.qkv.tokensPerSec), fmt(g.torch?.tokensPerSec ?? null), fmt(g.tokensRatio, 2)],
      ['peak RSS, MB', fmt(g.qkv.peakRssMB, 0), fmt(g.torch?.peakRssMB ?? null, 0), fmt(g.memRatio, 2)],
    ]));
  }
  if (r.overhead) {
    const o = r.overhead;
    const ratio = (a: number, b: number | undefined) => fmt(b === undefined ? null : a / b, 2);
    lines.push('');
    const head = ['W6 small-op overhead', 'qkv', 'torch', 'qkv/torch'];
    lines.push(...table(head, [
      ['(a) 200 elementwise ops on [64], fwd+bwd, ms', fmt(o.qkv.chainMs, 3), fmt(o.torch?.chainMs ?? null, 3), ratio(o.qkv.chainMs, o.torch?.chainMs)],
      ['(b) Linear(64, 64) on [8, 64, 64], noGrad, µs', fmt(o.qkv.linearUs), fmt(o.torch?.linearUs ?? null), ratio(o.qkv.linearUs, o.torch?.linearUs)],
      ['(c) its first 50 calls in a fresh process, µs', fmt(o.qkv.first50Us), fmt(o.torch?.first50Us ?? null), ratio(o.qkv.first50Us, o.torch?.first50Us)],
      ['(c) / (b): warm-up cost', fmt(o.qkv.first50Us / o.qkv.linearUs, 1), fmt(o.torch ? o.torch.first50Us / o.torch.linearUs : null, 1), ''],
    ]));
  }
  if (r.gemm.length) {
    lines.push('');
    const head = ['GEMM (square, float32)', 'threads', 'qkv GFLOP/s', 'torch GFLOP/s', 'qkv/torch'];
    const rows = r.gemm.map((g) => [`n = ${g.n}`, String(g.threads), fmt(g.qkvGflops), fmt(g.torchGflops), fmt(g.ratio, 2)]);
    lines.push(...table(head, rows));
  }
  return lines.join('\n');
}

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)];
}
