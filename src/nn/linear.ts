/** Linear and Identity. */
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { linear } from '../ops/matmul.js';
import { Module, pyRepr } from './module.js';
import { Parameter } from './parameter.js';
import * as init from './init.js';

export interface LinearOptions {
  bias?: boolean;
  dtype?: DType;
}

/**
 * y = x Wᵀ + b.
 *
 * Args: inFeatures, outFeatures; `bias` (default true).
 * Parameters: weight (out, in) ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5);
 *             bias (out) ~ U(−1/√in, 1/√in).
 * Shape: (…, in) → (…, out)
 * Example: `new nn.Linear(20, 30).forward(randn([128, 20]))` has shape [128, 30].
 */
export class Linear extends Module {
  declare weight: Parameter;
  declare bias: Parameter | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    const dtype = opts.dtype ?? 'float32';
    this.registerParameter('weight', new Parameter(Tensor.empty([outFeatures, inFeatures], dtype)));
    this.registerParameter('bias', (opts.bias ?? true) ? new Parameter(Tensor.empty([outFeatures], dtype)) : null);
    this.resetParameters();
  }

  override resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const [fanIn] = init.calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform_(this.bias, -bound, bound);
    }
  }

  override forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyRepr(this.bias !== null)}`;
  }
}

/** Returns its input. */
export class Identity extends Module {
  override forward(x: Tensor): Tensor {
    return x;
  }
}
