/** Activation and probability modules: ReLU, GELU, Tanh, Sigmoid, Softmax, Dropout. */
import { callOptions, onlyFalse } from '../options.js';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { dropout } from '../ops/dropout.js';
import { Module, pyRepr } from './module.js';

const INPLACE = onlyFalse('inplace', "qkv's activations are computed out of place; drop the argument (the output is the same)");

/** max(x, 0). PyTorch's `inplace=True` is refused (qkv computes out of place). */
export class ReLU extends Module {
  constructor(opts?: { inplace?: false });
  constructor(inplace: false, opts?: Record<string, never>);
  constructor(...rest: unknown[]) {
    super();
    callOptions('nn.ReLU', rest, ['inplace'], [], { inplace: INPLACE });
  }

  override forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** GELU: x·Φ(x) (approximate 'none'), or its tanh approximation ('tanh', GPT-2's). */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';

  constructor(approximate?: 'none' | 'tanh');
  constructor(opts: { approximate?: 'none' | 'tanh' });
  constructor(...rest: unknown[]) {
    super();
    const { approximate = 'none' } = callOptions<{ approximate?: 'none' | 'tanh' }>('nn.GELU', rest, ['approximate'], ['approximate']);
    if (approximate !== 'none' && approximate !== 'tanh') throw new ArgumentError(`GELU: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
    this.approximate = approximate;
  }

  override forward(x: Tensor): Tensor {
    return x.gelu(this.approximate);
  }

  override extraRepr(): string {
    return `approximate=${pyRepr(this.approximate)}`;
  }
}

export class Tanh extends Module {
  constructor(...rest: never[]) {
    super();
    callOptions('nn.Tanh', rest, [], []);
  }

  override forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

export class Sigmoid extends Module {
  constructor(...rest: never[]) {
    super();
    callOptions('nn.Sigmoid', rest, [], []);
  }

  override forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/** Softmax over `dim` (required: PyTorch's implicit-dim form is deprecated). */
export class Softmax extends Module {
  readonly dim: number;

  constructor(dim: number);
  constructor(opts: { dim: number });
  constructor(...rest: unknown[]) {
    super();
    const { dim } = callOptions<{ dim?: number }>('nn.Softmax', rest, ['dim'], ['dim']);
    if (typeof dim !== 'number' || !Number.isInteger(dim)) throw new ArgumentError(`nn.Softmax: dim must be an integer, got ${JSON.stringify(dim)} (PyTorch's implicit dim is not supported)`);
    this.dim = dim;
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
  readonly p: number;

  constructor(p?: number, inplace?: false);
  constructor(opts: { p?: number; inplace?: false });
  constructor(...rest: unknown[]) {
    super();
    const { p = 0.5 } = callOptions<{ p?: number }>('nn.Dropout', rest, ['p', 'inplace'], ['p'], { inplace: INPLACE });
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new ArgumentError(`Dropout: probability has to be between 0 and 1, but got ${p}`);
    this.p = p;
  }

  override forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }

  override extraRepr(): string {
    return `p=${Number.isInteger(this.p) ? this.p.toFixed(1) : pyRepr(this.p)}, inplace=False`;
  }
}
