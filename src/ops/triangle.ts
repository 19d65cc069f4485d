/** triu / tril: keep the upper / lower triangle of the last two dims (shifted by `diagonal`). */
import { ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

/** Bool mask (R, C): true where column − row ≥ diagonal (upper) or ≤ diagonal (lower). */
export function triangleMask(rows: number, cols: number, diagonal: number, upper: boolean): Tensor {
  // Filled directly: attention builds one per layer per step, and the composed form
  // (arange, sub, compare) ran three integer kernels for it.
  const mask = Tensor.empty([rows, cols], 'bool');
  const d = mask.storage.data;
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    for (let j = 0; j < cols; j++) d[row + j] = (upper ? j - i >= diagonal : j - i <= diagonal) ? 1 : 0;
  }
  return mask;
}

function triangle(x: Tensor, diagonal: number, upper: boolean): Tensor {
  if (x.ndim < 2) throw new ShapeError(`${upper ? 'triu' : 'tril'}: input must have at least 2 dims, got ${fmtShape(x.shape)}`);
  const keep = triangleMask(x.shape[x.ndim - 2], x.shape[x.ndim - 1], diagonal, upper);
  return x.maskedFill(keep.logicalNot(), 0);
}

/** Elements on and above the `diagonal`-th diagonal; the rest zero (torch.triu). */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle(x, diagonal, true);
}

/** Elements on and below the `diagonal`-th diagonal; the rest zero (torch.tril). */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle(x, diagonal, false);
}
