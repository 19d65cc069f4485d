/**
 * sort, argsort, topk (values and int64 indices along a dim), with gradients to the values:
 * each output value's gradient goes back to the position it came from.
 *
 * Ties keep their original order (a stable sort) — PyTorch leaves the order of ties unspecified
 * for sort(stable=False) and topk, so compare tied indices with care. NaN counts as larger than
 * every number, as in PyTorch.
 */
import { attach } from '../autograd/node.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { normDim } from '../tensor/shape.js';
import { backend } from '../backend/index.js';
import { contiguous, movedim } from './shape.js';
import { scatter } from './indexing.js';

/** The first k of x along `dim` in order, as [values, indices]. */
function sorted(x: Tensor, dim: number, k: number, descending: boolean, op: string): [Tensor, Tensor] {
  const d = x.ndim === 0 ? 0 : normDim(dim, x.ndim, op);
  if (x.ndim === 0) {
    if (k > 1) throw new ArgumentError(`${op}: k (${k}) is out of range for a 0-dim tensor`);
    return [x.clone(), Tensor.zeros([], 'int64')];
  }
  const L = x.shape[d];
  if (!Number.isInteger(k) || k < 0 || k > L) throw new ArgumentError(`${op}: k (${k}) is out of range for dim ${d} of size ${L} (shape ${fmtShape(x.shape)})`);
  if (x.dtype === 'bool') throw new ShapeError(`${op}: bool tensors cannot be sorted; convert with .int()`);
  const rows = contiguous(movedim(x.detach(), d, -1)); // (…, L)
  const shape = [...rows.shape.slice(0, -1), k];
  const values = Tensor.uninitialized(shape, x.dtype);
  const indices = Tensor.uninitialized(shape, 'int64');
  backend().sort(rows.view_(), k, descending, values.view_(), indices.view_());
  const v = movedim(values, -1, d), i = movedim(indices, -1, d);
  const out = contiguous(v);
  return [attach(out, op === 'topk' ? 'TopkBackward' : 'SortBackward', [x], (g) => [scatter(Tensor.zeros(x.shape, g.dtype), d, i, g)]), contiguous(i)];
}

/**
 * Sorted values and the indices they came from (torch.sort), along the last dim by default.
 *
 * Example: `const [values, indices] = x.sort(-1, true)` (descending)
 */
export function sort(x: Tensor, dim = -1, descending = false): [Tensor, Tensor] {
  return sorted(x, dim, x.ndim === 0 ? 1 : x.shape[normDim(dim, x.ndim, 'sort')], descending, 'sort');
}

/** The indices that sort x along `dim` (torch.argsort). */
export function argsort(x: Tensor, dim = -1, descending = false): Tensor {
  return sort(x.detach(), dim, descending)[1];
}

/**
 * The k largest (or smallest) values along `dim` and their indices (torch.topk). The result is
 * always in order (largest first, or smallest first), which `sorted: false` also allows.
 *
 * Shape: x (…, L, …) → values, indices (…, k, …)
 */
export function topk(x: Tensor, k: number, dim = -1, largest = true, _sorted = true): [Tensor, Tensor] {
  return sorted(x, dim, k, largest, 'topk');
}
