/** Test helpers: closeness checks that name the worst element, and fixture loading. */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../src/index.js'; // the complete Tensor class (methods installed by ops/)
import type { Tensor } from '../../src/tensor/tensor.js';
import { loadFile } from '../../src/io/files.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function loadFixture(name: string): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  return loadFile(path.join(FIXTURES, name));
}

export interface Tol {
  rtol?: number;
  atol?: number;
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise (NaN matches NaN, ±inf must match). */
export function assertClose(actual: Tensor, expected: Tensor, tol: Tol = {}, label = ''): void {
  const { rtol = 1e-5, atol = 1e-6 } = tol;
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape ${JSON.stringify(actual.shape)} vs expected ${JSON.stringify(expected.shape)}`);
  const a = actual.toFlat(), e = expected.toFlat();
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]), y = Number(e[i]);
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    if (!Number.isFinite(y) && x === y) continue;
    const excess = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${label}: element ${worst} is ${a[worst]}, expected ${e[worst]} (rtol ${rtol}, atol ${atol}); shape ${JSON.stringify(expected.shape)}`);
  }
}

/** Asserts exact equality of values (and shape, and dtype family). */
export function assertEqual(actual: Tensor, expected: Tensor, label = ''): void {
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  assert.deepEqual(Array.from(actual.toFlat() as ArrayLike<number>), Array.from(expected.toFlat() as ArrayLike<number>), label);
}

/** Largest |a − b| over all elements. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.toFlat(), y = b.toFlat();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])));
  return m;
}
