/**
 * Indexing as PyTorch does it: `x[...]` reads (`index`), `x[...] = v` writes (`indexPut_`,
 * `indexPut`), gather/scatter along a dim, masked select, nonzero, one-hot.
 *
 * An index expression is a list of specs, one per indexed dim:
 *
 * | spec                              | PyTorch        | effect                                  |
 * |-----------------------------------|----------------|-----------------------------------------|
 * | `2`, `-1`                         | `x[2]`         | selects (removes the dim), a view       |
 * | `null`, `':'`                     | `x[:]`         | keeps the dim                           |
 * | `[1, 3]`, `[null, null, 2]`, `'1:3'`, `'::2'` | `x[1:3]`, `x[::2]` | slices, a view             |
 * | `'None'`                          | `x[None]`      | inserts a dim of size 1                 |
 * | `'...'`                           | `x[...]`       | as many `:` as needed                   |
 * | an integer Tensor                 | `x[idx]`       | advanced: picks, copies                 |
 * | a bool Tensor                     | `x[mask]`      | advanced: its true positions, copies    |
 *
 * Note that `null` is `:` (JavaScript has no `:`), not Python's `None`; write `'None'` for a new
 * axis. Advanced indices (tensors) broadcast together; the result's broadcast dims replace the
 * indexed dims when those are adjacent and go first otherwise (NumPy's rule, which PyTorch
 * follows; an integer is a basic select, as in PyTorch). Anything else is an error.
 *
 * Reads and writes of advanced indices lower to one gather / scatter over element offsets, so
 * they run on every backend; gradients flow to the input and to written values.
 */
import { attach } from '../autograd/node.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { isIntegral, type DType } from '../dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastShapes, contiguousStrides, normDim } from '../tensor/shape.js';
import { backend } from '../backend/index.js';
import type { View } from '../backend/index.js';
import { broadcastView, checkInPlace } from './elementwise.js';
import { checkInternalOverlap, readableWhileWriting } from './overlap.js';
import { select, slice, unsqueeze } from './shape.js';

export type SliceSpec = [number?, number?, number?] | [number | null | undefined, (number | null)?, (number | null)?];
export type IndexSpec = number | null | string | SliceSpec | Tensor;

// ---------------------------------------------------------------------------------------------
// Checks

/** Throws unless `idx` is an integer tensor; returns its values as a flat array. */
function integerValues(idx: Tensor, op: string, what = 'index'): Float64Array | Int32Array {
  if (!isIntegral(idx.dtype)) {
    throw new DTypeError(`${op}: ${what} must be an integer tensor (int64 or int32), got ${idx.dtype}`);
  }
  return idx.toFlat() as Float64Array | Int32Array;
}

/** Throws unless every value of the integer tensor `idx` is in [0, size) (or [−size, size) when negatives are allowed). */
function checkRange(values: ArrayLike<number>, size: number, op: string, dimText: string, negatives: boolean): void {
  const lo = negatives ? -size : 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v < size)) {
      throw new ArgumentError(`${op}: index ${v} at position ${i} is out of range for ${dimText} of size ${size}${negatives ? '' : ' (negative indices are not allowed here)'}`);
    }
  }
}

/** A contiguous copy outside the graph (the out-of-place forms write into it). */
function copyOf(x: Tensor): Tensor {
  const out = Tensor.uninitialized(x.shape, x.dtype);
  backend().copy(x.view_(), out.view_());
  return out;
}

/** A 1-D view over a tensor's whole storage: the target of offset-based gathers and scatters. */
function storageView(t: Tensor): View {
  return { data: t.storage.data, dtype: t.dtype, shape: [t.storage.data.length], strides: [1], offset: 0 };
}

/** A contiguous tensor as 1-D. */
function flat(t: Tensor): View {
  return { data: t.storage.data, dtype: t.dtype, shape: [t.numel()], strides: [1], offset: t.offset };
}

/** out.flat[i] = storage of `src`[offsets.flat[i]]; offsets and out contiguous. */
function gatherAt(src: Tensor, offsets: Tensor, out: Tensor): void {
  backend().gather(storageView(src), 0, flat(offsets), flat(out));
}

/** storage of `dst`[offsets.flat[i]] = (or +=) values.flat[i]; offsets and values contiguous, same size. */
function scatterAt(dst: Tensor, offsets: Tensor, values: Tensor, reduce: 'none' | 'add'): void {
  backend().scatter(storageView(dst), 0, flat(offsets), flat(values), reduce);
}

// ---------------------------------------------------------------------------------------------
// gather / scatter along one dim

function checkGatherShapes(x: Tensor, d: number, index: Tensor, op: string): void {
  if (index.ndim !== x.ndim) {
    throw new ShapeError(`${op}: index must have as many dims as the input: input ${fmtShape(x.shape)}, index ${fmtShape(index.shape)}`);
  }
  for (let k = 0; k < x.ndim; k++) {
    if (k !== d && index.shape[k] > x.shape[k]) {
      throw new ShapeError(`${op}: index ${fmtShape(index.shape)} is larger than the input ${fmtShape(x.shape)} in dim ${k} (only dim ${d} may differ)`);
    }
  }
}

/**
 * Values of `x` picked along `dim` by `index` (torch.gather): out[i][j][k] = x[i][index[i][j][k]][k]
 * for dim 1. index has x's rank and at most x's size on every other dim.
 *
 * Shape: x (…), index (…) → out (index's shape)
 */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normDim(dim, x.ndim, 'gather');
  checkGatherShapes(x, d, index, 'gather');
  checkRange(integerValues(index, 'gather'), x.shape[d], 'gather', `dim ${d}`, false);
  const out = Tensor.uninitialized(index.shape, x.dtype);
  backend().gather(x.view_(), d, index.view_(), out.view_());
  return attach(out, 'GatherBackward', [x], (g) => {
    const gx = Tensor.zeros(x.shape, g.dtype);
    backend().scatter(gx.view_(), d, index.view_(), g.view_(), 'add');
    return [gx];
  });
}

function scatterSource(src: Tensor | number, dtype: DType, index: Tensor, op: string): Tensor {
  if (typeof src === 'number') return Tensor.scalar(src, dtype).asStrided(index.shape, index.shape.map(() => 0), 0);
  if (src.ndim !== index.ndim || src.shape.some((s, k) => s < index.shape[k])) {
    throw new ShapeError(`${op}: src ${fmtShape(src.shape)} must have index's rank and at least its size in every dim (index ${fmtShape(index.shape)})`);
  }
  if (src.dtype !== dtype) throw new DTypeError(`${op}: src has dtype ${src.dtype}, the input ${dtype}`);
  return src;
}

function scatterRaw(dst: Tensor, d: number, index: Tensor, src: Tensor, reduce: 'none' | 'add', op: string): void {
  checkGatherShapes(dst, d, index, op);
  checkRange(integerValues(index, op), dst.shape[d], op, `dim ${d}`, false);
  backend().scatter(dst.view_(), d, index.view_(), src.view_(), reduce);
}

/** The part of `g` that src's elements were read into: g gathered at index, zero-padded to src's shape. */
function sourceGrad(g: Tensor, d: number, index: Tensor, srcShape: readonly number[]): Tensor {
  const picked = gather(g, d, index);
  if (picked.shape.join() === srcShape.join()) return picked;
  const full = Tensor.zeros(srcShape, g.dtype);
  let region = full;
  index.shape.forEach((s, k) => (region = region.narrow(k, 0, s)));
  region.copy_(picked);
  return full;
}

/**
 * A copy of `x` with `src`'s values written at `index` along `dim` (torch.scatter); `src` may be
 * a number. Repeated indices: the last write (in index order) wins.
 */
export function scatter(x: Tensor, dim: number, index: Tensor, src: Tensor | number): Tensor {
  const d = normDim(dim, x.ndim, 'scatter');
  const s = scatterSource(src, x.dtype, index, 'scatter');
  const out = copyOf(x);
  scatterRaw(out, d, index, s, 'none', 'scatter');
  return attach(out, 'ScatterBackward', [x, typeof src === 'number' ? null : s], (g) => [
    x.requiresGrad ? scatter(g, d, index, 0) : null,
    s.requiresGrad ? sourceGrad(g, d, index, s.shape) : null,
  ]);
}

/** A copy of `x` with `src`'s values added at `index` along `dim` (torch.scatter_add). */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  const d = normDim(dim, x.ndim, 'scatterAdd');
  const s = scatterSource(src, x.dtype, index, 'scatterAdd');
  const out = copyOf(x);
  scatterRaw(out, d, index, s, 'add', 'scatterAdd');
  return attach(out, 'ScatterAddBackward', [x, s], (g) => [
    x.requiresGrad ? g : null,
    s.requiresGrad ? sourceGrad(g, d, index, s.shape) : null,
  ]);
}

/** In-place scatter_ / scatterAdd_ (outside a graph, like every in-place op). */
export function scatterInPlace(x: Tensor, dim: number, index: Tensor, src: Tensor | number, reduce: 'none' | 'add'): Tensor {
  const op = reduce === 'add' ? 'scatterAdd_' : 'scatter_';
  checkInPlace(x, op);
  checkInternalOverlap(x, op);
  const d = normDim(dim, x.ndim, op);
  const s = readableWhileWriting(scatterSource(src, x.dtype, index, op), x, false);
  scatterRaw(x, d, index, s, reduce, op);
  x.storage.version++;
  return x;
}

// ---------------------------------------------------------------------------------------------
// Index expressions

type Advanced = { dim: number; index: Tensor };

/** Parses '1:3', '::2', ':' into [start, end, step] (undefined for omitted parts). */
function parseSliceString(spec: string): [number | undefined, number | undefined, number | undefined] {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw new ArgumentError(`index: ${JSON.stringify(spec)} is not a slice ('start:end:step')`);
  return parts.map((p, i) => {
    const t = p.trim();
    if (t === '') return undefined;
    const v = Number(t);
    if (!Number.isInteger(v)) throw new ArgumentError(`index: slice ${JSON.stringify(spec)} has a non-integer part ${JSON.stringify(t)} at position ${i}`);
    return v;
  }) as [number | undefined, number | undefined, number | undefined];
}

/** How many input dims a spec consumes (−1 for the ellipsis). */
function consumes(spec: IndexSpec): number {
  if (spec instanceof Tensor) return spec.dtype === 'bool' ? spec.ndim : 1;
  if (spec === '...') return -1;
  if (spec === 'None') return 0;
  return 1;
}

function describe(spec: unknown): string {
  if (spec instanceof Tensor) return `a ${spec.dtype} tensor of shape ${fmtShape(spec.shape)}`;
  try {
    return JSON.stringify(spec) ?? String(spec);
  } catch {
    return String(spec);
  }
}

/**
 * Applies the basic specs (selects, slices, new axes, ellipsis) as views and collects the
 * advanced ones (tensors) against the dims of the resulting view.
 */
function resolve(x: Tensor, specs: readonly IndexSpec[], op: string): { view: Tensor; advanced: Advanced[] } {
  let ellipses = 0;
  let used = 0;
  for (const spec of specs) {
    const isValid = spec === null || typeof spec === 'number' || typeof spec === 'string' || Array.isArray(spec) || spec instanceof Tensor;
    if (!isValid) throw new ArgumentError(`${op}: unsupported index ${describe(spec)}; use a number, null or ':', a slice [start, end, step] or 'start:end:step', 'None', '...', or an integer/bool Tensor`);
    if (typeof spec === 'string' && spec !== '...' && spec !== 'None' && !spec.includes(':')) {
      throw new ArgumentError(`${op}: unsupported index string ${JSON.stringify(spec)}; use ':', 'start:end:step', 'None' or '...'`);
    }
    const c = consumes(spec);
    if (c < 0) ellipses++;
    else used += c;
  }
  if (ellipses > 1) throw new ArgumentError(`${op}: an index can only have a single ellipsis ('...')`);
  if (used > x.ndim) throw new ShapeError(`${op}: too many indices for a tensor of rank ${x.ndim} (shape ${fmtShape(x.shape)}): the index uses ${used} dims`);
  let v = x;
  let d = 0;
  const advanced: Advanced[] = [];
  for (const spec of specs) {
    if (spec === '...') {
      d += x.ndim - used;
    } else if (spec === 'None') {
      v = unsqueeze(v, d++);
    } else if (typeof spec === 'number') {
      if (!Number.isInteger(spec)) throw new ArgumentError(`${op}: index ${spec} is not an integer`);
      v = select(v, d, spec);
    } else if (spec === null || spec === ':') {
      d++;
    } else if (typeof spec === 'string') {
      const [s, e, st] = parseSliceString(spec);
      v = sliceSpec(v, d++, s, e, st, op);
    } else if (Array.isArray(spec)) {
      if (spec.length > 3) throw new ArgumentError(`${op}: a slice is [start, end, step], got ${describe(spec)}`);
      v = sliceSpec(v, d++, spec[0] ?? undefined, spec[1] ?? undefined, spec[2] ?? undefined, op);
    } else if (spec.dtype === 'bool') {
      const k = spec.ndim;
      if (k === 0) throw new ArgumentError(`${op}: a 0-dim bool index is not supported; use where or maskedFill`);
      const dims = v.shape.slice(d, d + k);
      if (dims.join() !== spec.shape.join()) {
        throw new ShapeError(`${op}: the shape of the mask ${fmtShape(spec.shape)} does not match the shape ${fmtShape(dims)} of the indexed tensor at dims ${d}…${d + k - 1} (tensor shape ${fmtShape(v.shape)})`);
      }
      const nz = nonzero(spec); // (nnz, k)
      for (let j = 0; j < k; j++) advanced.push({ dim: d + j, index: select(nz, 1, j) });
      d += k;
    } else {
      if (!isIntegral(spec.dtype)) {
        throw new DTypeError(`${op}: tensors used as indices must be integer (int64, int32) or bool, got ${spec.dtype}`);
      }
      advanced.push({ dim: d++, index: spec });
    }
  }
  return { view: v, advanced };
}

function sliceSpec(v: Tensor, d: number, start: number | undefined, end: number | undefined, step: number | undefined, op: string): Tensor {
  for (const [name, val] of [['start', start], ['end', end], ['step', step]] as const) {
    if (val !== undefined && !Number.isInteger(val)) throw new ArgumentError(`${op}: slice ${name} ${val} is not an integer`);
  }
  if (step !== undefined && step <= 0) throw new ArgumentError(`${op}: slice step must be positive (as in PyTorch), got ${step}`);
  return slice(v, d, start ?? 0, end, step ?? 1);
}

/**
 * Where an advanced index lands: the result shape and, for every result element, its offset in
 * a tensor of `shape` with `strides` starting at `offset` (an int64 tensor of the result shape).
 */
function plan(shape: readonly number[], advanced: Advanced[], op: string): {
  outShape: number[];
  offsets: (strides: readonly number[], offset: number) => Tensor;
} {
  const dims = advanced.map((a) => a.dim);
  let bshape: number[] = [];
  for (const a of advanced) bshape = broadcastShapes(bshape, a.index.shape, `${op} (index tensors)`);
  const idx = advanced.map((a) => {
    const vals = integerValues(a.index, op);
    checkRange(vals, shape[a.dim], op, `dim ${a.dim}`, true);
    const size = shape[a.dim];
    const norm = Float64Array.from(vals, (v) => (v < 0 ? v + size : v));
    return Tensor.fromTypedArray(norm, a.index.shape, 'int64');
  });
  const rest = shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const adjacent = dims.every((dd, i) => i === 0 || dd === dims[i - 1] + 1);
  const sortedDims = [...dims].sort((a, b) => a - b);
  const before = adjacent ? rest.filter((r) => r < sortedDims[0]) : [];
  const after = adjacent ? rest.filter((r) => r > sortedDims[0]) : rest;
  const outShape = [...before.map((r) => shape[r]), ...bshape, ...after.map((r) => shape[r])];
  const nb = before.length, nB = bshape.length;
  const offsets = (strides: readonly number[], offset: number): Tensor => {
    // Σ idx_a·stride_a over the broadcast dims, placed at positions nb … nb+nB−1 of the result.
    let off = Tensor.full(bshape, offset, 'int64');
    advanced.forEach((a, i) => (off = off.add(idx[i].mul(strides[a.dim]))));
    off = off.reshape([...before.map(() => 1), ...bshape, ...after.map(() => 1)]);
    const place = (r: number, pos: number): void => {
      const n = shape[r];
      const step = Tensor.arange(n, 'int64').mul(strides[r]);
      off = off.add(step.reshape(outShape.map((_, k) => (k === pos ? n : 1))));
    };
    before.forEach((r, i) => place(r, i));
    after.forEach((r, i) => place(r, nb + nB + i));
    return off.expand(outShape).contiguous();
  };
  return { outShape, offsets };
}

/**
 * `x[specs…]` as PyTorch indexes (see the table at the top of this file). Basic specs give a
 * view; tensor specs give a copy, with a gradient back to `x`.
 *
 * Example: `x.index(':', idx)` is `x[:, idx]`; `x.index(mask)` is `x[mask]` (1-D when mask has x's shape).
 */
export function index(x: Tensor, ...specs: IndexSpec[]): Tensor {
  const { view: v, advanced } = resolve(x, specs, 'index');
  if (advanced.length === 0) return v;
  const { outShape, offsets } = plan(v.shape, advanced, 'index');
  const out = Tensor.uninitialized(outShape, v.dtype);
  gatherAt(v, offsets(v.strides, v.offset), out);
  return attach(out, 'IndexBackward', [v], (g) => {
    const gv = Tensor.zeros(v.shape, g.dtype);
    scatterAt(gv, offsets(contiguousStrides(v.shape), 0), g.contiguous(), 'add');
    return [gv];
  });
}

/** Writes `values` (broadcast) into view `v` at `advanced` in place; `accumulate` adds instead. */
function putInto(v: Tensor, advanced: Advanced[], values: Tensor, accumulate: boolean, op: string): void {
  checkInternalOverlap(v, op);
  if (advanced.length === 0) {
    const src = readableWhileWriting(values, v);
    const shape = broadcastShapes(v.shape, src.shape, op);
    if (shape.join() !== v.shape.join()) throw new ShapeError(`${op}: values of shape ${fmtShape(values.shape)} do not broadcast to the indexed shape ${fmtShape(v.shape)}`);
    if (accumulate) backend().binary('add', v.view_(), broadcastView(src, v.shape), v.view_());
    else backend().copy(broadcastView(src, v.shape), v.view_());
    return;
  }
  const { outShape, offsets } = plan(v.shape, advanced, op);
  const shape = broadcastShapes(outShape, values.shape, op);
  if (shape.join() !== outShape.join()) throw new ShapeError(`${op}: values of shape ${fmtShape(values.shape)} do not broadcast to the indexed shape ${fmtShape(outShape)}`);
  // A contiguous copy of the values at the indexed shape (also guards against values that alias v).
  const src = readableWhileWriting(values.expand(outShape).contiguous(), v, false);
  scatterAt(v, offsets(v.strides, v.offset), src, accumulate ? 'add' : 'none');
}

function valuesFor(values: Tensor | number, dtype: DType, op: string): Tensor {
  if (typeof values === 'number') return Tensor.scalar(values, dtype);
  if (values.dtype !== dtype) throw new DTypeError(`${op}: values have dtype ${values.dtype}, the tensor ${dtype}; convert them with .to('${dtype}')`);
  return values;
}

/**
 * `x[specs…] = values` in place (torch.Tensor.index_put_, and Python's item assignment);
 * `accumulate: true` adds (`x[specs…] += values`, summing repeated indices). `values` broadcasts
 * to the indexed shape. Like every in-place op, outside a graph (or on tensors that do not
 * require grad); `indexPut` is the out-of-place form with gradients.
 *
 * Example: `x.indexPut_([mask], 0)` is `x[mask] = 0`; `x.indexPut_([':', idx], v)` is `x[:, idx] = v`.
 */
export function indexPutInPlace(x: Tensor, specs: readonly IndexSpec[], values: Tensor | number, accumulate = false): Tensor {
  checkInPlace(x, 'indexPut_');
  if (!Array.isArray(specs)) throw new ArgumentError(`indexPut_: indices must be an array of index specs, e.g. [mask] or [':', idx]`);
  const { view: v, advanced } = resolve(x, specs, 'indexPut_');
  putInto(v, advanced, valuesFor(values, x.dtype, 'indexPut_'), accumulate, 'indexPut_');
  x.storage.version++;
  return x;
}

/** A copy of `x` with `values` written (or added) at `specs`; gradients to x and values. */
export function indexPut(x: Tensor, specs: readonly IndexSpec[], values: Tensor | number, accumulate = false): Tensor {
  if (!Array.isArray(specs)) throw new ArgumentError(`indexPut: indices must be an array of index specs, e.g. [mask] or [':', idx]`);
  const val = valuesFor(values, x.dtype, 'indexPut');
  const out = copyOf(x);
  const { view: v, advanced } = resolve(out, specs, 'indexPut');
  putInto(v, advanced, val, accumulate, 'indexPut');
  return attach(out, 'IndexPutBackward', [x, typeof values === 'number' ? null : val], (g) => [
    x.requiresGrad ? (accumulate ? g : indexPut(g, specs, 0)) : null,
    val.requiresGrad ? index(g, ...specs).sumToSize(val.shape) : null,
  ]);
}

/** The elements of `x` where `mask` is true, as 1-D (torch.masked_select); both broadcast. */
export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  if (mask.dtype !== 'bool') throw new DTypeError(`maskedSelect: mask must be a bool tensor, got ${mask.dtype}`);
  const shape = broadcastShapes(x.shape, mask.shape, 'maskedSelect');
  return index(x.expand(shape), mask.expand(shape).contiguous());
}

/** Indices of the non-zero elements, (n, ndim) int64 in row-major order (torch.nonzero). */
export function nonzero(x: Tensor): Tensor {
  const flat = x.toFlat();
  const strides = contiguousStrides(x.shape);
  const hits: number[] = [];
  for (let i = 0; i < flat.length; i++) if (flat[i] !== 0) hits.push(i);
  const out = Tensor.empty([hits.length, x.ndim], 'int64');
  const od = out.storage.data;
  hits.forEach((lin, r) => {
    let rem = lin;
    for (let k = 0; k < x.ndim; k++) {
      od[r * x.ndim + k] = Math.floor(rem / strides[k]);
      rem %= strides[k];
    }
  });
  return out;
}

/**
 * One-hot encoding of integer classes (torch.nn.functional.one_hot): int64 (…, numClasses);
 * numClasses −1 means max + 1.
 */
export function oneHot(x: Tensor, numClasses = -1): Tensor {
  const vals = integerValues(x, 'oneHot', 'input');
  let max = -1;
  for (let i = 0; i < vals.length; i++) max = Math.max(max, vals[i]);
  const C = numClasses === -1 ? max + 1 : numClasses;
  if (!Number.isInteger(C) || C < 0) throw new ArgumentError(`oneHot: numClasses must be −1 or a non-negative integer, got ${numClasses}`);
  checkRange(vals, C, 'oneHot', 'the number of classes', false);
  const out = Tensor.zeros([...x.shape, C], 'int64');
  for (let i = 0; i < vals.length; i++) out.storage.data[i * C + vals[i]] = 1;
  return out;
}

