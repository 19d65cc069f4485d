/**
 * Reductions: sum, mean, max, min, argmax, argmin, var, std, logsumexp, with PyTorch's dim and
 * keepdim arguments. A `dim` of undefined reduces every dim.
 */
import { attach } from '../autograd/node.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { normDim } from '../tensor/shape.js';
import { backend } from '../backend/index.js';
import type { ReduceOp } from '../backend/index.js';
import { isFloating, type DType } from '../dtype.js';
import { expand, reshape, squeeze } from './shape.js';

export type Dims = number | readonly number[] | undefined;

function resolveDims(x: Tensor, dim: Dims, op: string): number[] {
  if (dim === undefined) return x.shape.map((_, i) => i);
  const list = typeof dim === 'number' ? [dim] : dim;
  const dims = list.map((d) => normDim(d, x.ndim, op));
  if (new Set(dims).size !== dims.length) throw new ShapeError(`${op}: dim ${fmtShape(list)} appears more than once`);
  return dims.sort((a, b) => a - b);
}

function keptShape(x: Tensor, dims: number[], keepdim: boolean): number[] {
  return x.shape.flatMap((s, i) => (dims.includes(i) ? (keepdim ? [1] : []) : [s]));
}

/** Reshapes a reduced gradient back so it broadcasts against the input (re-inserting size-1 dims). */
function unreduce(g: Tensor, x: Tensor, dims: number[]): Tensor {
  return expand(reshape(g, keptShape(x, dims, true)), x.shape);
}

function rawReduce(op: ReduceOp, x: Tensor, dims: number[], keepdim: boolean, dtype: DType): Tensor {
  const out = Tensor.uninitialized(keptShape(x, dims, false), dtype);
  backend().reduce(op, x.view_(), dims, out.view_());
  return keepdim ? reshape(out, keptShape(x, dims, true)) : out;
}

export function sum(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = resolveDims(x, dim, 'sum');
  // Like PyTorch, integer and bool sums are int64.
  const dtype: DType = isFloating(x.dtype) ? x.dtype : 'int64';
  const out = rawReduce('sum', x, dims, keepdim, dtype);
  return attach(out, 'SumBackward', [x], (g) => [unreduce(g, x, dims)]);
}

export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  if (!isFloating(x.dtype)) throw new ArgumentError(`mean: input dtype should be floating point, got ${x.dtype}`);
  const dims = resolveDims(x, dim, 'mean');
  const count = dims.reduce((p, d) => p * x.shape[d], 1);
  return sum(x, dims, keepdim).div(count);
}

/**
 * Maximum values over dims (torch.amax; torch.max(dim) returns these values). The gradient is
 * shared evenly among tied maxima, as amax does.
 */
export function max(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return extremum('max', x, dim, keepdim);
}

export function min(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return extremum('min', x, dim, keepdim);
}

function extremum(op: 'max' | 'min', x: Tensor, dim: Dims, keepdim: boolean): Tensor {
  const dims = resolveDims(x, dim, op);
  for (const d of dims) {
    if (x.shape[d] === 0) throw new ShapeError(`${op}: cannot reduce over dim ${d} of size 0 (shape ${fmtShape(x.shape)})`);
  }
  const out = rawReduce(op, x, dims, keepdim, x.dtype);
  return attach(out, op === 'max' ? 'MaxBackward' : 'MinBackward', [x], (g) => {
    const m = unreduce(out, x, dims);
    const mask = x.eq(m).to(g.dtype);
    const count = sum(mask, dims, true);
    return [unreduce(g, x, dims).mul(mask).div(count)];
  }, [x, out]);
}

/** Index of the maximum along `dim` (first one on ties); of the flattened tensor when dim is undefined. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum('argmax', x, dim, keepdim);
}

export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtremum('argmin', x, dim, keepdim);
}

function argExtremum(op: 'argmax' | 'argmin', x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  if (dim === undefined) {
    if (x.numel() === 0) throw new ShapeError(`${op}: cannot take ${op} of an empty tensor`);
    const flat = rawReduce(op, reshape(x, [-1]), [0], false, 'int64');
    return keepdim ? reshape(flat, x.shape.map(() => 1)) : flat;
  }
  const d = normDim(dim, x.ndim, op);
  if (x.shape[d] === 0) throw new ShapeError(`${op}: cannot reduce over dim ${dim} of size 0 (shape ${fmtShape(x.shape)})`);
  return rawReduce(op, x, [d], keepdim, 'int64');
}

export interface VarOptions {
  /** Bessel's correction: divide by N − correction. PyTorch's default is 1 (unbiased). */
  correction?: number;
  keepdim?: boolean;
}

/** Variance over dims: Σ(x − mean)² / (N − correction). */
export function variance(x: Tensor, dim?: Dims, opts: VarOptions = {}): Tensor {
  const { correction = 1, keepdim = false } = opts;
  const dims = resolveDims(x, dim, 'var');
  const n = dims.reduce((p, d) => p * x.shape[d], 1);
  const centered = x.sub(mean(x, dims, true));
  return sum(centered.mul(centered), dims, keepdim).div(Math.max(n - correction, 0));
}

export function std(x: Tensor, dim?: Dims, opts: VarOptions = {}): Tensor {
  return variance(x, dim, opts).sqrt();
}

/** log Σ exp(x) over dims, stable: m + log Σ exp(x − m). */
export function logsumexp(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = resolveDims(x, dim, 'logsumexp');
  const m = max(x, dims, true).detach();
  // A row of all −inf has m = −inf; use 0 there so the result is −inf, not NaN.
  const safe = m.maskedFill(m.isinf(), 0);
  const out = x.sub(safe).exp().sum(dims, true).log().add(safe);
  return keepdim ? out : squeezeDims(out, dims);
}

function squeezeDims(x: Tensor, dims: number[]): Tensor {
  let out = x;
  for (const d of [...dims].sort((a, b) => b - a)) out = squeeze(out, d);
  return out;
}

/**
 * Sums `g` down to `shape`, undoing a broadcast: sums the extra leading dims and every dim where
 * `shape` has 1 and g does not.
 */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  const s = dims.length > 0 ? sum(g, dims, true) : g;
  return reshape(s, shape);
}
