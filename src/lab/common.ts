/** Shared pieces of the lab experiments: options, timing, statistics. */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { checkOptions } from '../options.js';

export interface LabOptions {
  /** Smaller and shorter runs (for tests and a first look). */
  quick: boolean;
  seed: number;
  /** Progress lines ("init: variant 2/5, step 300"). */
  log: (line: string) => void;
}

export const DEFAULT_LAB_OPTIONS: LabOptions = { quick: false, seed: 0, log: () => {} };

/** An experiment runner's options, checked (unknown keys are errors) and completed with the defaults. */
export function labOptions(opts: Partial<LabOptions> | undefined, where: string): LabOptions {
  checkOptions(opts, ['quick', 'seed', 'log'], where);
  const o: LabOptions = { ...DEFAULT_LAB_OPTIONS, ...Object.fromEntries(Object.entries(opts ?? {}).filter(([, v]) => v !== undefined)) };
  if (typeof o.quick !== 'boolean') throw new ArgumentError(`${where}: quick must be true or false, got ${JSON.stringify(o.quick)}`);
  if (!Number.isInteger(o.seed)) throw new ArgumentError(`${where}: seed must be an integer, got ${JSON.stringify(o.seed)}`);
  if (typeof o.log !== 'function') throw new ArgumentError(`${where}: log must be a function (line) => void`);
  return o;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median wall time (ms) of `reps` runs of fn after `warmup` untimed runs. */
export function timeMs(fn: () => void, reps: number, warmup = 2): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/** Population standard deviation of all elements. */
export function stdOf(t: Tensor): number {
  const a = t.toFlat();
  let s = 0, s2 = 0;
  for (let i = 0; i < a.length; i++) { s += a[i]; s2 += a[i] * a[i]; }
  const m = s / a.length;
  return Math.sqrt(Math.max(s2 / a.length - m * m, 0));
}

/** Mean entropy (nats) of the rows (last dim) of a probability tensor. */
export function meanRowEntropy(p: Tensor): number {
  const a = p.toFlat();
  const n = p.shape[p.ndim - 1];
  let total = 0;
  for (let r = 0; r < a.length; r += n) {
    let h = 0;
    for (let j = 0; j < n; j++) if (a[r + j] > 0) h -= a[r + j] * Math.log(a[r + j]);
    total += h;
  }
  return total / (a.length / n);
}

/** The first step at which a curve drops to ≤ threshold, or null. */
export function stepsToReach(steps: number[], values: number[], threshold: number): number | null {
  const i = values.findIndex((v) => v <= threshold);
  return i < 0 ? null : steps[i];
}

export const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
export const r3 = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toPrecision(3) : x.toPrecision(3));

/** "1 vector", "2 vectors". */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
