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
 * `numSamples` draws per row from the categorical distributions in `probs` (…, V) — rows need
 * not be normalised — as int64 (…, numSamples) (torch.multinomial). Without replacement every
 * draw of a row is a different category (numSamples ≤ the number of non-zero weights); with
 * replacement draws are independent. Uses the seeded generator.
 */
export function multinomial(probs: Tensor, numSamples = 1, replacement = false, generator?: Generator): Tensor {
  if (probs.ndim < 1 || probs.ndim > 2) throw new ShapeError(`multinomial: probabilities must be 1-D or 2-D (rows, V), got ${fmtShape(probs.shape)}`);
  if (!Number.isInteger(numSamples) || numSamples <= 0) throw new ArgumentError(`multinomial: numSamples must be a positive integer, got ${numSamples}`);
  const V = probs.shape[probs.ndim - 1];
  if (!replacement && numSamples > V) throw new ArgumentError(`multinomial: cannot sample ${numSamples} > ${V} categories without replacement`);
  const p = probs.reshape([-1, V]).toFlat();
  const rows = V === 0 ? 0 : p.length / V;
  const out = Tensor.empty([...probs.shape.slice(0, -1), numSamples], 'int64');
  const g = generator ?? defaultGenerator;
  const w = new Float64Array(V);
  for (let r = 0; r < rows; r++) {
    let total = 0, positive = 0;
    for (let j = 0; j < V; j++) {
      const v = p[r * V + j];
      if (!(v >= 0) || v === Infinity) throw new ArgumentError(`multinomial: probabilities must be finite and non-negative; row ${r} has ${v} at ${j}`);
      w[j] = v;
      total += v;
      if (v > 0) positive++;
    }
    if (total <= 0) throw new ArgumentError(`multinomial: row ${r} sums to 0`);
    if (!replacement && numSamples > positive) {
      throw new ArgumentError(`multinomial: row ${r} has ${positive} non-zero weights, fewer than the ${numSamples} samples drawn without replacement`);
    }
    for (let s = 0; s < numSamples; s++) {
      const pick = draw(w, total, g);
      out.storage.data[r * numSamples + s] = pick;
      if (!replacement) {
        total -= w[pick];
        w[pick] = 0;
      }
    }
  }
  return out;
}

/** One index drawn with probability w[j] / total (w[j] = 0 never drawn). */
function draw(w: Float64Array, total: number, g: Generator): number {
  let u = g.nextDouble() * total, pick = -1;
  for (let j = 0; j < w.length; j++) {
    if (w[j] > 0) pick = j; // rounding can leave u ≥ 0 at the end: fall back to the last possible j
    u -= w[j];
    if (u < 0 && w[j] > 0) break;
  }
  return pick;
}
