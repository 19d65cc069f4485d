/**
 * F: the functional forms (torch.nn.functional), e.g. `F.linear(x, w, b)`, `F.softmax(x, -1)`.
 */
export { linear } from '../ops/matmul.js';
export { softmax, logSoftmax } from '../ops/softmax.js';
export { layerNorm } from '../ops/normalization.js';
export { crossEntropy, mseLoss } from '../ops/loss.js';
export type { CrossEntropyOptions, Reduction } from '../ops/loss.js';
export { embedding } from '../ops/embedding.js';
export { dropout } from '../ops/dropout.js';
export { oneHot } from '../ops/indexing.js';
import type { Tensor } from '../tensor/tensor.js';

/** GELU: exact (x·Φ(x)) by default, or the tanh approximation. */
export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  return x.gelu(opts.approximate ?? 'none');
}

export function relu(x: Tensor): Tensor {
  return x.relu();
}

export function sigmoid(x: Tensor): Tensor {
  return x.sigmoid();
}

export function tanh(x: Tensor): Tensor {
  return x.tanh();
}
export { scaledDotProductAttention } from '../ops/attention.js';
export type { SdpaOptions } from '../ops/attention.js';
