/**
 * Tensor: a dtype, a shape, strides and an offset into shared Storage, plus autograd state.
 *
 * This file is the floor: the data structure, construction, metadata and conversion to JS
 * values. The PyTorch-named methods (`add`, `view`, `sum`, `matmul`, …) are installed onto the
 * class by ops/tensor-methods.ts, next to the ops and gradient rules they call, and `backward`
 * by autograd/tensor-methods.ts — the way tinygrad composes its Tensor from mixins — so that
 * this layer imports nothing above it. Import from 'qkv' (or ops/tensor-methods.js) to get the
 * complete class.
 */
import type { View } from '../backend/backend.js';
import { backend } from '../backend/index.js';
import { isFloating, type DType, type TypedArray } from '../dtype.js';
import { AllocationError, ArgumentError, AutogradError, fmtShape } from '../errors.js';
import { contiguousStrides, isContiguousView, normDim, numel } from './shape.js';
import { Storage } from './storage.js';
import { allocateData, trackStorage } from './allocator.js';
import { formatTensor } from './format.js';

/**
 * What a tensor knows of the graph node that produced it. autograd/node.ts implements it; the
 * tensor layer only needs its name (printing, error messages).
 */
export interface GradFn {
  readonly name: string;
}

export type NestedArray = number | boolean | NestedArray[];

export class Tensor {
  /** Whether backward computes a gradient for this tensor. */
  requiresGrad = false;
  /** Accumulated gradient (leaves, and non-leaves after retainGrad()). */
  grad: Tensor | null = null;
  /** The node that produced this tensor, or null for a leaf. */
  gradFn: GradFn | null = null;

  constructor(
    readonly storage: Storage,
    readonly dtype: DType,
    readonly shape: number[],
    readonly strides: number[],
    readonly offset: number,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Construction helpers used by core (users call tensor(), zeros(), … from creation.ts)

  /** A new contiguous tensor of zeros; `op` names the caller in a size error. */
  static empty(shape: readonly number[], dtype: DType = 'float32', op = 'empty'): Tensor {
    const storage = new Storage(allocateData(dtype, shape, op), true);
    trackStorage(storage, dtype);
    return new Tensor(storage, dtype, shape.slice(), contiguousStrides(shape), 0);
  }

  /**
   * A new contiguous tensor with unspecified contents, for op outputs that a kernel overwrites
   * completely (skips zeroing the memory). Never hand one out before every element is written.
   */
  static uninitialized(shape: readonly number[], dtype: DType = 'float32', op = 'empty'): Tensor {
    const storage = new Storage(allocateData(dtype, shape, op, true), true);
    trackStorage(storage, dtype);
    return new Tensor(storage, dtype, shape.slice(), contiguousStrides(shape), 0);
  }

  static zeros(shape: readonly number[], dtype: DType = 'float32', op = 'zeros'): Tensor {
    return Tensor.empty(shape, dtype, op);
  }

  static ones(shape: readonly number[], dtype: DType = 'float32', op = 'ones'): Tensor {
    const t = Tensor.empty(shape, dtype, op);
    t.storage.data.fill(1);
    return t;
  }

  static full(shape: readonly number[], value: number, dtype: DType = 'float32', op = 'full'): Tensor {
    const t = Tensor.empty(shape, dtype, op);
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
    const t = Tensor.empty([n], dtype, 'arange');
    for (let i = 0; i < n; i++) t.storage.data[i] = i;
    return t;
  }

  /** A raw view onto the same storage, without autograd (ops/ wrap it with a gradient rule). */
  asStrided(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    return new Tensor(this.storage, this.dtype, shape.slice(), strides.slice(), offset);
  }

  /** What a kernel receives: storage, dtype, shape, strides, offset. */
  view_(): View {
    if (this.storage.released) this.released();
    return { data: this.storage.data, dtype: this.dtype, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  /** Throws the use-after-release error (see tidy in allocator.ts). */
  private released(): never {
    throw new AllocationError(
      `a tensor of shape ${fmtShape(this.shape)} (${this.dtype}) is used after its memory was released at the end of a tidy() scope; return it from the scope, or keep(t) it, to use it afterwards`,
    );
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

  // -------------------------------------------------------------------------------------------
  // Conversion

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.storage.released) this.released();
    if (this.numel() !== 1) {
      throw new ArgumentError(`item: a tensor with ${this.numel()} elements (shape ${fmtShape(this.shape)}) cannot be converted to a number`);
    }
    return this.storage.data[this.offset];
  }

  /** Nested JS arrays (a number for a 0-D tensor). */
  toArray(): NestedArray {
    const flat = this.toFlat();
    if (this.ndim === 0) return flat[0];
    // Group from the innermost dim outwards (no recursion, so any rank works).
    let level: NestedArray[] = Array.from(flat as ArrayLike<number>);
    for (let d = this.ndim - 1; d > 0; d--) {
      const n = this.shape[d];
      const count = this.shape.slice(0, d).reduce((p, s) => p * s, 1);
      const next: NestedArray[] = new Array(count);
      for (let i = 0; i < count; i++) next[i] = level.slice(i * n, (i + 1) * n);
      level = next;
    }
    return level;
  }

  /** A contiguous copy of the elements in row-major order, as a typed array of this dtype. */
  toFlat(): TypedArray {
    const out = Tensor.uninitialized(this.shape, this.dtype);
    backend().copy(this.view_(), out.view_());
    return out.storage.data;
  }

  toString(): string {
    return formatTensor(this);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // -------------------------------------------------------------------------------------------
  // Like-constructors

  zerosLike(): Tensor { return Tensor.zeros(this.shape, this.dtype); }
  onesLike(): Tensor { return Tensor.ones(this.shape, this.dtype); }
}
