/**
 * Scaled dot-product attention, composed from primitives:
 * softmax(q kᵀ · scale + mask) v, with PyTorch's F.scaled_dot_product_attention conventions.
 */
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { dropout } from './dropout.js';
import { triangleMask } from './triangle.js';

export interface SdpaOptions {
  /**
   * Bool: true where a query MAY attend (SDPA's convention; nn.MultiheadAttention's is the
   * opposite). Float: added to the scores. Broadcasts to (…, L, S).
   */
  attnMask?: Tensor | null;
  dropoutP?: number;
  /** Query i attends to keys j ≤ i (top-left aligned, as PyTorch). */
  isCausal?: boolean;
  /** Default 1/√D. */
  scale?: number;
  /** Dropout is applied only when training (default true, like the functional form). */
  training?: boolean;
}

/** Turns a mask into an additive float mask: bool `allowed` → 0 / −inf. */
export function additiveMask(mask: Tensor, allowedWhenTrue: boolean, dtype: Tensor['dtype']): Tensor {
  if (mask.dtype === 'bool') {
    const blocked = allowedWhenTrue ? mask.logicalNot() : mask;
    return Tensor.zeros(mask.shape, dtype).maskedFill(blocked, -Infinity);
  }
  if (!mask.isFloatingPoint()) throw new DTypeError(`attention: a mask must be bool or floating point, got ${mask.dtype}`);
  return mask;
}

/**
 * Attention probabilities softmax(q kᵀ·scale + mask) and the output probs · v.
 *
 * Shape: q (…, L, D), k (…, S, D), v (…, S, Dv) → out (…, L, Dv), weights (…, L, S)
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions = {}): { out: Tensor; weights: Tensor } {
  const D = q.shape[q.ndim - 1], L = q.shape[q.ndim - 2], S = k.shape[k.ndim - 2];
  if (k.shape[k.ndim - 1] !== D || v.shape[v.ndim - 2] !== S) {
    throw new ShapeError(`scaledDotProductAttention: q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)} do not fit (need q (…, L, D), k (…, S, D), v (…, S, Dv))`);
  }
  let scores = q.matmul(k.mT).mul(opts.scale ?? 1 / Math.sqrt(D)); // (…, L, S)
  if (opts.isCausal) scores = scores.maskedFill(triangleMask(L, S, 1, true), -Infinity);
  if (opts.attnMask) scores = scores.add(additiveMask(opts.attnMask, true, scores.dtype));
  let weights = scores.softmax(-1);
  if (opts.dropoutP && opts.dropoutP > 0) weights = dropout(weights, opts.dropoutP, opts.training ?? true);
  return { out: weights.matmul(v), weights };
}

/** F.scaled_dot_product_attention: the attention output only. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions = {}): Tensor {
  return attention(q, k, v, opts).out;
}
