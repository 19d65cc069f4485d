/**
 * Parameter: a leaf tensor that a Module registers and an optimizer updates. Like
 * torch.nn.Parameter it shares the storage of the tensor it wraps and requires grad by default:
 * `new nn.Parameter(t)`, `new nn.Parameter(t, false)` or `new nn.Parameter(t, { requiresGrad: false })`.
 */
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { checkOptions } from '../options.js';
import { keep } from '../tensor/allocator.js';

export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad: boolean | { requiresGrad?: boolean } = true) {
    if (!(data instanceof Tensor)) {
      throw new ArgumentError(`nn.Parameter: expected a Tensor to wrap, got ${data === null ? 'null' : typeof data === 'object' ? `an object (${(data as object).constructor?.name ?? 'Object'})` : typeof data}`);
    }
    const rg = typeof requiresGrad === 'boolean' ? requiresGrad : (checkOptions(requiresGrad, ['requiresGrad'], 'nn.Parameter').requiresGrad ?? true);
    if (typeof rg !== 'boolean') throw new ArgumentError(`nn.Parameter: requiresGrad must be true or false, got ${JSON.stringify(rg)}`);
    super(data.storage, data.dtype, data.shape.slice(), data.strides.slice(), data.offset);
    keep(this); // parameters outlive every tidy() scope
    if (rg) this.requiresGrad_(true);
  }

  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}
