/**
 * layerNorm: a fused kernel over the trailing `normalizedShape` dims (biased variance, like
 * PyTorch) with its own backward, and the composed twin it is tested against.
 */
import { attach } from '../autograd/node.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { isFloating } from '../dtype.js';
import { contiguous, reshape } from './shape.js';

function checkArgs(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null): void {
  const k = normalizedShape.length;
  if (k === 0 || x.ndim < k || x.shape.slice(x.ndim - k).join() !== normalizedShape.join()) {
    throw new ShapeError(`layerNorm: normalizedShape ${fmtShape(normalizedShape)} must match the trailing dims of the input, got input ${fmtShape(x.shape)}`);
  }
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && p.shape.join() !== normalizedShape.join()) {
      throw new ShapeError(`layerNorm: ${name} must have shape ${fmtShape(normalizedShape)}, got ${fmtShape(p.shape)}`);
    }
  }
  if (!isFloating(x.dtype)) throw new DTypeError(`layerNorm: input must be floating point, got ${x.dtype}`);
}

/**
 * (x − E[x]) / √(Var[x] + eps) · weight + bias over the last len(normalizedShape) dims.
 *
 * Shape: x (…, *normalizedShape); weight, bias normalizedShape → same as x
 */
export function layerNorm(
  x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5,
): Tensor {
  checkArgs(x, normalizedShape, weight, bias);
  const D = normalizedShape.reduce((p, s) => p * s, 1);
  const N = x.numel() / Math.max(D, 1);
  const x2 = contiguous(reshape(x, [N, D])); // (N, D)
  const w = weight ? contiguous(reshape(weight, [D])) : null;
  const b = bias ? contiguous(reshape(bias, [D])) : null;
  const out = Tensor.uninitialized([N, D], x.dtype);
  const mean = Tensor.uninitialized([N], x.dtype), rstd = Tensor.uninitialized([N], x.dtype);
  backend().layerNorm(x2.view_(), w?.view_() ?? null, b?.view_() ?? null, eps, out.view_(), mean.view_(), rstd.view_());
  attach(out, 'LayerNormBackward', [x2, w, b], (g) => {
    const gx = Tensor.uninitialized([N, D], g.dtype);
    const gw = w?.requiresGrad ? Tensor.uninitialized([D], g.dtype) : null;
    const gb = b?.requiresGrad ? Tensor.uninitialized([D], g.dtype) : null;
    backend().layerNormBackward(
      contiguous(g).view_(), x2.view_(), w?.view_() ?? null, mean.view_(), rstd.view_(),
      gx.view_(), gw?.view_() ?? null, gb?.view_() ?? null,
    );
    return [gx, gw, gb];
  }, [x2, ...(w ? [w] : [])]);
  return reshape(out, x.shape);
}

/** The composed twin of layerNorm, from primitives. */
export function layerNormComposed(
  x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5,
): Tensor {
  checkArgs(x, normalizedShape, weight, bias);
  const dims = normalizedShape.map((_, i) => x.ndim - normalizedShape.length + i);
  const mu = x.mean(dims, true);
  const centered = x.sub(mu);
  const v = centered.mul(centered).mean(dims, true);
  let y = centered.mul(v.add(eps).rsqrt());
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}
