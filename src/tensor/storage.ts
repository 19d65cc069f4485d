import type { TypedArray } from '../dtype.js';

/**
 * The memory behind one or more tensors. Views share a Storage; every in-place write bumps
 * `version`, which is how autograd notices that a tensor it saved has been modified.
 */
export class Storage {
  version = 0;
  constructor(readonly data: TypedArray) {}
}
