/**
 * Random fills from the seeded generator (tensor/random.ts): `uniform_`, `normal_` in place on any
 * view, and the Bernoulli masks of dropout. Values are drawn in row-major order of the logical
 * shape, so a strided view gets the same numbers as a contiguous one.
 */
import type { DType } from '../dtype.js';
import { allocateData } from '../tensor/allocator.js';
import { Tensor } from '../tensor/tensor.js';
import { defaultGenerator, type Generator } from '../tensor/random.js';
import { copyInto } from './elementwise.js';

/** Fills `t` in place with U(low, high) samples (torch.Tensor.uniform_). */
export function fillUniform(t: Tensor, low: number, high: number, g: Generator = defaultGenerator): Tensor {
  return fillWith(t, () => low + (high - low) * g.nextDouble());
}

/** Fills `t` in place with N(mean, std²) samples (torch.Tensor.normal_). */
export function fillNormal(t: Tensor, mean: number, std: number, g: Generator = defaultGenerator): Tensor {
  return fillWith(t, () => mean + std * g.nextNormal());
}

function fillWith(t: Tensor, draw: () => number): Tensor {
  const values = allocateData(t.dtype, t.shape, 'uniform_/normal_');
  for (let i = 0; i < values.length; i++) values[i] = draw();
  return copyInto(t, Tensor.fromTypedArray(values, t.shape, t.dtype));
}

/** A tensor of 1 with probability `keep`, else 0. */
export function bernoulliMask(shape: readonly number[], keep: number, dtype: DType, g: Generator = defaultGenerator): Tensor {
  const out = Tensor.empty(shape, dtype);
  const d = out.storage.data;
  for (let i = 0; i < d.length; i++) d[i] = g.nextDouble() < keep ? 1 : 0;
  return out;
}
