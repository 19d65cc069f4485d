import { allocate, type DType, type TypedArray } from '../dtype.js';

/**
 * The memory behind one or more tensors. Views share a Storage; every in-place write bumps
 * `version`, which is how autograd notices that a tensor it saved has been modified.
 */
export class Storage {
  version = 0;
  constructor(readonly data: TypedArray) {}
}

/** Below this many elements a zeroed typed array is as cheap as an uninitialized one. */
const UNINITIALIZED_MIN = 1024;

/**
 * Storage for `n` elements of `dtype` whose contents are unspecified (stale memory, not zeros):
 * for op outputs that a kernel overwrites completely. Large zeroed allocations cost a memset of
 * the whole buffer (calloc) — about as much as the kernel that fills it for cheap ops.
 */
export function allocateUninitialized(dtype: DType, n: number): TypedArray {
  if (n < UNINITIALIZED_MIN) return allocate(dtype, n);
  switch (dtype) {
    case 'float32': return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
    case 'float64': case 'int64': return new Float64Array(Buffer.allocUnsafeSlow(n * 8).buffer, 0, n);
    case 'int32': return new Int32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
    case 'bool': return new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n);
  }
}
