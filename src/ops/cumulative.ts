/**
 * cumsum and cumprod along a dim, with PyTorch's gradients (cumprod's is exact with zeros in
 * the input, as PyTorch's is).
 */
import { attach } from '../autograd/node.js';
import { Tensor } from '../tensor/tensor.js';
import { normDim } from '../tensor/shape.js';
import { backend } from '../backend/index.js';
import { isFloating, type DType } from '../dtype.js';
import { contiguous, narrow } from './shape.js';
import { where } from './elementwise.js';

function scan(op: 'sum' | 'prod', x: Tensor, dim: number, name: string, reverse = false): { out: Tensor; d: number } {
  const d = x.ndim === 0 ? 0 : normDim(dim, x.ndim, name);
  // Like PyTorch, integer and bool inputs accumulate as int64.
  const dtype: DType = isFloating(x.dtype) ? x.dtype : 'int64';
  const src = contiguous(x.dtype === dtype ? x : x.to(dtype));
  const out = Tensor.uninitialized(x.shape, dtype);
  backend().cumulative(op, src.view_(), d, reverse, out.view_());
  return { out, d };
}

/** Running sums along `dim` (torch.cumsum). The gradient is the reversed running sum of g. */
export function cumsum(x: Tensor, dim: number): Tensor {
  const { out, d } = scan('sum', x, dim, 'cumsum');
  return attach(out, 'CumsumBackward', [x], (g) => [reverseCumsum(g, d)]);
}

/** Σ_{j≥i} x_j along `dim` (the reversed running sum), with its own gradient (cumsum). */
function reverseCumsum(x: Tensor, d: number): Tensor {
  const { out } = scan('sum', x, d, 'cumsum', true);
  return attach(out, 'ReverseCumsumBackward', [x], (g) => [cumsum(g, d)]);
}

/**
 * Running products along `dim` (torch.cumprod).
 *
 * Gradient: ∂L/∂x_i = Σ_{j≥i} g_j·Π_{k≤j, k≠i} x_k. Before the first zero of a row this is
 * (reversed cumsum of g·y)_i / x_i; at the first zero z it is y_{z−1}·Σ_{j≥z} g_j·Π_{z<k≤j} x_k;
 * after it, 0 (every product contains x_z).
 */
export function cumprod(x: Tensor, dim: number): Tensor {
  const { out, d } = scan('prod', x, dim, 'cumprod');
  if (x.ndim === 0) return attach(out, 'CumprodBackward', [x], (g) => [g]);
  return attach(out, 'CumprodBackward', [x], (g) => {
    const n = x.shape[d];
    const revcumsum = (t: Tensor): Tensor => reverseCumsum(t, d);
    const isZero = x.eq(0);
    // Positions up to and including the first zero of their row: the running count of zeros so far.
    const zerosSoFar = cumsum(isZero.to('int64'), d);
    const beforeFirst = zerosSoFar.eq(0); // strictly before the first zero
    const atFirst = zerosSoFar.eq(1).logicalAnd(isZero); // the first zero itself
    const safeX = where(beforeFirst, x, 1);
    const gBefore = revcumsum(g.mul(out)).div(safeX);
    // At the first zero z: y_{z−1}·Σ_{j≥z} g_j·Π_{z<k≤j} x_k, with x replaced by 1 up to z.
    const tail = cumprod(where(zerosSoFar.eq(0).logicalOr(atFirst), 1, x), d); // Π_{z<k≤j} x_k for j ≥ z
    const sumAfter = revcumsum(g.mul(tail));
    const yPrev = Tensor.ones(x.shape, out.dtype);
    if (n > 1) narrow(yPrev, d, 1, n - 1).copy_(narrow(out.detach(), d, 0, n - 1));
    const gAt = yPrev.mul(sumAfter);
    return [where(beforeFirst, gBefore, where(atFirst, gAt, 0))];
  }, [x, out]);
}
