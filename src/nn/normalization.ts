/** LayerNorm. */
import { DEVICE, callOptions, checkBool, checkNumber } from '../options.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { ArgumentError } from '../errors.js';
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
 * Args: normalizedShape; eps (1e-5), elementwiseAffine (true), bias (true) — as options or
 * positionally, as PyTorch's `LayerNorm(8, 1e-6)`: `new nn.LayerNorm(8, 1e-6)`.
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

  constructor(normalizedShape: number | readonly number[], opts?: LayerNormOptions);
  constructor(normalizedShape: number | readonly number[], eps: number, elementwiseAffine?: boolean, bias?: boolean, opts?: LayerNormOptions);
  constructor(normalizedShape: number | readonly number[], ...rest: unknown[]) {
    super();
    const where = 'nn.LayerNorm';
    const { eps = 1e-5, elementwiseAffine = true, bias = true, dtype = 'float32' } = callOptions<LayerNormOptions>(
      where, rest, ['eps', 'elementwiseAffine', 'bias'], ['eps', 'elementwiseAffine', 'bias', 'dtype'], { device: DEVICE },
    );
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : Array.isArray(normalizedShape) ? normalizedShape.slice() : null;
    if (!shape || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new ArgumentError(`${where}: normalizedShape must be a positive integer or an array of them, got ${JSON.stringify(normalizedShape)}`);
    }
    checkNumber(eps, 'eps', where, 0);
    checkBool(elementwiseAffine, 'elementwiseAffine', where);
    checkBool(bias, 'bias', where);
    this.normalizedShape = shape;
    this.eps = eps;
    this.elementwiseAffine = elementwiseAffine;
    this.registerParameter('weight', elementwiseAffine ? new Parameter(Tensor.empty(this.normalizedShape, dtype)) : null);
    this.registerParameter('bias', elementwiseAffine && bias ? new Parameter(Tensor.empty(this.normalizedShape, dtype)) : null);
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
