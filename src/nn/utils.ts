/** nn.utils: gradient clipping. */
import { callOptions, onlyNull } from '../options.js';
import { ArgumentError } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../tensor/tensor.js';

export interface ClipGradNormOptions {
  /** p of the p-norm, or Infinity (PyTorch's 'inf' is accepted too). Default 2. */
  normType?: number;
  /** Throw when the total norm is NaN or infinite. Default false. */
  errorIfNonfinite?: boolean;
}

/**
 * Scales all gradients together so their total norm is at most maxNorm (torch's
 * clip_grad_norm_): total = ‖(‖g₁‖, ‖g₂‖, …)‖, each g ← g · min(1, maxNorm / (total + 1e-6)).
 * Returns the total norm before clipping, as a 0-D tensor. The options go in an object or
 * positionally, as PyTorch's `clip_grad_norm_(params, 1.0, 2.0)`.
 */
export function clipGradNorm_(parameters: Iterable<Tensor> | Tensor, maxNorm: number, opts?: ClipGradNormOptions): Tensor;
export function clipGradNorm_(parameters: Iterable<Tensor> | Tensor, maxNorm: number, normType: number | 'inf', errorIfNonfinite?: boolean): Tensor;
export function clipGradNorm_(parameters: Iterable<Tensor> | Tensor, maxNorm: number, ...rest: unknown[]): Tensor {
  const where = 'clipGradNorm_';
  const o = callOptions<{ normType?: number | 'inf'; errorIfNonfinite?: boolean }>(where, rest, ['normType', 'errorIfNonfinite', 'foreach'], ['normType', 'errorIfNonfinite'], {
    foreach: onlyNull('foreach'),
  });
  const normType = o.normType === 'inf' ? Infinity : (o.normType ?? 2);
  const errorIfNonfinite = o.errorIfNonfinite ?? false;
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new ArgumentError(`${where}: maxNorm must be a number, got ${JSON.stringify(maxNorm)}`);
  if (typeof errorIfNonfinite !== 'boolean') throw new ArgumentError(`${where}: errorIfNonfinite must be true or false, got ${JSON.stringify(errorIfNonfinite)}`);
  if (typeof normType !== 'number') throw new ArgumentError(`${where}: normType must be a number or 'inf', got ${JSON.stringify(normType)}`);
  if (parameters instanceof Tensor) parameters = [parameters];
  const grads = [...parameters].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) return Tensor.scalar(0);
  return noGrad(() => {
    let total: number;
    if (normType === Infinity) {
      total = Math.max(...grads.map((g) => g.abs().max().item()));
    } else {
      if (!(normType > 0)) throw new ArgumentError(`clipGradNorm_: normType must be positive or Infinity, got ${normType}`);
      let acc = 0;
      for (const g of grads) acc += g.abs().pow(normType).sum().item();
      total = acc ** (1 / normType);
    }
    if (errorIfNonfinite && !Number.isFinite(total)) {
      throw new ArgumentError(`clipGradNorm_: the total norm of order ${normType} for gradients is non-finite (${total}), so it cannot be clipped`);
    }
    const coef = Math.min(maxNorm / (total + 1e-6), 1);
    for (const g of grads) g.mul_(coef);
    return Tensor.scalar(total, grads[0].dtype);
  });
}
