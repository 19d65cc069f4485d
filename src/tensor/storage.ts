import type { TypedArray } from '../dtype.js';

let nextSerial = 0;

/**
 * The memory behind one or more tensors. Views share a Storage; every in-place write bumps
 * `version`, which is how autograd notices that a tensor it saved has been modified.
 */
export class Storage {
  version = 0;
  /** Exempt from tidy() scopes (parameters, buffers, gradients, optimizer state, caches). */
  kept = false;
  /** Its memory was given back (allocator.ts recycleStorage); using it is an error. */
  released = false;
  /** Creation order: an Arena (allocator.ts) recognises the storages made in its lifetime. */
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
