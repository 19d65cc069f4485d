/**
 * Parameter: a leaf tensor that a Module registers and an optimizer updates. Like
 * torch.nn.Parameter it shares the storage of the tensor it wraps and requires grad by default.
 */
import { Tensor } from '../tensor/tensor.js';

export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    super(data.storage, data.dtype, data.shape.slice(), data.strides.slice(), data.offset);
    if (requiresGrad) this.requiresGrad_(true);
  }

  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}
