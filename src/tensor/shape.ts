/**
 * Shape arithmetic done once in core: dims, broadcasting, view strides, -1 inference.
 * Kernels never see any of this; they receive resolved shapes and strides.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
export { contiguousStrides, isContiguousView, numel } from '../strides.js';
import { numel } from '../strides.js';

/** Normalises a possibly negative dim for a tensor of rank `ndim`, or throws naming the op. */
export function normDim(dim: number, ndim: number, op: string, allowEnd = false): number {
  const n = allowEnd ? ndim + 1 : ndim;
  const lo = -Math.max(n, 1), hi = Math.max(n, 1) - 1;
  if (!Number.isInteger(dim) || dim < lo || dim > hi) {
    throw new ShapeError(`${op}: dim ${dim} is out of range for a tensor of rank ${ndim} (expected a dim in [${lo}, ${hi}])`);
  }
  return dim < 0 ? dim + Math.max(n, 1) : dim;
}

export function checkShape(shape: readonly number[], op: string): number[] {
  if (!Array.isArray(shape)) throw new ArgumentError(`${op}: shape must be an array of sizes, got ${JSON.stringify(shape)}`);
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new ShapeError(`${op}: invalid shape ${JSON.stringify(shape)}: sizes must be non-negative integers`);
  }
  return shape.slice();
}

/** The broadcast of two shapes (NumPy rules), or a ShapeError naming the op and the dim. */
export function broadcastShapes(a: readonly number[], b: readonly number[], op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast (dim ${i - n}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Resolves one -1 in a requested shape against `total` elements. */
export function inferShape(shape: readonly number[], total: number, op: string, from: readonly number[]): number[] {
  let infer = -1;
  let known = 1;
  shape.forEach((s, i) => {
    if (s === -1) {
      if (infer >= 0) throw new ShapeError(`${op}: only one dimension can be inferred (-1), got ${fmtShape(shape)}`);
      infer = i;
    } else if (!Number.isInteger(s) || s < 0) {
      throw new ShapeError(`${op}: invalid size ${s} in shape ${fmtShape(shape)}`);
    } else {
      known *= s;
    }
  });
  const out = shape.slice();
  if (infer >= 0) {
    if (known === 0 || total % known !== 0) {
      throw new ShapeError(`${op}: shape ${fmtShape(shape)} is invalid for input of shape ${fmtShape(from)} (${total} elements)`);
    }
    out[infer] = total / known;
  } else if (known !== total) {
    throw new ShapeError(`${op}: shape ${fmtShape(shape)} is invalid for input of shape ${fmtShape(from)} (${total} elements)`);
  }
  return out;
}

/**
 * Strides that let a tensor of `oldShape`/`oldStrides` be viewed as `newShape` without a copy,
 * or null when no such strides exist (PyTorch's computeStride): the old dims are cut into runs
 * that are contiguous with each other, and every new dim must fall inside one run.
 */
export function viewStrides(oldShape: readonly number[], oldStrides: readonly number[], newShape: readonly number[]): number[] | null {
  const newStrides = new Array<number>(newShape.length).fill(0);
  if (numel(oldShape) === 0) {
    // Any shape of an empty tensor is a valid view.
    let s = 1;
    for (let d = newShape.length - 1; d >= 0; d--) {
      newStrides[d] = s;
      s *= Math.max(newShape[d], 1);
    }
    return newStrides;
  }
  if (oldShape.length === 0) return newShape.map(() => 1);
  let viewD = newShape.length - 1;
  let chunkBaseStride = oldStrides.length > 0 ? oldStrides[oldStrides.length - 1] : 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d];
    // A run ends at d when d is the first dim or dim d-1 is not contiguous with d.
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBaseStride)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        newStrides[viewD] = viewNumel * chunkBaseStride;
        viewNumel *= newShape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBaseStride = oldStrides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return null;
  return newStrides;
}

/** A shape (or list of dims) in either of PyTorch's call forms: `f(3, 2)` or `f([3, 2])`. */
export type ShapeArgs = number[] | [readonly number[]];

/** Resolves ShapeArgs to a list of numbers, or throws an ArgumentError naming the op. */
export function shapeArgs(args: readonly unknown[], op: string): number[] {
  const list = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  if (!list.every((v) => typeof v === 'number')) {
    throw new ArgumentError(`${op}: expected sizes as numbers, ${op}(3, 2), or one array, ${op}([3, 2]); got (${list.map((v) => (Array.isArray(v) ? `[${v}]` : typeof v === 'object' && v !== null ? v.constructor.name : JSON.stringify(v))).join(', ')})`);
  }
  return (list as number[]).slice();
}
