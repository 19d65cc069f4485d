/** dropout: zeroes each element with probability p and scales survivors by 1/(1−p) (inverted dropout). */
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { bernoulliMask } from './random.js';

/**
 * Identity when not training or p = 0; all zeros when p = 1. The mask is drawn from the seeded
 * generator, so a run is reproducible under manualSeed; the gradient is the same mask·scale.
 */
export function dropout(x: Tensor, p = 0.5, training = true, generator?: Generator): Tensor {
  if (!(p >= 0 && p <= 1)) throw new ArgumentError(`dropout: probability has to be between 0 and 1, but got ${p}`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const mask = bernoulliMask(x.shape, 1 - p, x.dtype, generator); // 1 with probability 1 − p
  return x.mul(mask.mul_(1 / (1 - p)));
}
