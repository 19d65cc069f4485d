/** embedding: a row gather from the weight table; the gradient scatter-adds back into the rows. */
import { attach } from '../autograd/node.js';
import { ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { checkIndex, contiguous, reshape } from './shape.js';

/**
 * weight[idx] (torch.nn.functional.embedding). Rows used several times get the sum of their
 * gradients; the `paddingIdx` row gets none.
 *
 * Shape: idx (*) integer, weight (V, E) → (*, E)
 */
export function embedding(idx: Tensor, weight: Tensor, paddingIdx?: number | null): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be 2-D (V, E), got ${fmtShape(weight.shape)}`);
  const [V, E] = weight.shape;
  checkIndex(idx, V, 'embedding');
  const flat = contiguous(reshape(idx, [-1]));
  const table = contiguous(weight);
  const out = Tensor.uninitialized([flat.numel(), E], weight.dtype);
  backend().indexSelect(table.view_(), flat.view_(), out.view_());
  const pad = paddingIdx == null ? null : paddingIdx < 0 ? paddingIdx + V : paddingIdx;
  attach(out, 'EmbeddingBackward', [table], (g) => {
    const gw = Tensor.zeros([V, E], g.dtype);
    backend().indexAdd(gw.view_(), flat.view_(), contiguous(g).view_());
    if (pad !== null) gw.select(0, pad).zero_();
    return [gw];
  });
  return reshape(out, [...idx.shape, E]);
}
