/** Sampling for generation: top-k filtering and multinomial draws from the seeded generator. */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { defaultGenerator, type Generator } from '../tensor/random.js';

/** Keeps the k largest logits of each row (ties at the k-th value kept too); the rest become −inf. */
export function topKFilter(logits: Tensor, k: number): Tensor {
  const V = logits.shape[logits.ndim - 1];
  if (!Number.isInteger(k) || k <= 0) throw new ArgumentError(`topKFilter: k must be a positive integer, got ${k}`);
  if (k >= V) return logits;
  const rows = logits.reshape([-1, V]).toFlat();
  const thresholds = new Float64Array(rows.length / V);
  for (let r = 0; r < thresholds.length; r++) {
    const row = Array.from(rows.subarray(r * V, (r + 1) * V) as ArrayLike<number>).sort((a, b) => b - a);
    thresholds[r] = row[k - 1];
  }
  const t = Tensor.fromTypedArray(thresholds, [...logits.shape.slice(0, -1), 1], 'float64');
  return logits.maskedFill(logits.lt(t), -Infinity);
}

/**
 * One draw per row from the categorical distribution `probs` (…, V) (rows need not be
 * normalised), as int64 (…, 1).
 */
export function multinomial(probs: Tensor, generator?: Generator): Tensor {
  if (probs.ndim < 1) throw new ShapeError(`multinomial: expected (…, V) probabilities, got ${fmtShape(probs.shape)}`);
  const V = probs.shape[probs.ndim - 1];
  const p = probs.reshape([-1, V]).toFlat();
  const n = p.length / V;
  const out = Tensor.empty([...probs.shape.slice(0, -1), 1], 'int64');
  const g = generator ?? defaultGenerator;
  for (let r = 0; r < n; r++) {
    let total = 0;
    for (let j = 0; j < V; j++) {
      const w = p[r * V + j];
      if (!(w >= 0) || w === Infinity) throw new ArgumentError(`multinomial: probabilities must be finite and non-negative; row ${r} has ${w} at ${j}`);
      total += w;
    }
    if (total <= 0) throw new ArgumentError(`multinomial: row ${r} sums to 0`);
    let u = g.nextDouble() * total, pick = -1;
    for (let j = 0; j < V; j++) {
      const w = p[r * V + j];
      if (w > 0) pick = j; // rounding can leave u ≥ 0 at the end: fall back to the last possible j
      u -= w;
      if (u < 0 && w > 0) break;
    }
    out.storage.data[r] = pick;
  }
  return out;
}
