/** Embedding: a lookup table of vectors. */
import { DEVICE, callOptions, checkCount, onlyFalse, onlyNull } from '../options.js';
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { noGrad } from '../autograd/grad-mode.js';
import { embedding } from '../ops/embedding.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import * as init from './init.js';

export interface EmbeddingOptions {
  /** This row is initialised to zero and receives no gradient (e.g. a PAD token). */
  paddingIdx?: number | null;
  dtype?: DType;
}

/**
 * Args: numEmbeddings (V), embeddingDim (E); `paddingIdx` — as an option or positionally, as
 * PyTorch's `Embedding(10, 3, 0)`: `new nn.Embedding(10, 3, 0)`. PyTorch's max_norm,
 * scale_grad_by_freq and sparse are not implemented (refused unless left at their defaults).
 * Parameters: weight (V, E) ~ N(0, 1), the paddingIdx row zero.
 * Shape: integer (*) → (*, E)
 */
export class Embedding extends Module {
  declare weight: Parameter;
  readonly paddingIdx: number | null;

  constructor(numEmbeddings: number, embeddingDim: number, opts?: EmbeddingOptions);
  constructor(numEmbeddings: number, embeddingDim: number, paddingIdx: number | null, opts?: EmbeddingOptions);
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, ...rest: unknown[]) {
    super();
    const where = 'nn.Embedding';
    const opts = callOptions<EmbeddingOptions>(where, rest, ['paddingIdx', 'maxNorm', 'normType', 'scaleGradByFreq', 'sparse'], ['paddingIdx', 'dtype'], {
      maxNorm: onlyNull('max_norm', 'renormalising looked-up rows is not implemented'),
      normType: { torch: 'norm_type', ok: (v) => v === undefined || v === 2 },
      scaleGradByFreq: onlyFalse('scale_grad_by_freq'),
      sparse: onlyFalse('sparse', 'gradients are dense'),
      device: DEVICE,
    });
    checkCount(numEmbeddings, 'numEmbeddings', where, false);
    checkCount(embeddingDim, 'embeddingDim', where, false);
    let pad = opts.paddingIdx ?? null;
    if (pad !== null) {
      if (typeof pad !== 'number' || !Number.isInteger(pad)) throw new ArgumentError(`Embedding: paddingIdx must be an integer or null, got ${JSON.stringify(pad)}`);
      if (pad >= numEmbeddings || pad < -numEmbeddings) {
        throw new ArgumentError(`Embedding: paddingIdx ${pad} must be within num_embeddings (${numEmbeddings})`);
      }
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.registerParameter('weight', new Parameter(Tensor.empty([numEmbeddings, embeddingDim], opts.dtype ?? 'float32')));
    this.resetParameters();
  }

  override resetParameters(): void {
    init.normal_(this.weight);
    if (this.paddingIdx !== null) noGrad(() => this.weight.select(0, this.paddingIdx!).zero_());
  }

  override forward(idx: Tensor): Tensor {
    return embedding(idx, this.weight, this.paddingIdx);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, padding_idx=${this.paddingIdx}` : ''}`;
  }
}
