/**
 * Inclusive cumulative sum and product along one dim of a contiguous tensor (torch.cumsum /
 * cumprod), forwards or backwards (the reversed sum is cumsum's gradient). The running value is kept in float64 and rounded once per output, as PyTorch's CPU
 * kernel accumulates in its accumulation type (double for float).
 */
import type { View } from '../backend.js';

export function cumulative(op: 'sum' | 'prod', x: View, dim: number, reverse: boolean, out: View): void {
  let outer = 1, inner = 1;
  for (let d = 0; d < dim; d++) outer *= x.shape[d];
  for (let d = dim + 1; d < x.shape.length; d++) inner *= x.shape[d];
  const n = x.shape.length === 0 ? 1 : x.shape[dim];
  const xd = x.data, od = out.data;
  for (let o = 0; o < outer; o++) {
    for (let p = 0; p < inner; p++) {
      const base = o * n * inner + p;
      let acc = op === 'sum' ? 0 : 1;
      for (let step = 0; step < n; step++) {
        const i = reverse ? n - 1 - step : step;
        const v = xd[x.offset + base + i * inner];
        acc = op === 'sum' ? acc + v : acc * v;
        od[out.offset + base + i * inner] = acc;
      }
    }
  }
}
