/**
 * How a lab experiment is put together, so that its seeds can run in parallel and its shared
 * training runs are done once:
 *
 * - a **unit** is one seed's worth of work, named ('init', 'gpt:untied', …), returning plain
 *   JSON-serialisable data. Units are registered by name (src/lab/registry.ts) and may be shared:
 *   the char GPT trained in 'gpt:base' serves the layout, tying and merged-qk experiments.
 * - an **experiment** names the units it needs, optionally measures timings in the main thread
 *   once every unit has finished (nothing else running), and summarises the per-seed data into
 *   its ExperimentResult (figures, per-seed values, claims, tables, charts, verdict).
 *
 * `runExperiment(exp, opts)` runs everything serially in this thread; `runLab` (index.ts) runs
 * the units of several experiments on a pool of worker processes.
 */
import { ArgumentError } from '../errors.js';
import { checkOptions } from '../options.js';
import type { ExperimentResult } from './report.js';

export interface UnitContext {
  quick: boolean;
  /** Progress lines ("init: seed 2, variant 3/5"). */
  log: (line: string) => void;
}

/** One seed of one piece of work; the result must survive structured cloning (plain data). */
export type Unit = (seed: number, ctx: UnitContext) => unknown;

export interface SummaryInput {
  quick: boolean;
  /** The seeds, in order; units[name][i] is seed seeds[i]'s result. */
  seeds: number[];
  units: Record<string, unknown[]>;
  /** What `timings` returned, if the experiment has timings. */
  timings: unknown;
}

export interface Experiment {
  name: string;
  /** Units this experiment needs, by registered name. */
  units: (quick: boolean) => string[];
  /** Measurements that must not share the CPU with other work (wall times). */
  timings?: (ctx: UnitContext) => unknown;
  summarise: (input: SummaryInput) => Omit<ExperimentResult, 'seconds'>;
}

export interface LabOptions {
  /** Smaller and shorter runs (for tests and a first look). */
  quick: boolean;
  /** The first seed; the lab uses seed, seed + 1, …, seed + seeds − 1. */
  seed: number;
  /** How many seeds. Default 5, or 3 with quick. */
  seeds?: number;
  /** Progress lines. */
  log: (line: string) => void;
}

export const DEFAULT_LAB_OPTIONS: LabOptions = { quick: false, seed: 0, log: () => {} };

export const defaultSeedCount = (quick: boolean): number => (quick ? 3 : 5);

export const LAB_OPTION_KEYS = ['quick', 'seed', 'seeds', 'log'] as const;

/**
 * An experiment runner's options, checked (unknown keys are errors naming the nearest valid one)
 * and completed with the defaults; `extra` are further keys the caller accepts.
 */
export function labOptions(opts: Partial<LabOptions> | undefined, where: string, extra: readonly string[] = []): LabOptions & { seeds: number } {
  checkOptions(opts, [...LAB_OPTION_KEYS, ...extra], where);
  const o: LabOptions = { ...DEFAULT_LAB_OPTIONS, ...Object.fromEntries(Object.entries(opts ?? {}).filter(([k, v]) => v !== undefined && (LAB_OPTION_KEYS as readonly string[]).includes(k))) };
  if (typeof o.quick !== 'boolean') throw new ArgumentError(`${where}: quick must be true or false, got ${JSON.stringify(o.quick)}`);
  if (!Number.isInteger(o.seed)) throw new ArgumentError(`${where}: seed must be an integer, got ${JSON.stringify(o.seed)}`);
  const seeds = o.seeds ?? defaultSeedCount(o.quick);
  if (!Number.isInteger(seeds) || seeds < 1) throw new ArgumentError(`${where}: seeds must be a positive integer, got ${JSON.stringify(o.seeds)}`);
  if (typeof o.log !== 'function') throw new ArgumentError(`${where}: log must be a function (line) => void`);
  return { ...o, seeds };
}

/** CPU time of this process (all its threads) in seconds. */
export function cpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}
