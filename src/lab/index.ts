/**
 * The lab: five experiments that reproduce and explain the problems of DESIGN.md, each with
 * figures, plots and a verdict computed from the figures, written as one report.
 *
 *   runLab({ only: ['init'], quick: true, seed: 0, out: 'qkv-report' })
 *   runInit({ quick, seed, log }) … each experiment also runs alone.
 */
import * as path from 'node:path';
import { ArgumentError } from '../errors.js';
import { backend } from '../backend/index.js';
import { VERSION } from '../version.js';
import { checkOptions } from '../options.js';
import { labOptions, type LabOptions } from './common.js';
import { writeReport, type ExperimentResult } from './report.js';
import { runInit } from './experiments/init.js';
import { runLayout } from './experiments/layout.js';
import { runLayernorm } from './experiments/layernorm.js';
import { runMergedQk } from './experiments/merged-qk.js';
import { runTying } from './experiments/tying.js';

export { runInit, runLayout, runLayernorm, runMergedQk, runTying };
export type { ExperimentResult, LabOptions };
export { writeReport } from './report.js';

export const EXPERIMENTS: Record<string, (o?: Partial<LabOptions>) => ExperimentResult> = {
  init: runInit,
  layout: runLayout,
  layernorm: runLayernorm,
  'merged-qk': runMergedQk,
  tying: runTying,
};

export interface LabRunOptions extends Partial<LabOptions> {
  /** Experiment names to run (default: all five, in order). */
  only?: string[];
  /** Report folder. Default 'qkv-report'. */
  out?: string;
  /** Called with each finished experiment. */
  onResult?: (r: ExperimentResult) => void;
}

export function runLab(opts: LabRunOptions = {}): { dir: string; results: ExperimentResult[]; files: string[]; pngError: string | null } {
  checkOptions(opts, ['only', 'out', 'onResult', 'quick', 'seed', 'log'], 'runLab');
  if (opts.only !== undefined && !Array.isArray(opts.only)) throw new ArgumentError(`runLab: only must be an array of experiment names, got ${JSON.stringify(opts.only)}`);
  const names = opts.only?.length ? opts.only : Object.keys(EXPERIMENTS);
  for (const n of names) {
    if (!EXPERIMENTS[n]) throw new ArgumentError(`lab: unknown experiment ${JSON.stringify(n)}; choose from ${Object.keys(EXPERIMENTS).join(', ')}`);
  }
  const o: LabOptions = labOptions({ quick: opts.quick, seed: opts.seed, log: opts.log }, 'runLab');
  const started = new Date();
  const t0 = performance.now();
  const results: ExperimentResult[] = [];
  for (const n of names) {
    o.log(`── ${n} ${o.quick ? '(quick)' : ''}`);
    const r = EXPERIMENTS[n](o);
    results.push(r);
    opts.onResult?.(r);
  }
  const dir = path.resolve(opts.out ?? 'qkv-report');
  const { files, pngError } = writeReport(dir, results, {
    version: VERSION, backend: backend().name, quick: o.quick, seed: o.seed, startedAt: started.toISOString(), seconds: (performance.now() - t0) / 1000,
  });
  return { dir, results, files, pngError };
}
