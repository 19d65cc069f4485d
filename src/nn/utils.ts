/** nn.utils: gradient clipping. */
import { ArgumentError } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Scales all gradients together so their total norm is at most maxNorm (torch's
 * clip_grad_norm_): total = ‖(‖g₁‖, ‖g₂‖, …)‖, each g ← g · min(1, maxNorm / (total + 1e-6)).
 * Returns the total norm before clipping, as a 0-D tensor.
 */
export function clipGradNorm_(
  parameters: Iterable<Tensor>, maxNorm: number, opts: { normType?: number; errorIfNonfinite?: boolean } = {},
): Tensor {
  const { normType = 2, errorIfNonfinite = false } = opts;
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
