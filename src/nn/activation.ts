/** Activation and probability modules: ReLU, GELU, Tanh, Sigmoid, Softmax, Dropout. */
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { dropout } from '../ops/dropout.js';
import { Module, pyRepr } from './module.js';

export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** GELU: x·Φ(x) (approximate 'none'), or its tanh approximation ('tanh', GPT-2's). */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    if (approximate !== 'none' && approximate !== 'tanh') throw new ArgumentError(`GELU: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  }

  override forward(x: Tensor): Tensor {
    return x.gelu(this.approximate);
  }

  override extraRepr(): string {
    return `approximate=${pyRepr(this.approximate)}`;
  }
}

export class Tanh extends Module {
  override forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

export class Sigmoid extends Module {
  override forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
  }

  override forward(x: Tensor): Tensor {
    return x.softmax(this.dim);
  }

  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** Zeroes elements with probability p in training mode (scaling the rest by 1/(1−p)); identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ArgumentError(`Dropout: probability has to be between 0 and 1, but got ${p}`);
  }

  override forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }

  override extraRepr(): string {
    return `p=${Number.isInteger(this.p) ? this.p.toFixed(1) : pyRepr(this.p)}, inplace=False`;
  }
}
