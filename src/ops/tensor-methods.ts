/**
 * The PyTorch-named methods of Tensor, installed onto the class from the ops that implement them
 * (tinygrad's mixin pattern: tensor/tensor.ts is the data structure, this file is its API).
 *
 * Each method is a thin entry into an op of this folder, where the forward and its gradient rule
 * live side by side. The `declare module` block below gives the methods their types; the
 * `install` call puts the same functions on Tensor.prototype — one list, so a declared method
 * cannot be missing at run time. Importing this module (or 'qkv') completes the class.
 */
import { checkDType, type DType } from '../dtype.js';
import { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import '../autograd/tensor-methods.js';
import * as E from './elementwise.js';
import * as R from './reduce.js';
import * as S from './shape.js';
import * as M from './matmul.js';
import * as SM from './softmax.js';
import * as TR from './triangle.js';
import { fillNormal, fillUniform } from './random.js';
import type { Operand } from './elementwise.js';
import type { Dims, VarOptions } from './reduce.js';
import type { IndexSpec } from './shape.js';

type Self = Tensor;

const methods = {
  // -------------------------------------------------------------------------------------------
  // Conversion

  /** A copy converted to `dtype` (the graph is kept for float → float); this tensor if it already has it. */
  to(this: Self, dtype: DType): Tensor {
    checkDType(dtype, 'to');
    return dtype === this.dtype ? this : E.cast(this, dtype);
  },
  float(this: Self): Tensor { return this.to('float32'); },
  double(this: Self): Tensor { return this.to('float64'); },
  long(this: Self): Tensor { return this.to('int64'); },
  int(this: Self): Tensor { return this.to('int32'); },
  bool(this: Self): Tensor { return this.to('bool'); },

  // -------------------------------------------------------------------------------------------
  // Shape and views

  view(this: Self, shape: readonly number[]): Tensor { return S.view(this, shape); },
  reshape(this: Self, shape: readonly number[]): Tensor { return S.reshape(this, shape); },
  flatten(this: Self, startDim = 0, endDim = -1): Tensor { return S.flatten(this, startDim, endDim); },
  unflatten(this: Self, dim: number, sizes: readonly number[]): Tensor { return S.unflatten(this, dim, sizes); },
  contiguous(this: Self): Tensor { return S.contiguous(this); },
  clone(this: Self): Tensor { return S.clone(this); },
  permute(this: Self, dims: readonly number[]): Tensor { return S.permute(this, dims); },
  transpose(this: Self, dim0: number, dim1: number): Tensor { return S.transpose(this, dim0, dim1); },
  movedim(this: Self, source: number, destination: number): Tensor { return S.movedim(this, source, destination); },
  t(this: Self): Tensor { return S.t(this); },
  expand(this: Self, shape: readonly number[]): Tensor { return S.expand(this, shape); },
  expandAs(this: Self, other: Tensor): Tensor { return S.expand(this, other.shape); },
  broadcastTo(this: Self, shape: readonly number[]): Tensor { return S.broadcastTo(this, shape); },
  unsqueeze(this: Self, dim: number): Tensor { return S.unsqueeze(this, dim); },
  squeeze(this: Self, dim?: number): Tensor { return S.squeeze(this, dim); },
  narrow(this: Self, dim: number, start: number, length: number): Tensor { return S.narrow(this, dim, start, length); },
  slice(this: Self, dim: number, start = 0, end?: number, step = 1): Tensor { return S.slice(this, dim, start, end, step); },
  select(this: Self, dim: number, index: number): Tensor { return S.select(this, dim, index); },
  index(this: Self, ...specs: IndexSpec[]): Tensor { return S.index(this, ...specs); },
  indexSelect(this: Self, dim: number, idx: Tensor): Tensor { return S.indexSelect(this, dim, idx); },
  split(this: Self, sizeOrSizes: number | readonly number[], dim = 0): Tensor[] { return S.split(this, sizeOrSizes, dim); },
  chunk(this: Self, chunks: number, dim = 0): Tensor[] { return S.chunk(this, chunks, dim); },
  unbind(this: Self, dim = 0): Tensor[] { return S.unbind(this, dim); },

  // -------------------------------------------------------------------------------------------
  // Elementwise

  add(this: Self, other: Operand, alpha?: number): Tensor { return E.add(this, alpha === undefined ? other : E.mul(other, alpha)); },
  sub(this: Self, other: Operand, alpha?: number): Tensor { return E.sub(this, alpha === undefined ? other : E.mul(other, alpha)); },
  mul(this: Self, other: Operand): Tensor { return E.mul(this, other); },
  div(this: Self, other: Operand): Tensor { return E.div(this, other); },
  pow(this: Self, exponent: Operand): Tensor { return E.pow(this, exponent); },
  /** other − this (torch.rsub). */
  rsub(this: Self, other: Operand): Tensor { return E.sub(other, this); },
  maximum(this: Self, other: Operand): Tensor { return E.maximum(this, other); },
  minimum(this: Self, other: Operand): Tensor { return E.minimum(this, other); },
  atan2(this: Self, other: Operand): Tensor { return E.atan2(this, other); },
  neg(this: Self): Tensor { return E.unary('neg', this); },
  abs(this: Self): Tensor { return E.unary('abs', this); },
  sign(this: Self): Tensor { return E.unary('sign', this); },
  square(this: Self): Tensor { return E.unary('square', this); },
  reciprocal(this: Self): Tensor { return E.unary('reciprocal', this); },
  exp(this: Self): Tensor { return E.unary('exp', this); },
  log(this: Self): Tensor { return E.unary('log', this); },
  sqrt(this: Self): Tensor { return E.unary('sqrt', this); },
  rsqrt(this: Self): Tensor { return E.unary('rsqrt', this); },
  tanh(this: Self): Tensor { return E.unary('tanh', this); },
  sigmoid(this: Self): Tensor { return E.unary('sigmoid', this); },
  relu(this: Self): Tensor { return E.unary('relu', this); },
  /** GELU, exact (erf) by default or the tanh approximation. */
  gelu(this: Self, approximate: 'none' | 'tanh' = 'none'): Tensor { return E.unary(approximate === 'tanh' ? 'geluTanh' : 'gelu', this); },
  sin(this: Self): Tensor { return E.unary('sin', this); },
  cos(this: Self): Tensor { return E.unary('cos', this); },
  erf(this: Self): Tensor { return E.unary('erf', this); },
  floor(this: Self): Tensor { return E.unary('floor', this); },
  ceil(this: Self): Tensor { return E.unary('ceil', this); },
  round(this: Self): Tensor { return E.unary('round', this); },
  clamp(this: Self, min?: number | null, max?: number | null): Tensor { return E.clamp(this, min, max); },
  eq(this: Self, other: Operand): Tensor { return E.compare('eq', this, other); },
  ne(this: Self, other: Operand): Tensor { return E.compare('ne', this, other); },
  lt(this: Self, other: Operand): Tensor { return E.compare('lt', this, other); },
  le(this: Self, other: Operand): Tensor { return E.compare('le', this, other); },
  gt(this: Self, other: Operand): Tensor { return E.compare('gt', this, other); },
  ge(this: Self, other: Operand): Tensor { return E.compare('ge', this, other); },
  logicalAnd(this: Self, other: Operand): Tensor { return E.compare('logicalAnd', this, other); },
  logicalOr(this: Self, other: Operand): Tensor { return E.compare('logicalOr', this, other); },
  logicalNot(this: Self): Tensor { return E.compare('eq', this, 0); },
  isnan(this: Self): Tensor { return E.compare('ne', this, this); },
  isinf(this: Self): Tensor { return E.compare('eq', this.abs(), Infinity); },
  isfinite(this: Self): Tensor { return this.isnan().logicalOr(this.isinf()).logicalNot(); },
  maskedFill(this: Self, mask: Tensor, value: number): Tensor { return E.maskedFill(this, mask, value); },
  /** True when every element equals the other's within atol + rtol·|other| (torch.allclose). */
  allclose(this: Self, other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return this.sub(other).abs().le(other.abs().mul(rtol).add(atol)).logicalOr(this.eq(other)).all();
  },
  /** True when every element is non-zero. */
  all(this: Self): boolean { return this.logicalNot().sum().item() === 0; },
  /** True when some element is non-zero. */
  any(this: Self): boolean { return this.ne(0).sum().item() > 0; },

  // -------------------------------------------------------------------------------------------
  // Reductions

  sum(this: Self, dim?: Dims, keepdim = false): Tensor { return R.sum(this, dim, keepdim); },
  /** Sums broadcast dims away so the result has `shape` (torch.Tensor.sum_to_size). */
  sumToSize(this: Self, shape: readonly number[]): Tensor { return R.sumTo(this, shape); },
  mean(this: Self, dim?: Dims, keepdim = false): Tensor { return R.mean(this, dim, keepdim); },
  /** Maximum values over dims (torch.amax; the values of torch.max(dim)). */
  max(this: Self, dim?: Dims, keepdim = false): Tensor { return R.max(this, dim, keepdim); },
  min(this: Self, dim?: Dims, keepdim = false): Tensor { return R.min(this, dim, keepdim); },
  argmax(this: Self, dim?: number, keepdim = false): Tensor { return R.argmax(this, dim, keepdim); },
  argmin(this: Self, dim?: number, keepdim = false): Tensor { return R.argmin(this, dim, keepdim); },
  var(this: Self, dim?: Dims, opts?: VarOptions): Tensor { return R.variance(this, dim, opts); },
  std(this: Self, dim?: Dims, opts?: VarOptions): Tensor { return R.std(this, dim, opts); },
  logsumexp(this: Self, dim?: Dims, keepdim = false): Tensor { return R.logsumexp(this, dim, keepdim); },
  /** Euclidean (Frobenius) norm over dims. */
  norm(this: Self, dim?: Dims, keepdim = false): Tensor { return R.sum(this.mul(this), dim, keepdim).sqrt(); },

  // -------------------------------------------------------------------------------------------
  // Linear algebra, softmax, masks

  matmul(this: Self, other: Tensor): Tensor { return M.matmul(this, other); },
  bmm(this: Self, other: Tensor): Tensor { return M.bmm(this, other); },
  softmax(this: Self, dim: number): Tensor { return SM.softmax(this, dim); },
  logSoftmax(this: Self, dim: number): Tensor { return SM.logSoftmax(this, dim); },
  triu(this: Self, diagonal = 0): Tensor { return TR.triu(this, diagonal); },
  tril(this: Self, diagonal = 0): Tensor { return TR.tril(this, diagonal); },

  // -------------------------------------------------------------------------------------------
  // In place (allowed outside a graph; each bumps the storage version)

  add_<T extends Tensor>(this: T, other: Operand, alpha?: number): T { E.binaryInPlace('add', this, alpha === undefined ? other : E.mul(other, alpha)); return this; },
  sub_<T extends Tensor>(this: T, other: Operand, alpha?: number): T { E.binaryInPlace('sub', this, alpha === undefined ? other : E.mul(other, alpha)); return this; },
  mul_<T extends Tensor>(this: T, other: Operand): T { E.binaryInPlace('mul', this, other); return this; },
  div_<T extends Tensor>(this: T, other: Operand): T { E.binaryInPlace('div', this, other); return this; },
  pow_<T extends Tensor>(this: T, exponent: Operand): T { E.binaryInPlace('pow', this, exponent); return this; },
  clamp_<T extends Tensor>(this: T, min?: number | null, max?: number | null): T {
    if (min != null) E.binaryInPlace('maximum', this, min);
    if (max != null) E.binaryInPlace('minimum', this, max);
    return this;
  },
  sqrt_<T extends Tensor>(this: T): T { E.unaryInPlace('sqrt', this); return this; },
  exp_<T extends Tensor>(this: T): T { E.unaryInPlace('exp', this); return this; },
  neg_<T extends Tensor>(this: T): T { E.unaryInPlace('neg', this); return this; },
  copy_<T extends Tensor>(this: T, src: Operand): T { E.copyInto(this, src); return this; },
  fill_<T extends Tensor>(this: T, value: number): T { E.copyInto(this, value); return this; },
  zero_<T extends Tensor>(this: T): T { E.copyInto(this, 0); return this; },
  maskedFill_<T extends Tensor>(this: T, mask: Tensor, value: number): T { E.maskedFillInPlace(this, mask, value); return this; },
  uniform_<T extends Tensor>(this: T, low = 0, high = 1, generator?: Generator): T { fillUniform(this, low, high, generator); return this; },
  normal_<T extends Tensor>(this: T, mean = 0, std = 1, generator?: Generator): T { fillNormal(this, mean, std, generator); return this; },
};

const getters = {
  /** Transpose of the last two dims (PyTorch's .mT). */
  mT(this: Self): Tensor { return S.transpose(this, -2, -1); },
};

type Methods = typeof methods;
type Getters = { readonly [K in keyof typeof getters]: ReturnType<(typeof getters)[K]> };

declare module '../tensor/tensor.js' {
  // The methods above, as members of Tensor (declaration merging with the class).
  interface Tensor extends Methods, Getters {}
}

for (const [name, fn] of Object.entries(methods)) {
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });
}
for (const [name, fn] of Object.entries(getters)) {
  Object.defineProperty(Tensor.prototype, name, { get: fn, configurable: true, enumerable: false });
}

