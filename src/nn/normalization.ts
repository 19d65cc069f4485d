/** LayerNorm. */
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { layerNorm } from '../ops/normalization.js';
import { Module, pyRepr } from './module.js';
import { Parameter } from './parameter.js';
import * as init from './init.js';

export interface LayerNormOptions {
  eps?: number;
  elementwiseAffine?: boolean;
  /** Learn an additive bias (with elementwiseAffine). Default true. */
  bias?: boolean;
  dtype?: DType;
}

/**
 * Normalises the last len(normalizedShape) dims to zero mean and unit (biased) variance, then
 * scales and shifts: y = (x − E[x]) / √(Var[x] + eps) · weight + bias.
 *
 * Parameters: weight = 1, bias = 0, both of normalizedShape.
 * Shape: (…, *normalizedShape) → same.
 * Note: over a single feature pair (normalizedShape [2]) the output can only be ±(1, −1)
 * scaled by weight and shifted by bias: one degree of freedom (problem 3 of DESIGN.md).
 */
export class LayerNorm extends Module {
  declare weight: Parameter | null;
  declare bias: Parameter | null;
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape.slice();
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    const dtype = opts.dtype ?? 'float32';
    const affine = this.elementwiseAffine;
    this.registerParameter('weight', affine ? new Parameter(Tensor.empty(this.normalizedShape, dtype)) : null);
    this.registerParameter('bias', affine && (opts.bias ?? true) ? new Parameter(Tensor.empty(this.normalizedShape, dtype)) : null);
    this.resetParameters();
  }

  override resetParameters(): void {
    if (this.weight) init.ones_(this.weight);
    if (this.bias) init.zeros_(this.bias);
  }

  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${pyRepr(this.normalizedShape)}, eps=${pyRepr(this.eps)}, elementwise_affine=${pyRepr(this.elementwiseAffine)}`;
  }
}
