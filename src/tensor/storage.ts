import { allocate, type DType, type TypedArray } from '../dtype.js';

let nextSerial = 0;

/**
 * The memory behind one or more tensors. Views share a Storage; every in-place write bumps
 * `version`, which is how autograd notices that a tensor it saved has been modified.
 */
export class Storage {
  version = 0;
  /** Creation order: a backward pass recognises the storages it allocated (serial ≥ its start). */
  readonly serial = nextSerial++;
  /**
   * `owned`: the array was allocated for this storage alone (Tensor.empty/uninitialized), so it
   * may be recycled once nothing can reach it; arrays wrapped from outside never are.
   */
  constructor(public data: TypedArray, readonly owned = false) {}
}

/** The serial the next Storage will get. */
export function nextStorageSerial(): number {
  return nextSerial;
}

/** Below this many elements a zeroed typed array is as cheap as an uninitialized one. */
const UNINITIALIZED_MIN = 1024;

/**
 * Recycled arrays by dtype and length. Backward returns the gradient buffers it allocated and
 * consumed (see autograd/engine.ts), and the next allocation of the same size takes one instead
 * of a new ArrayBuffer: a training step then allocates far less, and V8 — which collects
 * garbage when external (ArrayBuffer) memory grows — runs fewer collections.
 */
const pool = new Map<DType, Map<number, TypedArray[]>>();
let pooledBytes = 0;
let reusedCount = 0;
let recycledCount = 0;
/** Upper bound on the memory the pool holds; beyond it recycled arrays are left to the GC. */
const POOL_MAX_BYTES = 64 * 2 ** 20;

/**
 * Storage for `n` elements of `dtype` whose contents are unspecified (stale memory, not zeros):
 * for op outputs that a kernel overwrites completely. Large zeroed allocations cost a memset of
 * the whole buffer (calloc) — about as much as the kernel that fills it for cheap ops.
 */
export function allocateUninitialized(dtype: DType, n: number): TypedArray {
  if (n < UNINITIALIZED_MIN) return allocate(dtype, n);
  const reused = pool.get(dtype)?.get(n)?.pop();
  if (reused) {
    pooledBytes -= reused.byteLength;
    reusedCount++;
    return reused;
  }
  switch (dtype) {
    case 'float32': return new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
    case 'float64': case 'int64': return new Float64Array(Buffer.allocUnsafeSlow(n * 8).buffer, 0, n);
    case 'int32': return new Int32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
    case 'bool': return new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n);
  }
}

const RELEASED: Record<DType, TypedArray> = {
  float32: new Float32Array(0),
  float64: new Float64Array(0),
  int64: new Float64Array(0),
  int32: new Int32Array(0),
  bool: new Uint8Array(0),
};

/**
 * Gives an owned storage's array back for reuse. The caller guarantees that no tensor anyone can
 * still reach uses `storage`; its array is replaced by an empty one, so a use after release fails
 * the backend's range check instead of reading another tensor's values.
 */
export function recycleStorage(storage: Storage, dtype: DType): void {
  const data = storage.data;
  if (!storage.owned || data.length < UNINITIALIZED_MIN) return;
  storage.data = RELEASED[dtype];
  if (pooledBytes + data.byteLength > POOL_MAX_BYTES) return;
  let bySize = pool.get(dtype);
  if (!bySize) pool.set(dtype, (bySize = new Map()));
  let list = bySize.get(data.length);
  if (!list) bySize.set(data.length, (list = []));
  list.push(data);
  pooledBytes += data.byteLength;
  recycledCount++;
}

/** What the pool holds now and how many arrays it has taken back and handed out again. */
export function storagePoolStats(): { pooledBytes: number; recycled: number; reused: number } {
  return { pooledBytes, recycled: recycledCount, reused: reusedCount };
}
