/**
 * The lab: five experiments that reproduce the problems of DESIGN.md as they were asked, explain
 * them with ablations, and compute their verdicts from figures over several seeds, written as
 * one report.
 *
 *   await runLab({ only: ['init'], quick: true, seeds: 3, out: 'qkv-report' })
 *   runInit({ quick: true, seed: 0, seeds: 3, log }) … each experiment also runs alone (serially).
 *
 * runLab runs the per-seed units of the chosen experiments once each (the char GPT units are
 * shared by layout, tying and merged-qk) on a pool of worker processes, then the timings in this
 * process with nothing else running, then summarises.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { ArgumentError } from '../errors.js';
import { backend } from '../backend/index.js';
import { VERSION } from '../version.js';
import { cpuSeconds, labOptions, type Experiment, type LabOptions, type UnitContext } from './experiment.js';
import { writeReport, type ExperimentResult } from './report.js';
import { EXPERIMENT_LIST, UNITS } from './registry.js';
import { seedList } from './seeds.js';

export type { ExperimentResult, LabOptions };
export type { Claim, Outcome, SeedValue, Stat } from './seeds.js';
export { claim, decide, recheckClaims, stat } from './seeds.js';
export { writeReport } from './report.js';
export { EXPERIMENT_LIST } from './registry.js';

/** Runs one experiment entirely in this thread: every unit for every seed, its timings, its summary. */
export function runExperiment(exp: Experiment, opts: Partial<LabOptions> = {}, where = 'runExperiment'): ExperimentResult {
  const o = labOptions(opts, where);
  const seeds = seedList(o.seed, o.seeds);
  const t0 = performance.now();
  const ctx: UnitContext = { quick: o.quick, log: o.log };
  const units: Record<string, unknown[]> = {};
  for (const u of exp.units(o.quick)) units[u] = seeds.map((s) => UNITS[u](s, ctx));
  const timings = exp.timings?.(ctx);
  return { ...exp.summarise({ quick: o.quick, seeds, units, timings }), seconds: (performance.now() - t0) / 1000 };
}

const byName = (name: string): Experiment => EXPERIMENT_LIST.find((e) => e.name === name)!;
export const runInit = (o: Partial<LabOptions> = {}): ExperimentResult => runExperiment(byName('init'), o, 'runInit');
export const runLayout = (o: Partial<LabOptions> = {}): ExperimentResult => runExperiment(byName('layout'), o, 'runLayout');
export const runLayernorm = (o: Partial<LabOptions> = {}): ExperimentResult => runExperiment(byName('layernorm'), o, 'runLayernorm');
export const runMergedQk = (o: Partial<LabOptions> = {}): ExperimentResult => runExperiment(byName('merged-qk'), o, 'runMergedQk');
export const runTying = (o: Partial<LabOptions> = {}): ExperimentResult => runExperiment(byName('tying'), o, 'runTying');

/** Experiment name → its serial runner. */
export const EXPERIMENTS: Record<string, (o: Partial<LabOptions>) => ExperimentResult> = Object.fromEntries(
  EXPERIMENT_LIST.map((e) => [e.name, (o: Partial<LabOptions>) => runExperiment(e, o)]),
);

export interface LabRunOptions extends Partial<LabOptions> {
  /** Experiment names to run (default: all five, in order). */
  only?: string[];
  /** Report folder. Default 'qkv-report'. */
  out?: string;
  /**
   * Worker processes for the per-seed units (each with one kernel thread): 0 runs them in this
   * process. Default: 2 when the machine has at least 2 cores, else 0.
   */
  workers?: number;
  /** Called with each finished experiment. */
  onResult?: (r: ExperimentResult) => void;
}

export interface LabRun {
  dir: string;
  results: ExperimentResult[];
  files: string[];
  pngError: string | null;
  /** Wall seconds of the whole run; CPU seconds of this process and its workers' units (all threads); the worker count; the 1-minute load average before and after. */
  seconds: number;
  cpuSeconds: number;
  workers: number;
  load: [number, number];
}

/** Rough relative cost of each unit, to start the long ones first. */
const UNIT_WEIGHT = (u: string): number => (u.startsWith('gpt:') ? 10 : u === 'bilinear' ? 8 : u === 'layernorm' ? 6 : u === 'init' ? 6 : u === 'tying' ? 3 : 1);

interface Job { id: number; unit: string; seed: number; quick: boolean }

function startWorker(): ChildProcess {
  const here = import.meta.url;
  const ts = here.endsWith('.ts');
  const file = new URL(ts ? './child.ts' : './child.js', here);
  // From the TypeScript sources (tests, tsx) the child needs tsx's loader too.
  const execArgv = ts && !process.execArgv.some((a) => a.includes('tsx')) ? [...process.execArgv, '--import', import.meta.resolve('tsx')] : process.execArgv;
  // One kernel thread per worker: the workers themselves use the cores.
  return fork(file, [], { execArgv, serialization: 'advanced', env: { ...process.env, QKV_NUM_THREADS: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** Runs the jobs on `n` worker processes; resolves with results by job id. */
async function runOnWorkers(jobs: Job[], n: number, log: (line: string) => void): Promise<Map<number, { result: unknown; seconds: number; cpu: number }>> {
  const results = new Map<number, { result: unknown; seconds: number; cpu: number }>();
  const queue = [...jobs];
  const workers = Array.from({ length: Math.min(n, jobs.length) }, startWorker);
  let failed = false;
  try {
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => { failed = true; reject(e); };
      const next = () => {
        const job = failed ? undefined : queue.shift();
        if (!job) { resolve(); return; }
        w.send(job);
      };
      w.on('message', (m: { id: number; log?: string; result?: unknown; seconds?: number; cpu?: number; error?: string }) => {
        if (m.log !== undefined) { log(m.log); return; }
        if (m.error !== undefined) { fail(new Error(`lab unit failed in a worker process: ${m.error}`)); return; }
        results.set(m.id, { result: m.result, seconds: m.seconds ?? 0, cpu: m.cpu ?? 0 });
        next();
      });
      w.on('error', fail);
      w.on('exit', (code, signal) => { if (results.size < jobs.length && !failed) fail(new Error(`a lab worker process exited (${signal ?? `code ${code}`}) before its jobs were done`)); });
      next();
    })));
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill();
  }
  return results;
}

/**
 * Runs the chosen experiments over `seeds` seeds and writes the report (report.html, report.md,
 * plots/, results.json) to `out`. Bad options throw at once (an ArgumentError); the run itself
 * is asynchronous.
 */
export function runLab(opts: LabRunOptions = {}): Promise<LabRun> {
  const o = labOptions(opts, 'runLab', ['only', 'out', 'workers', 'onResult']);
  if (opts.only !== undefined && (!Array.isArray(opts.only) || opts.only.some((n) => typeof n !== 'string'))) {
    throw new ArgumentError(`runLab: only must be an array of experiment names (${EXPERIMENT_LIST.map((e) => e.name).join(', ')}), got ${JSON.stringify(opts.only)}`);
  }
  const names = opts.only?.length ? opts.only : EXPERIMENT_LIST.map((e) => e.name);
  for (const n of names) {
    if (!EXPERIMENT_LIST.some((e) => e.name === n)) throw new ArgumentError(`runLab: unknown experiment ${JSON.stringify(n)}; choose from ${EXPERIMENT_LIST.map((e) => e.name).join(', ')}`);
  }
  const workers = opts.workers ?? (os.availableParallelism() >= 2 ? 2 : 0);
  if (!Number.isInteger(workers) || workers < 0) throw new ArgumentError(`runLab: workers must be a non-negative integer, got ${workers}`);
  if (opts.out !== undefined && typeof opts.out !== 'string') throw new ArgumentError(`runLab: out must be a folder path, got ${JSON.stringify(opts.out)}`);
  if (opts.onResult !== undefined && typeof opts.onResult !== 'function') throw new ArgumentError('runLab: onResult must be a function (result) => void');
  return execute(o, names, workers, opts);
}

async function execute(o: LabOptions & { seeds: number }, names: string[], workers: number, opts: LabRunOptions): Promise<LabRun> {
  const nSeeds = o.seeds;
  const seeds = seedList(o.seed, nSeeds);
  const exps = names.map(byName);
  const started = new Date();
  const load0 = os.loadavg()[0];
  const t0 = performance.now(), c0 = cpuSeconds();

  // 1. Every unit once per seed, longest first.
  const unitNames = [...new Set(exps.flatMap((e) => e.units(o.quick)))];
  const jobs: Job[] = unitNames.flatMap((u) => seeds.map((seed) => ({ id: 0, unit: u, seed, quick: o.quick })))
    .sort((a, b) => UNIT_WEIGHT(b.unit) - UNIT_WEIGHT(a.unit))
    .map((j, id) => ({ ...j, id }));
  o.log(`${jobs.length} units (${unitNames.join(', ')}) × seeds ${seeds.join(', ')} on ${workers ? `${workers} worker processes` : 'this process'}`);
  let byId: Map<number, { result: unknown; seconds: number; cpu: number }>;
  if (workers > 0) {
    byId = await runOnWorkers(jobs, workers, o.log);
  } else {
    byId = new Map();
    for (const j of jobs) {
      const tj = performance.now();
      const result = UNITS[j.unit](j.seed, { quick: o.quick, log: o.log });
      byId.set(j.id, { result, seconds: (performance.now() - tj) / 1000, cpu: 0 }); // counted in this process's CPU
    }
  }
  const jobOf = (u: string, s: number) => byId.get(jobs.find((j) => j.unit === u && j.seed === s)!.id)!;
  const units: Record<string, unknown[]> = Object.fromEntries(unitNames.map((u) => [u, seeds.map((s) => jobOf(u, s).result)]));
  const unitTime = (u: string) => seeds.reduce((t, s) => t + jobOf(u, s).seconds, 0);
  const unitSeconds = (performance.now() - t0) / 1000;

  // 2. Timings, alone; 3. summaries.
  const results: ExperimentResult[] = [];
  for (const e of exps) {
    const te = performance.now();
    const timings = e.timings?.({ quick: o.quick, log: o.log });
    const own = e.units(o.quick).reduce((t, u) => t + unitTime(u), 0); // shared units count in each experiment
    const r: ExperimentResult = { ...e.summarise({ quick: o.quick, seeds, units, timings }), seconds: own + (performance.now() - te) / 1000 };
    results.push(r);
    opts.onResult?.(r);
  }
  const childCpu = [...byId.values()].reduce((t, j) => t + j.cpu, 0);
  const seconds = (performance.now() - t0) / 1000, cpu = cpuSeconds() - c0 + childCpu;
  const load: [number, number] = [load0, os.loadavg()[0]];
  o.log(`units ${unitSeconds.toFixed(1)} s, timings and summaries ${(seconds - unitSeconds).toFixed(1)} s`);
  const dir = path.resolve(opts.out ?? 'qkv-report');
  const { files, pngError } = writeReport(dir, results, {
    version: VERSION, backend: backend().name, quick: o.quick, seeds, startedAt: started.toISOString(), seconds, workers, cpuSeconds: cpu, load,
  });
  return { dir, results, files, pngError, seconds, cpuSeconds: cpu, workers, load };
}
