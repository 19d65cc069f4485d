/**
 * Memory overlap in in-place ops. Views share storage, so an in-place op can write memory it is
 * still reading, or write one memory cell through several elements:
 *
 * - `x.add_(x.t())`: the input overlaps the destination in another layout. qkv reads such an
 *   input through a temporary copy, so the result is the one the out-of-place op gives (PyTorch
 *   raises "some elements of the input tensor and the written-to tensor refer to a single memory
 *   location" instead).
 * - `zeros([1]).expand([3]).add_(1)`: several elements of the destination are one memory cell; no
 *   answer is right, and qkv raises PyTorch's error. Filling with one value (`fill_`, `zero_`) is
 *   allowed, as in PyTorch.
 *
 * Overlap is decided as PyTorch does: same storage and intersecting extents (the range of
 * addresses a view can reach), unless the two views are identical.
 */
import { ArgumentError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';

/** Lowest and highest storage index a view reaches, or null when it has no elements. */
function extent(t: Tensor): [number, number] | null {
  let lo = t.offset, hi = t.offset;
  for (let d = 0; d < t.ndim; d++) {
    const n = t.shape[d];
    if (n === 0) return null;
    const span = (n - 1) * t.strides[d];
    if (span < 0) lo += span;
    else hi += span;
  }
  return [lo, hi];
}

function sameView(a: Tensor, b: Tensor): boolean {
  return a.offset === b.offset && a.shape.length === b.shape.length &&
    a.shape.every((s, i) => s === b.shape[i] && (s === 1 || a.strides[i] === b.strides[i]));
}

/**
 * Whether `a` and `b` may touch the same memory — without being the same view, for an
 * elementwise op (which reads and writes each element at one position).
 */
export function overlaps(a: Tensor, b: Tensor, elementwise: boolean): boolean {
  if (a.storage !== b.storage || (elementwise && sameView(a, b))) return false;
  const ea = extent(a), eb = extent(b);
  return ea !== null && eb !== null && ea[0] <= eb[1] && eb[0] <= ea[1];
}

/** Whether two elements of `t` are one memory cell (exact). */
export function hasInternalOverlap(t: Tensor): boolean {
  const dims = t.shape.map((s, d) => ({ s, st: Math.abs(t.strides[d]) })).filter((x) => x.s > 1);
  if (dims.some((x) => x.st === 0)) return true;
  // Sufficient for no overlap: each stride (ascending) exceeds the span of the smaller dims.
  dims.sort((a, b) => a.st - b.st);
  let span = 0;
  let proven = true;
  for (const { s, st } of dims) {
    if (st <= span) { proven = false; break; }
    span += (s - 1) * st;
  }
  if (proven) return false;
  // Rare layouts (as_strided): enumerate the addresses.
  const seen = new Set<number>();
  const walk = (d: number, at: number): boolean => {
    if (d === dims.length) {
      if (seen.has(at)) return true;
      seen.add(at);
      return false;
    }
    for (let i = 0; i < dims[d].s; i++) if (walk(d + 1, at + i * dims[d].st)) return true;
    return false;
  };
  return walk(0, 0);
}

/**
 * Raises PyTorch's error when several elements of `dst` are one memory cell (a dim of size > 1
 * with stride 0, as after expand, or strides that make elements coincide): an in-place write to
 * it has no well-defined result.
 */
export function checkInternalOverlap(dst: Tensor, op: string): void {
  if (hasInternalOverlap(dst)) {
    throw new ArgumentError(
      `${op}: unsupported operation: more than one element of the written-to tensor (shape ${fmtShape(dst.shape)}, strides ${fmtShape(dst.strides)}) refers to a single memory location. Please clone() the tensor before performing the operation.`,
    );
  }
}

/**
 * `src` as safe to read while `dst` is written: itself, or a contiguous copy when the two
 * overlap. `elementwise: false` for writes that do not go to the position they read (scatter,
 * index_put), where even the identical view must be copied.
 */
export function readableWhileWriting(src: Tensor, dst: Tensor, elementwise = true): Tensor {
  if (!overlaps(src, dst, elementwise)) return src;
  const copy = Tensor.uninitialized(src.shape, src.dtype);
  backend().copy(src.view_(), copy.view_());
  return copy;
}
