/**
 * Tensor: a dtype, a shape, strides and an offset into shared Storage, plus autograd state.
 *
 * Views (view, permute, transpose, expand, narrow, select, split, chunk, …) share storage; the
 * methods below are thin, PyTorch-named entry points into ops/, where each op and its gradient
 * rule live side by side.
 */
import type { View } from '../backend/backend.js';
import { allocate, checkDType, isFloating, type DType, type TypedArray } from '../dtype.js';
import { ArgumentError, AutogradError, fmtShape } from '../errors.js';
import type { Node } from '../autograd/node.js';
import { runBackward, type BackwardOptions } from '../autograd/engine.js';
import { contiguousStrides, isContiguousView, normDim, numel } from './shape.js';
import { Storage, allocateUninitialized } from './storage.js';
import { formatTensor } from './format.js';
import * as E from '../ops/elementwise.js';
import * as R from '../ops/reduce.js';
import * as S from '../ops/shape.js';
import * as M from '../ops/matmul.js';
import * as SM from '../ops/softmax.js';
import * as TR from '../ops/triangle.js';
import type { Operand } from '../ops/elementwise.js';
import type { Dims, VarOptions } from '../ops/reduce.js';
import type { IndexSpec } from '../ops/shape.js';
import { fillNormal, fillUniform, type Generator } from './random.js';

export type NestedArray = number | boolean | NestedArray[];

export class Tensor {
  /** Whether backward computes a gradient for this tensor. */
  requiresGrad = false;
  /** Accumulated gradient (leaves, and non-leaves after retainGrad()). */
  grad: Tensor | null = null;
  /** The node that produced this tensor, or null for a leaf. */
  gradFn: Node | null = null;

  constructor(
    readonly storage: Storage,
    readonly dtype: DType,
    readonly shape: number[],
    readonly strides: number[],
    readonly offset: number,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Construction helpers used by core (users call tensor(), zeros(), … from creation.ts)

  /** A new contiguous tensor of zeros. */
  static empty(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return new Tensor(new Storage(allocate(dtype, numel(shape)), true), dtype, shape.slice(), contiguousStrides(shape), 0);
  }

  /**
   * A new contiguous tensor with unspecified contents, for op outputs that a kernel overwrites
   * completely (skips zeroing the memory). Never hand one out before every element is written.
   */
  static uninitialized(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return new Tensor(new Storage(allocateUninitialized(dtype, numel(shape)), true), dtype, shape.slice(), contiguousStrides(shape), 0);
  }

  static zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    return Tensor.empty(shape, dtype);
  }

  static ones(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    const t = Tensor.empty(shape, dtype);
    t.storage.data.fill(1);
    return t;
  }

  static full(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
    const t = Tensor.empty(shape, dtype);
    t.storage.data.fill(dtype === 'bool' ? (value ? 1 : 0) : value);
    return t;
  }

  /** A 0-D tensor. */
  static scalar(value: number, dtype: DType = 'float32'): Tensor {
    return Tensor.full([], value, dtype);
  }

  /** Wraps (does not copy) a typed array as a contiguous tensor. */
  static fromTypedArray(data: TypedArray, shape: readonly number[], dtype: DType): Tensor {
    if (data.length !== numel(shape)) {
      throw new ArgumentError(`tensor: ${data.length} values do not fill shape ${fmtShape(shape)} (${numel(shape)} elements)`);
    }
    return new Tensor(new Storage(data), dtype, shape.slice(), contiguousStrides(shape), 0);
  }

  /** 0, 1, …, n−1. */
  static arange(n: number, dtype: DType = 'int64'): Tensor {
    const t = Tensor.empty([n], dtype);
    for (let i = 0; i < n; i++) t.storage.data[i] = i;
    return t;
  }

  /** A raw view onto the same storage, without autograd (ops/ wrap it with a gradient rule). */
  asStrided(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    return new Tensor(this.storage, this.dtype, shape.slice(), strides.slice(), offset);
  }

  /** What a kernel receives: storage, dtype, shape, strides, offset. */
  view_(): View {
    return { data: this.storage.data, dtype: this.dtype, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  // -------------------------------------------------------------------------------------------
  // Metadata

  get ndim(): number {
    return this.shape.length;
  }

  dim(): number {
    return this.shape.length;
  }

  numel(): number {
    return numel(this.shape);
  }

  /** The shape, or the size of one dim. */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number[] | number {
    if (dim === undefined) return this.shape.slice();
    return this.shape[normDim(dim, this.ndim, 'size')];
  }

  isContiguous(): boolean {
    return isContiguousView(this.shape, this.strides);
  }

  /** A leaf: created by the user (or detached), not by an op that recorded a graph. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  isFloatingPoint(): boolean {
    return isFloating(this.dtype);
  }

  // -------------------------------------------------------------------------------------------
  // Autograd

  /**
   * Computes gradients of this tensor w.r.t. every leaf that requires grad, accumulating into
   * their `.grad`. A non-scalar output needs an explicit `gradient` of its shape.
   */
  backward(gradient: Tensor | null = null, opts: BackwardOptions = {}): void {
    runBackward(this, gradient, opts);
  }

  /** The same data, cut from the graph (shares storage). */
  detach(): Tensor {
    return this.asStrided(this.shape, this.strides, this.offset);
  }

  /** Sets requiresGrad on a leaf (in place, returns this). */
  requiresGrad_(on = true): this {
    if (!this.isLeaf && !on) {
      throw new AutogradError('requiresGrad_: you can only change requiresGrad of a leaf tensor; use detach() for a non-leaf');
    }
    if (on && !isFloating(this.dtype)) {
      throw new AutogradError(`requiresGrad_: only floating point tensors can require gradients, got ${this.dtype}`);
    }
    this.requiresGrad = on;
    return this;
  }

  /** Keeps `.grad` on this non-leaf tensor during backward (leaves always keep theirs). */
  retainGrad(): this {
    if (!this.requiresGrad) throw new AutogradError('retainGrad: cannot retain the grad of a tensor that does not require grad');
    if (this.gradFn) this.gradFn.retained = this;
    return this;
  }

  // -------------------------------------------------------------------------------------------
  // Conversion

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.numel() !== 1) {
      throw new ArgumentError(`item: a tensor with ${this.numel()} elements (shape ${fmtShape(this.shape)}) cannot be converted to a number`);
    }
    return this.storage.data[this.offset];
  }

  /** Nested JS arrays (a number for a 0-D tensor). */
  toArray(): NestedArray {
    const flat = this.toFlat();
    if (this.ndim === 0) return flat[0];
    const build = (d: number, start: number): NestedArray[] => {
      const n = this.shape[d];
      const step = this.shape.slice(d + 1).reduce((p, s) => p * s, 1);
      const out: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = d === this.ndim - 1 ? flat[start + i] : build(d + 1, start + i * step);
      return out;
    };
    return build(0, 0);
  }

  /** A contiguous copy of the elements in row-major order, as a typed array of this dtype. */
  toFlat(): TypedArray {
    const out = Tensor.uninitialized(this.shape, this.dtype);
    E.copyInto(out, this);
    return out.storage.data;
  }

  /** A copy converted to `dtype` (the graph is kept for float → float). */
  to(dtype: DType): Tensor {
    checkDType(dtype, 'to');
    if (dtype === this.dtype) return this;
    return E.cast(this, dtype);
  }

  float(): Tensor {
    return this.to('float32');
  }

  double(): Tensor {
    return this.to('float64');
  }

  long(): Tensor {
    return this.to('int64');
  }

  int(): Tensor {
    return this.to('int32');
  }

  bool(): Tensor {
    return this.to('bool');
  }

  toString(): string {
    return formatTensor(this);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // -------------------------------------------------------------------------------------------
  // Shape and views

  view(shape: readonly number[]): Tensor { return S.view(this, shape); }
  reshape(shape: readonly number[]): Tensor { return S.reshape(this, shape); }
  flatten(startDim = 0, endDim = -1): Tensor { return S.flatten(this, startDim, endDim); }
  unflatten(dim: number, sizes: readonly number[]): Tensor { return S.unflatten(this, dim, sizes); }
  contiguous(): Tensor { return S.contiguous(this); }
  clone(): Tensor { return S.clone(this); }
  permute(dims: readonly number[]): Tensor { return S.permute(this, dims); }
  transpose(dim0: number, dim1: number): Tensor { return S.transpose(this, dim0, dim1); }
  movedim(source: number, destination: number): Tensor { return S.movedim(this, source, destination); }
  t(): Tensor { return S.t(this); }
  /** Transpose of the last two dims (PyTorch's .mT). */
  get mT(): Tensor { return S.transpose(this, -2, -1); }
  expand(shape: readonly number[]): Tensor { return S.expand(this, shape); }
  expandAs(other: Tensor): Tensor { return S.expand(this, other.shape); }
  broadcastTo(shape: readonly number[]): Tensor { return S.broadcastTo(this, shape); }
  unsqueeze(dim: number): Tensor { return S.unsqueeze(this, dim); }
  squeeze(dim?: number): Tensor { return S.squeeze(this, dim); }
  narrow(dim: number, start: number, length: number): Tensor { return S.narrow(this, dim, start, length); }
  slice(dim: number, start = 0, end?: number, step = 1): Tensor { return S.slice(this, dim, start, end, step); }
  select(dim: number, index: number): Tensor { return S.select(this, dim, index); }
  index(...specs: IndexSpec[]): Tensor { return S.index(this, ...specs); }
  indexSelect(dim: number, idx: Tensor): Tensor { return S.indexSelect(this, dim, idx); }
  split(sizeOrSizes: number | readonly number[], dim = 0): Tensor[] { return S.split(this, sizeOrSizes, dim); }
  chunk(chunks: number, dim = 0): Tensor[] { return S.chunk(this, chunks, dim); }
  unbind(dim = 0): Tensor[] { return S.unbind(this, dim); }

  // -------------------------------------------------------------------------------------------
  // Elementwise

  add(other: Operand, alpha?: number): Tensor { return E.add(this, alpha === undefined ? other : E.mul(other, alpha)); }
  sub(other: Operand, alpha?: number): Tensor { return E.sub(this, alpha === undefined ? other : E.mul(other, alpha)); }
  mul(other: Operand): Tensor { return E.mul(this, other); }
  div(other: Operand): Tensor { return E.div(this, other); }
  pow(exponent: Operand): Tensor { return E.pow(this, exponent); }
  /** other − this (torch.rsub). */
  rsub(other: Operand): Tensor { return E.sub(other, this); }
  maximum(other: Operand): Tensor { return E.maximum(this, other); }
  minimum(other: Operand): Tensor { return E.minimum(this, other); }
  atan2(other: Operand): Tensor { return E.atan2(this, other); }
  neg(): Tensor { return E.unary('neg', this); }
  abs(): Tensor { return E.unary('abs', this); }
  sign(): Tensor { return E.unary('sign', this); }
  square(): Tensor { return E.unary('square', this); }
  reciprocal(): Tensor { return E.unary('reciprocal', this); }
  exp(): Tensor { return E.unary('exp', this); }
  log(): Tensor { return E.unary('log', this); }
  sqrt(): Tensor { return E.unary('sqrt', this); }
  rsqrt(): Tensor { return E.unary('rsqrt', this); }
  tanh(): Tensor { return E.unary('tanh', this); }
  sigmoid(): Tensor { return E.unary('sigmoid', this); }
  relu(): Tensor { return E.unary('relu', this); }
  /** GELU, exact (erf) by default or the tanh approximation. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return E.unary(approximate === 'tanh' ? 'geluTanh' : 'gelu', this); }
  sin(): Tensor { return E.unary('sin', this); }
  cos(): Tensor { return E.unary('cos', this); }
  erf(): Tensor { return E.unary('erf', this); }
  floor(): Tensor { return E.unary('floor', this); }
  ceil(): Tensor { return E.unary('ceil', this); }
  round(): Tensor { return E.unary('round', this); }
  clamp(min?: number | null, max?: number | null): Tensor { return E.clamp(this, min, max); }
  eq(other: Operand): Tensor { return E.compare('eq', this, other); }
  ne(other: Operand): Tensor { return E.compare('ne', this, other); }
  lt(other: Operand): Tensor { return E.compare('lt', this, other); }
  le(other: Operand): Tensor { return E.compare('le', this, other); }
  gt(other: Operand): Tensor { return E.compare('gt', this, other); }
  ge(other: Operand): Tensor { return E.compare('ge', this, other); }
  logicalAnd(other: Operand): Tensor { return E.compare('logicalAnd', this, other); }
  logicalOr(other: Operand): Tensor { return E.compare('logicalOr', this, other); }
  logicalNot(): Tensor { return E.compare('eq', this, 0); }
  isnan(): Tensor { return E.compare('ne', this, this); }
  isinf(): Tensor { return E.compare('eq', this.abs(), Infinity); }
  isfinite(): Tensor { return this.isnan().logicalOr(this.isinf()).logicalNot(); }
  maskedFill(mask: Tensor, value: number): Tensor { return E.maskedFill(this, mask, value); }
  /** True when every element equals the other's within atol + rtol·|other| (torch.allclose). */
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return this.sub(other).abs().le(other.abs().mul(rtol).add(atol)).logicalOr(this.eq(other)).all();
  }
  /** True when every element is non-zero. */
  all(): boolean { return this.logicalNot().sum().item() === 0; }
  /** True when some element is non-zero. */
  any(): boolean { return this.ne(0).sum().item() > 0; }

  // -------------------------------------------------------------------------------------------
  // Reductions

  sum(dim?: Dims, keepdim = false): Tensor { return R.sum(this, dim, keepdim); }
  mean(dim?: Dims, keepdim = false): Tensor { return R.mean(this, dim, keepdim); }
  /** Maximum values over dims (torch.amax; the values of torch.max(dim)). */
  max(dim?: Dims, keepdim = false): Tensor { return R.max(this, dim, keepdim); }
  min(dim?: Dims, keepdim = false): Tensor { return R.min(this, dim, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor { return R.argmax(this, dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return R.argmin(this, dim, keepdim); }
  var(dim?: Dims, opts?: VarOptions): Tensor { return R.variance(this, dim, opts); }
  std(dim?: Dims, opts?: VarOptions): Tensor { return R.std(this, dim, opts); }
  logsumexp(dim?: Dims, keepdim = false): Tensor { return R.logsumexp(this, dim, keepdim); }
  /** Euclidean (Frobenius) norm over dims. */
  norm(dim?: Dims, keepdim = false): Tensor { return R.sum(this.mul(this), dim, keepdim).sqrt(); }

  // -------------------------------------------------------------------------------------------
  // Linear algebra, softmax, masks

  matmul(other: Tensor): Tensor { return M.matmul(this, other); }
  bmm(other: Tensor): Tensor { return M.bmm(this, other); }
  softmax(dim: number): Tensor { return SM.softmax(this, dim); }
  logSoftmax(dim: number): Tensor { return SM.logSoftmax(this, dim); }
  triu(diagonal = 0): Tensor { return TR.triu(this, diagonal); }
  tril(diagonal = 0): Tensor { return TR.tril(this, diagonal); }

  // -------------------------------------------------------------------------------------------
  // In place (allowed outside a graph; each bumps the storage version)

  add_(other: Operand, alpha?: number): this { E.binaryInPlace('add', this, alpha === undefined ? other : E.mul(other, alpha)); return this; }
  sub_(other: Operand, alpha?: number): this { E.binaryInPlace('sub', this, alpha === undefined ? other : E.mul(other, alpha)); return this; }
  mul_(other: Operand): this { E.binaryInPlace('mul', this, other); return this; }
  div_(other: Operand): this { E.binaryInPlace('div', this, other); return this; }
  pow_(exponent: Operand): this { E.binaryInPlace('pow', this, exponent); return this; }
  clamp_(min?: number | null, max?: number | null): this {
    if (min != null) E.binaryInPlace('maximum', this, min);
    if (max != null) E.binaryInPlace('minimum', this, max);
    return this;
  }
  sqrt_(): this { E.unaryInPlace('sqrt', this); return this; }
  exp_(): this { E.unaryInPlace('exp', this); return this; }
  neg_(): this { E.unaryInPlace('neg', this); return this; }
  copy_(src: Operand): this { E.copyInto(this, src); return this; }
  fill_(value: number): this { E.copyInto(this, value); return this; }
  zero_(): this { return this.fill_(0); }
  maskedFill_(mask: Tensor, value: number): this { E.maskedFillInPlace(this, mask, value); return this; }
  uniform_(low = 0, high = 1, generator?: Generator): this { fillUniform(this, low, high, generator); return this; }
  normal_(mean = 0, std = 1, generator?: Generator): this { fillNormal(this, mean, std, generator); return this; }

  // -------------------------------------------------------------------------------------------
  // Like-constructors

  zerosLike(): Tensor { return Tensor.zeros(this.shape, this.dtype); }
  onesLike(): Tensor { return Tensor.ones(this.shape, this.dtype); }
}
