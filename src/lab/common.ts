/** Shared pieces of the lab experiments: timing and small statistics of tensors. */
import type { Tensor } from '../tensor/tensor.js';

export { DEFAULT_LAB_OPTIONS, type LabOptions } from './experiment.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Wall times (ms) of `reps` runs of fn after `warmup` untimed runs. */
export function timesMs(fn: () => void, reps: number, warmup = 2): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return t;
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

/** "1 vector", "2 vectors". */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
