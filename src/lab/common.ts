/** Shared pieces of the lab experiments: timing and small statistics of tensors. */
import type { Tensor } from '../tensor/tensor.js';

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
