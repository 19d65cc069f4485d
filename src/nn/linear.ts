/** Linear and Identity. */
import { DEVICE, callOptions, checkBool, checkCount } from '../options.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { linear } from '../ops/matmul.js';
import { Module, pyRepr } from './module.js';
import { Parameter } from './parameter.js';
import * as init from './init.js';

export interface LinearOptions {
  /** Learn an additive bias. Default true. */
  bias?: boolean;
  dtype?: DType;
}

/**
 * y = x Wᵀ + b.
 *
 * Args: inFeatures, outFeatures; `bias` (default true) — as an option or positionally, as
 * PyTorch's `Linear(3, 4, False)`: `new nn.Linear(3, 4, false)`.
 * Parameters: weight (out, in) ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5);
 *             bias (out) ~ U(−1/√in, 1/√in).
 * Shape: (…, in) → (…, out)
 * Example: `new nn.Linear(20, 30).forward(randn([128, 20]))` has shape [128, 30].
 */
export class Linear extends Module {
  declare weight: Parameter;
  declare bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, opts?: LinearOptions);
  constructor(inFeatures: number, outFeatures: number, bias: boolean, opts?: LinearOptions);
  constructor(readonly inFeatures: number, readonly outFeatures: number, ...rest: unknown[]) {
    super();
    const where = 'nn.Linear';
    const { bias = true, dtype = 'float32' } = callOptions<LinearOptions>(where, rest, ['bias'], ['bias', 'dtype'], { device: DEVICE });
    checkCount(inFeatures, 'inFeatures', where, false);
    checkCount(outFeatures, 'outFeatures', where, false);
    checkBool(bias, 'bias', where);
    this.registerParameter('weight', new Parameter(Tensor.empty([outFeatures, inFeatures], dtype)));
    this.registerParameter('bias', bias ? new Parameter(Tensor.empty([outFeatures], dtype)) : null);
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
