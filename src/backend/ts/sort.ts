/**
 * Sorting along the last dim of contiguous rows: the first k values of each row in sorted order
 * and their positions (torch.sort / torch.topk). NaN sorts above every number (last ascending,
 * first descending), as in PyTorch; equal values keep their order (stable).
 */
import type { View } from '../backend.js';

/** Rows of x [..., L] (contiguous) → values and int64 indices [..., k] (contiguous), k ≤ L. */
export function sort(x: View, k: number, descending: boolean, values: View, indices: View): void {
  const L = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
  const total = x.shape.reduce((p, s) => p * s, 1);
  const rows = L === 0 ? 0 : total / L;
  const xd = x.data, vd = values.data, id = indices.data;
  // a before b in the output order; ties by position (stable).
  const before = (va: number, ia: number, vb: number, ib: number): boolean => {
    const na = va !== va, nb = vb !== vb;
    if (na || nb) {
      if (na && nb) return ia < ib;
      return descending ? na : nb;
    }
    if (va === vb) return ia < ib;
    return descending ? va > vb : va < vb;
  };
  const order: number[] = [];
  for (let r = 0; r < rows; r++) {
    const base = x.offset + r * L;
    order.length = 0;
    if (k * 8 < L && k <= 64) {
      // Partial selection: keep the best k seen so far in order (insertion; O(L) when k ≪ L).
      for (let i = 0; i < L; i++) {
        const v = xd[base + i];
        if (order.length === k && !before(v, i, xd[base + order[k - 1]], order[k - 1])) continue;
        let j = order.length === k ? k - 1 : order.length;
        while (j > 0 && before(v, i, xd[base + order[j - 1]], order[j - 1])) {
          order[j] = order[j - 1];
          j--;
        }
        order[j] = i;
      }
    } else {
      for (let i = 0; i < L; i++) order.push(i);
      order.sort((a, b) => (before(xd[base + a], a, xd[base + b], b) ? -1 : 1));
    }
    for (let j = 0; j < k; j++) {
      vd[values.offset + r * k + j] = xd[base + order[j]];
      id[indices.offset + r * k + j] = order[j];
    }
  }
}
