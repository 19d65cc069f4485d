/**
 * What the safetensors reader, writer and tie handling share: the size limits, the file dtypes,
 * the parsed-header and option types, and small helpers for error messages.
 */
import { constants as bufferConstants } from 'node:buffer';
import { fmtShape } from '../errors.js';
import type { DType } from '../dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Json } from './json-header.js';

export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Largest storage, in bytes, that load allocates for one tensor (the typed-array limit of this
 * Node). A larger tensor is refused with a SafetensorsError instead of a RangeError.
 */
export const MAX_TENSOR_BYTES: number = bufferConstants.MAX_LENGTH;

/** File dtypes, their element size, and the qkv dtype they load as. */
export const FILE_DTYPES = {
  F64: { size: 8, dtype: 'float64' },
  F32: { size: 4, dtype: 'float32' },
  F16: { size: 2, dtype: 'float32' },
  BF16: { size: 2, dtype: 'float32' },
  I64: { size: 8, dtype: 'int64' },
  I32: { size: 4, dtype: 'int32' },
  I16: { size: 2, dtype: 'int32' },
  I8: { size: 1, dtype: 'int32' },
  U8: { size: 1, dtype: 'int32' },
  BOOL: { size: 1, dtype: 'bool' },
} as const satisfies Record<string, { size: number; dtype: DType }>;
export type FileDType = keyof typeof FILE_DTYPES;

export const SAVE_DTYPE: Record<DType, FileDType> = { float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', bool: 'BOOL' };

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface HeaderEntry {
  name: string;
  dtype: FileDType;
  shape: number[];
  /** Offsets relative to the start of the data section. */
  begin: number;
  end: number;
  /** File offset of the entry's key in the header, for error messages. */
  at: number;
}

export interface Header {
  /** 8 + N: where the data section starts. */
  dataStart: number;
  /** Tensor entries in header order. */
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  /** Validated ties from `metadata[TIES_METADATA_KEY]`, alias → target ({} when none). */
  ties: Record<string, string>;
}

export interface LoadOptions {
  /** Load every floating tensor (F64 included) as float32. F16/BF16 always load as float32. */
  castFloats?: 'float32';
}

export interface LoadResult {
  /** Tensors in header order, then tie aliases (sharing storage with their targets). */
  tensors: Record<string, Tensor>;
  /** `__metadata__` as stored, `TIES_METADATA_KEY` included when the file has ties. */
  metadata: Record<string, string>;
}

export interface SaveOptions {
  /**
   * Declared weight ties, alias → target: the target's data is written once and the tie is
   * recorded in `__metadata__[TIES_METADATA_KEY]`, so loading returns the alias sharing storage
   * with the target. When the alias is also present in `tensors`, it must be the very same view
   * of the target (same storage, dtype, shape, strides and offset). Ties may also arrive through
   * `metadata[TIES_METADATA_KEY]` (e.g. metadata from a previous load); if both are given they
   * must agree.
   */
  ties?: Record<string, string>;
}

/** Sets an own enumerable property (a plain assignment of `__proto__` would set the prototype). */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A value as JSON for an error message, cut to 120 characters (names and shapes can be huge). */
export function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 100)}…(${s.length} characters)` : s;
}
/** A name, quoted and clipped, for an error message. */
export const q = (s: string): string => show(s);
export const clipText = (s: string): string => (s.length > 120 ? `${s.slice(0, 100)}…(${s.length} characters)` : s);

export function clipShape(shape: number[]): string {
  return shape.length > 16 ? `${fmtShape(shape.slice(0, 16)).slice(0, -1)},…] (${shape.length} dims)` : fmtShape(shape);
}

/** What a JSON value is, for an error message: `null`, `an array`, `a number (3)`. */
export function jsonType(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v} (${show(v)})`;
}
