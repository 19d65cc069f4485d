/**
 * View and shape ops: each returns a tensor sharing storage where PyTorch would (view, permute,
 * transpose, expand, narrow, select, squeeze, unsqueeze, split, chunk) and copies where it must
 * (reshape of a non-viewable layout, contiguous, cat, stack). Each carries its gradient rule.
 */
import { attach } from '../autograd/node.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastShapes, inferShape, normDim, numel, viewStrides } from '../tensor/shape.js';
import { backend } from '../backend/index.js';

export function view(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape(shape, x.numel(), 'view', x.shape);
  const strides = viewStrides(x.shape, x.strides, target);
  if (strides === null) {
    throw new ShapeError(
      `view: cannot view a tensor of shape ${fmtShape(x.shape)} and strides ${fmtShape(x.strides)} as ${fmtShape(target)}: at least one dimension spans across two contiguous subspaces. Use .reshape(${fmtShape(shape)}) instead (it copies when it must), or call .contiguous() first`,
    );
  }
  const out = x.asStrided(target, strides, x.offset);
  return attach(out, 'ViewBackward', [x], (g) => [reshape(g, x.shape)]);
}

/** A view when the layout allows (see viewStrides), otherwise a contiguous copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape(shape, x.numel(), 'reshape', x.shape);
  if (viewStrides(x.shape, x.strides, target) !== null) return view(x, target);
  return view(contiguous(x), target);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim(startDim, x.ndim, 'flatten'), e = normDim(endDim, x.ndim, 'flatten');
  if (s > e) throw new ShapeError(`flatten: startDim ${startDim} comes after endDim ${endDim} for shape ${fmtShape(x.shape)}`);
  const mid = x.shape.slice(s, e + 1).reduce((p, v) => p * v, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}

export function unflatten(x: Tensor, dim: number, sizes: readonly number[]): Tensor {
  const d = normDim(dim, x.ndim, 'unflatten');
  const resolved = inferShape(sizes, x.shape[d], 'unflatten', [x.shape[d]]);
  return view(x, [...x.shape.slice(0, d), ...resolved, ...x.shape.slice(d + 1)]);
}

export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous()) return x;
  return clone(x);
}

/** A contiguous copy that keeps the graph (torch.clone). */
export function clone(x: Tensor): Tensor {
  const out = Tensor.uninitialized(x.shape, x.dtype);
  backend().copy(x.view_(), out.view_());
  return attach(out, 'CloneBackward', [x], (g) => [g]);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) {
    throw new ShapeError(`permute: got ${dims.length} dims ${fmtShape(dims)} for a tensor of rank ${x.ndim} (shape ${fmtShape(x.shape)})`);
  }
  const perm = dims.map((d) => normDim(d, x.ndim, 'permute'));
  if (new Set(perm).size !== perm.length) throw new ShapeError(`permute: repeated dim in ${fmtShape(dims)}`);
  const out = x.asStrided(perm.map((d) => x.shape[d]), perm.map((d) => x.strides[d]), x.offset);
  const inverse = new Array<number>(perm.length);
  perm.forEach((d, i) => (inverse[d] = i));
  return attach(out, 'PermuteBackward', [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  if (x.ndim === 0) return x;
  const a = normDim(dim0, x.ndim, 'transpose'), b = normDim(dim1, x.ndim, 'transpose');
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** transpose(0, 1) for a 2-D tensor; a ≤1-D tensor is returned as is (torch.Tensor.t). */
export function t(x: Tensor): Tensor {
  if (x.ndim > 2) throw new ShapeError(`t: expects a tensor with ≤ 2 dims, got shape ${fmtShape(x.shape)}; use transpose(dim0, dim1)`);
  return x.ndim < 2 ? x : transpose(x, 0, 1);
}

/** Broadcasts size-1 dims (and new leading dims) to `shape` without copying; -1 keeps a size. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.ndim) {
    throw new ShapeError(`expand: the number of sizes ${fmtShape(shape)} must be at least the rank of the tensor (shape ${fmtShape(x.shape)})`);
  }
  const lead = shape.length - x.ndim;
  const outShape: number[] = [];
  const outStrides: number[] = [];
  shape.forEach((s, i) => {
    const d = i - lead;
    const cur = d >= 0 ? x.shape[d] : 1;
    const target = s === -1 ? cur : s;
    if (d < 0 && s === -1) throw new ShapeError(`expand: -1 is not allowed for the new leading dim ${i} in ${fmtShape(shape)}`);
    if (cur !== target && cur !== 1) {
      throw new ShapeError(`expand: the size of dim ${i} (${target}) must match the existing size (${cur}) at a non-singleton dim; tensor shape ${fmtShape(x.shape)}, target ${fmtShape(shape)}`);
    }
    outShape.push(target);
    outStrides.push(d >= 0 && cur === target ? x.strides[d] : 0);
  });
  if (outShape.join() === x.shape.join()) return x;
  const out = x.asStrided(outShape, outStrides, x.offset);
  return attach(out, 'ExpandBackward', [x], (g) => [g.sumToSize(x.shape)]);
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  return expand(x, broadcastShapes(x.shape, shape, 'broadcastTo'));
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim(dim, x.ndim, 'unsqueeze', true);
  const shape = x.shape.slice();
  const strides = x.strides.slice();
  shape.splice(d, 0, 1);
  strides.splice(d, 0, d < x.ndim ? x.shape[d] * x.strides[d] : 1);
  const out = x.asStrided(shape, strides, x.offset);
  return attach(out, 'UnsqueezeBackward', [x], (g) => [squeeze(g, d)]);
}

/** Removes size-1 dims: all of them, or only `dim` (a no-op when that dim is not 1, like PyTorch). */
export function squeeze(x: Tensor, dim?: number): Tensor {
  let keep: number[];
  if (dim === undefined) {
    keep = x.shape.map((_, i) => i).filter((i) => x.shape[i] !== 1);
  } else {
    const d = normDim(dim, x.ndim, 'squeeze');
    keep = x.shape.map((_, i) => i).filter((i) => i !== d || x.shape[i] !== 1);
  }
  if (keep.length === x.ndim) return x;
  const out = x.asStrided(keep.map((i) => x.shape[i]), keep.map((i) => x.strides[i]), x.offset);
  return attach(out, 'SqueezeBackward', [x], (g) => [reshape(g, x.shape)]);
}

/** Elements start … start+length-1 of `dim`, as a view. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim(dim, x.ndim, 'narrow');
  const size = x.shape[d];
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > size) {
    throw new ShapeError(`narrow: start ${start} and length ${length} are out of range for dim ${dim} of size ${size} (shape ${fmtShape(x.shape)})`);
  }
  return slice(x, d, s, s + length, 1);
}

/**
 * Python's x[..., start:end:step, ...] along `dim`, as a view. Negative start/end count from
 * the end and are clamped like Python slices; step must be positive (as in PyTorch).
 */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  const d = normDim(dim, x.ndim, 'slice');
  const size = x.shape[d];
  if (!Number.isInteger(step) || step <= 0) throw new ArgumentError(`slice: step must be a positive integer, got ${step}`);
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  const s = clamp(start);
  const e = Math.max(clamp(end ?? size), s);
  const len = Math.ceil((e - s) / step);
  const shape = x.shape.slice();
  const strides = x.strides.slice();
  shape[d] = len;
  strides[d] = x.strides[d] * step;
  const out = x.asStrided(shape, strides, x.offset + s * x.strides[d]);
  if (step !== 1) {
    return attach(out, 'SliceBackward', [x], (g) => {
      const gz = Tensor.zeros(x.shape, g.dtype);
      slice(gz, d, s, e, step).copy_(g);
      return [gz];
    });
  }
  return attach(out, 'SliceBackward', [x], (g) => {
    // g where the slice was, zeros elsewhere: write each region once instead of zero-filling
    // everything first (the q, k, v chunks of a packed projection take this path every step).
    const gx = Tensor.uninitialized(x.shape, g.dtype);
    if (s > 0) slice(gx, d, 0, s).fill_(0);
    if (e < size) slice(gx, d, e, size).fill_(0);
    slice(gx, d, s, e).copy_(g);
    return [gx];
  }, [], (buffer, g) => slice(buffer, d, s, e).add_(g));
}

/** Removes `dim` by taking index `index` of it, as a view (x[:, i] in PyTorch). */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normDim(dim, x.ndim, 'select');
  const size = x.shape[d];
  const i = index < 0 ? index + size : index;
  if (!Number.isInteger(i) || i < 0 || i >= size) {
    throw new ShapeError(`select: index ${index} is out of range for dim ${dim} of size ${size} (shape ${fmtShape(x.shape)})`);
  }
  return squeeze(slice(x, d, i, i + 1), d);
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('cat: expected a non-empty list of tensors');
  const first = tensors[0];
  // Like PyTorch, 1-D empty tensors are skipped.
  const parts = tensors.filter((t) => !(t.ndim === 1 && t.shape[0] === 0));
  if (parts.length === 0) return first.clone();
  const ref = parts[0];
  const d = normDim(dim, ref.ndim, 'cat');
  for (const [i, p] of parts.entries()) {
    if (p.ndim !== ref.ndim || p.shape.some((s, k) => k !== d && s !== ref.shape[k])) {
      throw new ShapeError(`cat: tensor ${i} has shape ${fmtShape(p.shape)}; expected ${fmtShape(ref.shape)} except in dim ${d}`);
    }
    if (p.dtype !== ref.dtype) throw new ShapeError(`cat: tensor ${i} has dtype ${p.dtype}, tensor 0 has ${ref.dtype}`);
  }
  const shape = ref.shape.slice();
  shape[d] = parts.reduce((s, p) => s + p.shape[d], 0);
  const out = Tensor.uninitialized(shape, ref.dtype);
  let at = 0;
  const starts: number[] = [];
  for (const p of parts) {
    starts.push(at);
    backend().copy(p.view_(), out.asStrided(p.shape, out.strides, out.offset + at * out.strides[d]).view_());
    at += p.shape[d];
  }
  return attach(out, 'CatBackward', parts, (g) => parts.map((p, i) => narrow(g, d, starts[i], p.shape[d])));
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('stack: expected a non-empty list of tensors');
  const ref = tensors[0];
  for (const [i, p] of tensors.entries()) {
    if (p.shape.join() !== ref.shape.join()) {
      throw new ShapeError(`stack: all tensors must have the same shape; tensor 0 is ${fmtShape(ref.shape)}, tensor ${i} is ${fmtShape(p.shape)}`);
    }
  }
  const d = normDim(dim, ref.ndim, 'stack', true);
  return cat(tensors.map((p) => unsqueeze(p, d)), d);
}

/** Splits into pieces of `size` along dim (the last may be smaller), or into the given sizes. */
export function split(x: Tensor, sizeOrSizes: number | readonly number[], dim = 0): Tensor[] {
  const d = normDim(dim, x.ndim, 'split');
  const n = x.shape[d];
  let sizes: number[];
  if (typeof sizeOrSizes === 'number') {
    if (!Number.isInteger(sizeOrSizes) || sizeOrSizes <= 0) throw new ArgumentError(`split: split size must be a positive integer, got ${sizeOrSizes}`);
    sizes = [];
    for (let at = 0; at < n; at += sizeOrSizes) sizes.push(Math.min(sizeOrSizes, n - at));
    if (sizes.length === 0) sizes = [0];
  } else {
    sizes = sizeOrSizes.slice();
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n || sizes.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new ShapeError(`split: sizes ${fmtShape(sizes)} must be non-negative and sum to ${n}, the size of dim ${dim} (shape ${fmtShape(x.shape)})`);
    }
  }
  let at = 0;
  return sizes.map((s) => {
    const piece = narrow(x, d, at, s);
    at += s;
    return piece;
  });
}

/** Splits into `chunks` pieces of size ceil(n / chunks) (fewer if n is small), like torch.chunk. */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) throw new ArgumentError(`chunk: chunks must be a positive integer, got ${chunks}`);
  const d = normDim(dim, x.ndim, 'chunk');
  const size = Math.ceil(x.shape[d] / chunks);
  return split(x, Math.max(size, 1), d);
}

export function unbind(x: Tensor, dim = 0): Tensor[] {
  const d = normDim(dim, x.ndim, 'unbind');
  return Array.from({ length: x.shape[d] }, (_, i) => select(x, d, i));
}

/** Rows (or slices along dim) picked by an integer index tensor (torch.index_select). */
export function indexSelect(x: Tensor, dim: number, idx: Tensor): Tensor {
  const d = normDim(dim, x.ndim, 'indexSelect');
  if (idx.ndim > 1) throw new ShapeError(`indexSelect: index must be 0-D or 1-D, got shape ${fmtShape(idx.shape)}`);
  checkIndex(idx, x.shape[d], 'indexSelect');
  // Move dim to the front and flatten the rest: a row gather over a [R, E] table.
  const moved = contiguous(transpose(x, 0, d));
  const rest = moved.shape.slice(1);
  const table = reshape(moved, [moved.shape[0], numel(rest)]);
  const flatIdx = contiguous(reshape(idx, [-1]));
  const rows = Tensor.uninitialized([flatIdx.numel(), table.shape[1]], x.dtype);
  backend().indexSelect(table.view_(), flatIdx.view_(), rows.view_());
  const gathered = attach(rows, 'IndexSelectBackward', [table], (g) => {
    const gt = Tensor.zeros(table.shape, g.dtype);
    backend().indexAdd(gt.view_(), flatIdx.view_(), contiguous(g).view_());
    return [gt];
  });
  return transpose(reshape(gathered, [flatIdx.numel(), ...rest]), 0, d);
}

/** Throws unless `idx` is an integer tensor with every value in [0, size). */
export function checkIndex(idx: Tensor, size: number, op: string): void {
  if (idx.dtype !== 'int64' && idx.dtype !== 'int32') {
    throw new DTypeError(`${op}: index must be an integer tensor (int64 or int32), got ${idx.dtype}`);
  }
  const a = idx.toFlat();
  for (let i = 0; i < a.length; i++) {
    if (a[i] < 0 || a[i] >= size) {
      throw new ArgumentError(`${op}: index ${a[i]} at position ${i} is out of range for a dim of size ${size}`);
    }
  }
}

/** Moves dim `source` to position `destination`, keeping the order of the others. */
export function movedim(x: Tensor, source: number, destination: number): Tensor {
  const s = normDim(source, x.ndim, 'movedim'), d = normDim(destination, x.ndim, 'movedim');
  const rest = x.shape.map((_, i) => i).filter((i) => i !== s);
  rest.splice(d, 0, s);
  return permute(x, rest);
}

/** Reverses the order of elements along each of `dims` (torch.flip; a copy, as in PyTorch). */
export function flip(x: Tensor, dims: readonly number[]): Tensor {
  const ds = dims.map((d) => normDim(d, x.ndim, 'flip'));
  if (new Set(ds).size !== ds.length) throw new ShapeError(`flip: dim appears more than once in ${fmtShape(dims)}`);
  let out = x;
  for (const d of ds) {
    const n = x.shape[d];
    const reversed = Tensor.fromTypedArray(Float64Array.from({ length: n }, (_, i) => n - 1 - i), [n], 'int64');
    out = indexSelect(out, d, reversed);
  }
  return ds.length === 0 ? clone(x) : out;
}

/**
 * Shifts elements along `dims` by `shifts`, wrapping around (torch.roll). Without dims the
 * tensor is flattened, rolled and restored.
 */
export function roll(x: Tensor, shifts: number | readonly number[], dims?: number | readonly number[]): Tensor {
  const sh = typeof shifts === 'number' ? [shifts] : [...shifts];
  if (dims === undefined) {
    if (sh.length !== 1) throw new ArgumentError(`roll: without dims, shifts must be one number, got ${fmtShape(sh)}`);
    return reshape(roll(reshape(x, [-1]), sh[0], 0), x.shape);
  }
  const ds = typeof dims === 'number' ? [dims] : [...dims];
  if (ds.length !== sh.length) throw new ArgumentError(`roll: shifts ${fmtShape(sh)} and dims ${fmtShape(ds)} must have the same length`);
  let out = x;
  ds.forEach((dim, i) => {
    const d = normDim(dim, x.ndim, 'roll');
    if (!Number.isInteger(sh[i])) throw new ArgumentError(`roll: shift ${sh[i]} is not an integer`);
    const n = x.shape[d];
    const s = n === 0 ? 0 : ((sh[i] % n) + n) % n;
    if (s !== 0) out = cat([narrow(out, d, n - s, s), narrow(out, d, 0, n - s)], d);
  });
  return out === x ? clone(x) : out;
}

/**
 * Tiles the tensor: `repeat(2, 3)` on a (a, b) tensor gives (2a, 3b) (torch.Tensor.repeat);
 * more sizes than dims add leading dims.
 */
export function repeat(x: Tensor, sizes: readonly number[]): Tensor {
  if (sizes.length < x.ndim) {
    throw new ShapeError(`repeat: the number of repeat dims (${sizes.length}) can not be smaller than the number of tensor dims (${x.ndim}, shape ${fmtShape(x.shape)})`);
  }
  for (const r of sizes) if (!Number.isInteger(r) || r < 0) throw new ArgumentError(`repeat: repeats must be non-negative integers, got ${fmtShape(sizes)}`);
  const padded = [...sizes.slice(0, sizes.length - x.ndim).map(() => 1), ...x.shape];
  // (s0, s1, …) → (1, s0, 1, s1, …) → expand (r0, s0, r1, s1, …) → reshape (r0·s0, r1·s1, …)
  const interleaved = reshape(x, padded.flatMap((s) => [1, s]));
  const expanded = expand(interleaved, padded.flatMap((s, i) => [sizes[i], s]));
  return reshape(expanded, padded.map((s, i) => s * sizes[i]));
}

/** repeat with fewer sizes than dims allowed (leading sizes of 1 assumed), as torch.tile. */
export function tile(x: Tensor, dims: readonly number[]): Tensor {
  return repeat(x, [...new Array<number>(Math.max(x.ndim - dims.length, 0)).fill(1), ...dims]);
}

/**
 * Repeats each element `repeats` times along `dim` (torch.repeat_interleave); without dim the
 * input is flattened first. `repeats` is a number or an integer tensor with one count per element.
 */
export function repeatInterleave(x: Tensor, repeats: number | Tensor, dim?: number): Tensor {
  const src = dim === undefined ? reshape(x, [-1]) : x;
  const d = dim === undefined ? 0 : normDim(dim, x.ndim, 'repeatInterleave');
  const n = src.shape[d];
  let counts: ArrayLike<number>;
  if (typeof repeats === 'number') {
    if (!Number.isInteger(repeats) || repeats < 0) throw new ArgumentError(`repeatInterleave: repeats must be a non-negative integer, got ${repeats}`);
    counts = new Array<number>(n).fill(repeats);
  } else {
    if (repeats.dtype !== 'int64' && repeats.dtype !== 'int32') throw new DTypeError(`repeatInterleave: repeats must be an integer tensor, got ${repeats.dtype}`);
    counts = repeats.numel() === 1 ? new Array<number>(n).fill(repeats.item()) : repeats.toFlat();
    if (counts.length !== n) throw new ShapeError(`repeatInterleave: repeats has ${counts.length} values for dim ${d} of size ${n}`);
    for (let i = 0; i < counts.length; i++) if (counts[i] < 0) throw new ArgumentError(`repeatInterleave: repeats must be non-negative, got ${counts[i]} at ${i}`);
  }
  const idx: number[] = [];
  for (let i = 0; i < n; i++) for (let r = 0; r < counts[i]; r++) idx.push(i);
  return indexSelect(src, d, Tensor.fromTypedArray(Float64Array.from(idx), [idx.length], 'int64'));
}

/**
 * The diagonal of dims dim1 and dim2 (offset > 0 above the main diagonal), as a view whose last
 * dim runs along it (torch.diagonal).
 */
export function diagonal(x: Tensor, offset = 0, dim1 = 0, dim2 = 1): Tensor {
  const a = normDim(dim1, x.ndim, 'diagonal'), b = normDim(dim2, x.ndim, 'diagonal');
  if (a === b) throw new ShapeError(`diagonal: dim1 and dim2 cannot be identical (both ${a})`);
  if (!Number.isInteger(offset)) throw new ArgumentError(`diagonal: offset ${offset} is not an integer`);
  const len = Math.max(0, offset >= 0 ? Math.min(x.shape[a], x.shape[b] - offset) : Math.min(x.shape[a] + offset, x.shape[b]));
  let start = x.offset;
  if (len > 0) start += offset >= 0 ? offset * x.strides[b] : -offset * x.strides[a];
  const keep = x.shape.map((_, i) => i).filter((i) => i !== a && i !== b);
  const out = x.asStrided([...keep.map((i) => x.shape[i]), len], [...keep.map((i) => x.strides[i]), x.strides[a] + x.strides[b]], start);
  return attach(out, 'DiagonalBackward', [x], (g) => {
    const gx = Tensor.zeros(x.shape, g.dtype);
    diagonal(gx, offset, a, b).copy_(g);
    return [gx];
  });
}
