/** Loss modules: MSELoss and CrossEntropyLoss (the functional forms are F.mseLoss and F.crossEntropy). */
import type { Tensor } from '../tensor/tensor.js';
import { crossEntropy, mseLoss, type CrossEntropyOptions, type Reduction } from '../ops/loss.js';
import { Module, pyRepr } from './module.js';

export class MSELoss extends Module {
  readonly reduction: Reduction;

  constructor(opts: { reduction?: Reduction } = {}) {
    super();
    this.reduction = opts.reduction ?? 'mean';
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/** Cross-entropy of logits against class indices or probabilities (ignoreIndex −100, mean, no smoothing by default). */
export class CrossEntropyLoss extends Module {
  readonly opts: Required<CrossEntropyOptions>;

  constructor(opts: CrossEntropyOptions = {}) {
    super();
    this.opts = { ignoreIndex: opts.ignoreIndex ?? -100, reduction: opts.reduction ?? 'mean', labelSmoothing: opts.labelSmoothing ?? 0 };
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, this.opts);
  }

  override extraRepr(): string {
    return this.opts.labelSmoothing ? `label_smoothing=${pyRepr(this.opts.labelSmoothing)}` : '';
  }
}
