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
import * as I from './indexing.js';
import * as C from './cumulative.js';
import { argsort, sort, topk } from './sort.js';
import { multinomial } from './sampling.js';
import { fillNormal, fillUniform } from './random.js';
import { shapeArgs, type ShapeArgs } from '../tensor/shape.js';
import type { Operand } from './elementwise.js';
import type { Dims, VarOptions } from './reduce.js';
import type { IndexSpec } from './indexing.js';

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

  /** A view with another shape (one size may be −1): `x.view(3, -1)` or `x.view([3, -1])`. */
  view(this: Self, ...shape: ShapeArgs): Tensor { return S.view(this, shapeArgs(shape, 'view')); },
  /** view when the layout allows, a copy otherwise: `x.reshape(3, -1)` or `x.reshape([3, -1])`. */
  reshape(this: Self, ...shape: ShapeArgs): Tensor { return S.reshape(this, shapeArgs(shape, 'reshape')); },
  flatten(this: Self, startDim = 0, endDim = -1): Tensor { return S.flatten(this, startDim, endDim); },
  unflatten(this: Self, dim: number, sizes: readonly number[]): Tensor { return S.unflatten(this, dim, sizes); },
  contiguous(this: Self): Tensor { return S.contiguous(this); },
  clone(this: Self): Tensor { return S.clone(this); },
  /** Reorders dims: `x.permute(0, 2, 1)` or `x.permute([0, 2, 1])`. */
  permute(this: Self, ...dims: ShapeArgs): Tensor { return S.permute(this, shapeArgs(dims, 'permute')); },
  transpose(this: Self, dim0: number, dim1: number): Tensor { return S.transpose(this, dim0, dim1); },
  movedim(this: Self, source: number, destination: number): Tensor { return S.movedim(this, source, destination); },
  t(this: Self): Tensor { return S.t(this); },
  /** Broadcasts size-1 dims without copying: `x.expand(4, -1)` or `x.expand([4, -1])`. */
  expand(this: Self, ...shape: ShapeArgs): Tensor { return S.expand(this, shapeArgs(shape, 'expand')); },
  expandAs(this: Self, other: Tensor): Tensor { return S.expand(this, other.shape); },
  broadcastTo(this: Self, shape: readonly number[]): Tensor { return S.broadcastTo(this, shape); },
  unsqueeze(this: Self, dim: number): Tensor { return S.unsqueeze(this, dim); },
  squeeze(this: Self, dim?: number): Tensor { return S.squeeze(this, dim); },
  narrow(this: Self, dim: number, start: number, length: number): Tensor { return S.narrow(this, dim, start, length); },
  slice(this: Self, dim: number, start = 0, end?: number, step = 1): Tensor { return S.slice(this, dim, start, end, step); },
  select(this: Self, dim: number, index: number): Tensor { return S.select(this, dim, index); },
  /** `x[specs…]`: numbers, null or ':', slices, 'None', '...', integer and bool tensors (ops/indexing.ts). */
  index(this: Self, ...specs: IndexSpec[]): Tensor { return I.index(this, ...specs); },
  /** `x[specs…] = values` in place; `accumulate` adds (torch index_put_). */
  indexPut_<T extends Tensor>(this: T, indices: readonly IndexSpec[], values: Tensor | number, accumulate = false): T { I.indexPutInPlace(this, indices, values, accumulate); return this; },
  /** A copy with `values` written at `indices` (torch index_put), with gradients. */
  indexPut(this: Self, indices: readonly IndexSpec[], values: Tensor | number, accumulate = false): Tensor { return I.indexPut(this, indices, values, accumulate); },
  gather(this: Self, dim: number, index: Tensor): Tensor { return I.gather(this, dim, index); },
  scatter(this: Self, dim: number, index: Tensor, src: Tensor | number): Tensor { return I.scatter(this, dim, index, src); },
  scatterAdd(this: Self, dim: number, index: Tensor, src: Tensor): Tensor { return I.scatterAdd(this, dim, index, src); },
  scatter_<T extends Tensor>(this: T, dim: number, index: Tensor, src: Tensor | number): T { I.scatterInPlace(this, dim, index, src, 'none'); return this; },
  scatterAdd_<T extends Tensor>(this: T, dim: number, index: Tensor, src: Tensor): T { I.scatterInPlace(this, dim, index, src, 'add'); return this; },
  maskedSelect(this: Self, mask: Tensor): Tensor { return I.maskedSelect(this, mask); },
  nonzero(this: Self): Tensor { return I.nonzero(this); },
  /** Reverses the order along dims: `x.flip(0)`, `x.flip(0, 1)` or `x.flip([0, 1])`. */
  flip(this: Self, ...dims: ShapeArgs): Tensor { return S.flip(this, shapeArgs(dims, 'flip')); },
  roll(this: Self, shifts: number | readonly number[], dims?: number | readonly number[]): Tensor { return S.roll(this, shifts, dims); },
  /** Tiles: `x.repeat(2, 1)` or `x.repeat([2, 1])` (torch.Tensor.repeat). */
  repeat(this: Self, ...sizes: ShapeArgs): Tensor { return S.repeat(this, shapeArgs(sizes, 'repeat')); },
  tile(this: Self, ...dims: ShapeArgs): Tensor { return S.tile(this, shapeArgs(dims, 'tile')); },
  repeatInterleave(this: Self, repeats: number | Tensor, dim?: number): Tensor { return S.repeatInterleave(this, repeats, dim); },
  diagonal(this: Self, offset = 0, dim1 = 0, dim2 = 1): Tensor { return S.diagonal(this, offset, dim1, dim2); },
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
  sumToSize(this: Self, ...shape: ShapeArgs): Tensor { return R.sumTo(this, shapeArgs(shape, 'sumToSize')); },
  mean(this: Self, dim?: Dims, keepdim = false): Tensor { return R.mean(this, dim, keepdim); },
  /** Maximum values over dims (torch.amax; the values of torch.max(dim)). */
  max(this: Self, dim?: Dims, keepdim = false): Tensor { return R.max(this, dim, keepdim); },
  min(this: Self, dim?: Dims, keepdim = false): Tensor { return R.min(this, dim, keepdim); },
  argmax(this: Self, dim?: number, keepdim = false): Tensor { return R.argmax(this, dim, keepdim); },
  argmin(this: Self, dim?: number, keepdim = false): Tensor { return R.argmin(this, dim, keepdim); },
  var(this: Self, dim?: Dims, opts?: VarOptions): Tensor { return R.variance(this, dim, opts); },
  std(this: Self, dim?: Dims, opts?: VarOptions): Tensor { return R.std(this, dim, opts); },
  logsumexp(this: Self, dim?: Dims, keepdim = false): Tensor { return R.logsumexp(this, dim, keepdim); },
  cumsum(this: Self, dim: number): Tensor { return C.cumsum(this, dim); },
  cumprod(this: Self, dim: number): Tensor { return C.cumprod(this, dim); },
  /** [values, indices] sorted along dim (default last), ascending unless `descending`. */
  sort(this: Self, dim = -1, descending = false): [Tensor, Tensor] { return sort(this, dim, descending); },
  argsort(this: Self, dim = -1, descending = false): Tensor { return argsort(this, dim, descending); },
  /** [values, indices] of the k largest (or smallest) along dim, in order. */
  topk(this: Self, k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] { return topk(this, k, dim, largest, sorted); },
  /** numSamples category indices per row drawn from these (unnormalised) probabilities. */
  multinomial(this: Self, numSamples = 1, replacement = false, generator?: Generator): Tensor { return multinomial(this, numSamples, replacement, generator); },
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
  /** All dims reversed (PyTorch's .T; the transpose of a matrix). */
  T(this: Self): Tensor { return S.permute(this, this.shape.map((_, i) => this.ndim - 1 - i)); },
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

