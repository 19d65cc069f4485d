/**
 * F: the functional forms (torch.nn.functional), e.g. `F.linear(x, w, b)`, `F.softmax(x, -1)`.
 *
 * The ones taking options check them (an unknown key is an error naming the nearest valid one)
 * and accept PyTorch's keyword forms as an options object: `F.crossEntropy(x, t, { ignoreIndex })`,
 * `F.dropout(x, { p: 0.1, training })`, `F.gelu(x, { approximate: 'tanh' })`.
 */
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { checkOptions, callOptions, onlyFalse } from '../options.js';
import * as loss from '../ops/loss.js';
import { dropout as dropoutOp } from '../ops/dropout.js';
import type { CrossEntropyOptions, Reduction } from '../ops/loss.js';

export { linear } from '../ops/matmul.js';
export { softmax, logSoftmax } from '../ops/softmax.js';
export { layerNorm } from '../ops/normalization.js';
export type { CrossEntropyOptions, Reduction } from '../ops/loss.js';
export { embedding } from '../ops/embedding.js';
export { oneHot } from '../ops/indexing.js';
export { scaledDotProductAttention } from '../ops/attention.js';
export type { SdpaOptions } from '../ops/attention.js';

function lossOpts<T extends object>(opts: unknown, valid: readonly string[], where: string): T {
  if (opts instanceof Tensor) throw new ArgumentError(`${where}: class weights (PyTorch's weight) are not supported; pass options as { ${valid.join(', ')} }`);
  return checkOptions(opts as T | undefined, valid, where);
}

/**
 * Cross-entropy of logits against class indices or probabilities (torch.nn.functional.cross_entropy).
 * Options: ignoreIndex (−100), reduction ('mean'), labelSmoothing (0).
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  return loss.crossEntropy(input, target, lossOpts(opts, ['ignoreIndex', 'reduction', 'labelSmoothing'], 'F.crossEntropy'));
}

/** Mean squared error (torch.nn.functional.mse_loss). Options: reduction ('mean'). */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return loss.mseLoss(input, target, lossOpts(opts, ['reduction'], 'F.mseLoss'));
}

export interface DropoutOptions {
  /** Probability of zeroing an element. Default 0.5. */
  p?: number;
  /** Dropout is applied only when true (pass `module.training`). Default true. */
  training?: boolean;
  generator?: Generator;
}

/**
 * Inverted dropout (torch.nn.functional.dropout): `F.dropout(x, 0.1, training)` or
 * `F.dropout(x, { p: 0.1, training })`. PyTorch's inplace=True is refused (computed out of place).
 */
export function dropout(x: Tensor, p?: number, training?: boolean, inplace?: false): Tensor;
export function dropout(x: Tensor, opts: DropoutOptions & { inplace?: false }): Tensor;
export function dropout(x: Tensor, ...rest: unknown[]): Tensor {
  const o = callOptions<DropoutOptions>('F.dropout', rest, ['p', 'training', 'inplace'], ['p', 'training', 'generator'], {
    inplace: onlyFalse('inplace', 'qkv computes dropout out of place; drop the argument'),
  });
  if (o.training !== undefined && typeof o.training !== 'boolean') throw new ArgumentError(`F.dropout: training must be true or false, got ${JSON.stringify(o.training)}`);
  return dropoutOp(x, o.p ?? 0.5, o.training ?? true, o.generator);
}

/** GELU: exact (x·Φ(x)) by default, or the tanh approximation: `F.gelu(x, { approximate: 'tanh' })` or `F.gelu(x, 'tanh')`. */
export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } | 'none' | 'tanh' = {}): Tensor {
  const { approximate = 'none' } = typeof opts === 'string' ? { approximate: opts } : checkOptions(opts, ['approximate'], 'F.gelu');
  if (approximate !== 'none' && approximate !== 'tanh') throw new ArgumentError(`F.gelu: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  return x.gelu(approximate);
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
