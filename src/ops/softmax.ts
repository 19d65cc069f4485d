/**
 * softmax and logSoftmax: one fused, numerically stable kernel (max-subtracted) with its own
 * backward, plus the composed twins the fused path is tested against.
 */
import { attach } from '../autograd/node.js';
import { DTypeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { normDim } from '../tensor/shape.js';
import { backend } from '../backend/index.js';
import { isFloating } from '../dtype.js';
import { contiguous, reshape } from './shape.js';

function fused(x: Tensor, dim: number, log: boolean): Tensor {
  const name = log ? 'logSoftmax' : 'softmax';
  if (!isFloating(x.dtype)) throw new DTypeError(`${name}: input must be floating point, got ${x.dtype}`);
  if (x.ndim === 0) return reshape(fused(reshape(x, [1]), 0, log), []);
  const d = normDim(dim, x.ndim, name);
  const out = Tensor.uninitialized(x.shape, x.dtype);
  backend().softmax(contiguous(x).view_(), d, log, out.view_());
  return attach(out, log ? 'LogSoftmaxBackward' : 'SoftmaxBackward', [x], (g) => {
    const gx = Tensor.uninitialized(x.shape, g.dtype);
    backend().softmaxBackward(out.view_(), contiguous(g).view_(), d, log, gx.view_());
    return [gx];
  }, [out]);
}

/** exp(x − max) / Σ exp(x − max) along dim. */
export function softmax(x: Tensor, dim: number): Tensor {
  return fused(x, dim, false);
}

/** x − max − log Σ exp(x − max) along dim. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return fused(x, dim, true);
}

/** The composed twin of softmax, from primitives; tests check the fused kernel against it. */
export function softmaxComposed(x: Tensor, dim: number): Tensor {
  const e = x.sub(x.max(dim, true).detach()).exp();
  return e.div(e.sum(dim, true));
}

export function logSoftmaxComposed(x: Tensor, dim: number): Tensor {
  return x.sub(x.logsumexp(dim, true));
}
