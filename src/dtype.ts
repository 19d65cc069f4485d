/**
 * Data types and their storage.
 *
 * | dtype   | storage        | notes                                                   |
 * |---------|----------------|---------------------------------------------------------|
 * | float32 | Float32Array   | the default; what models and the native backend use     |
 * | float64 | Float64Array   | finite-difference gradient checks                       |
 * | int64   | Float64Array   | indices and labels; exact for |x| ≤ 2^53 (PyTorch's long) |
 * | int32   | Int32Array     | compact indices                                         |
 * | bool    | Uint8Array     | masks (True = 1)                                        |
 *
 * int64 is stored in doubles so every kernel reads indices as plain numbers; values beyond
 * 2^53 (never an index or a label) are not representable and are rejected on load.
 */
import { DTypeError } from './errors.js';

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'int32', 'bool'];

export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function isIntegral(dtype: DType): boolean {
  return dtype === 'int64' || dtype === 'int32';
}

/** Allocates zeroed storage for `n` elements of `dtype`. */
export function allocate(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': case 'int64': return new Float64Array(n);
    case 'int32': return new Int32Array(n);
    case 'bool': return new Uint8Array(n);
  }
}

/** Bytes per element as PyTorch counts them (int64 is 8, bool is 1). */
export function itemSize(dtype: DType): number {
  switch (dtype) {
    case 'float32': case 'int32': return 4;
    case 'float64': case 'int64': return 8;
    case 'bool': return 1;
  }
}

export function checkDType(dtype: unknown, where: string): DType {
  if (typeof dtype === 'string' && (DTYPES as readonly string[]).includes(dtype)) return dtype as DType;
  throw new DTypeError(`${where}: unknown dtype ${JSON.stringify(dtype)}; expected one of ${DTYPES.join(', ')}`);
}

/** Rank within a category: bool < int32 < int64 < float32 < float64. */
const ORDER: Record<DType, number> = { bool: 0, int32: 1, int64: 2, float32: 3, float64: 4 };
function category(d: DType): number {
  return d === 'bool' ? 0 : isIntegral(d) ? 1 : 2;
}
function higher(a: DType, b: DType): DType {
  return ORDER[a] >= ORDER[b] ? a : b;
}

/**
 * PyTorch's type promotion for an op over tensors and scalars: dimensioned tensors decide, a
 * zero-dim tensor or a JS number only lifts the result to a higher category (bool → int → float),
 * in which case a number gives the default dtype of that category (int64, float32).
 */
export function promoteTypes(dimensioned: DType[], zeroDim: DType[], scalars: ('int' | 'float' | 'bool')[]): DType {
  let result: DType | null = null;
  for (const d of dimensioned) result = result === null ? d : higher(result, d);
  let zd: DType | null = null;
  for (const d of zeroDim) zd = zd === null ? d : higher(zd, d);
  if (zd !== null && (result === null || category(zd) > category(result))) result = zd;
  for (const s of scalars) {
    const d: DType = s === 'float' ? 'float32' : s === 'int' ? 'int64' : 'bool';
    if (result === null || category(d) > category(result)) result = d;
  }
  return result ?? 'float32';
}
