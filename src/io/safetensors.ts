/**
 * The safetensors format: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {string: string}}`, then
 * the data, row-major little-endian, tiled by the offsets exactly (no gaps, no overlaps, no
 * trailing bytes). Every check below fails with a SafetensorsError naming the tensor, the field
 * and the byte offset; nothing is allocated from a size that has not been checked against the
 * file. See DESIGN.md, "Checkpoints and interop".
 *
 * Checks on read, in order: the file holds the 8-byte length; N ≤ 100,000,000 and 8 + N fits in
 * the file; the header is valid UTF-8 and strict JSON (no duplicate keys, nesting ≤ 64); it is an
 * object whose `__metadata__` (optional) maps strings to strings; every other key is a tensor
 * entry with exactly the fields dtype (one of FILE_DTYPES), shape (non-negative safe integers)
 * and data_offsets ([begin, end], non-negative safe integers, end ≥ begin); shape × element size
 * does not overflow and equals end − begin; the entries tile the data section exactly (no gap,
 * overlap or trailing byte); the tensor's qkv storage fits in one typed array; I64 values fit in
 * ±2^53 and BOOL bytes are 0 or 1; a declared tie (see TIES_METADATA_KEY) is valid.
 *
 * Accepted: misaligned offsets (the bytes are copied), empty and 0-d tensors, NaN/Inf, headers
 * padded with JSON whitespace, and any tensor name, `__proto__` included.
 */
import { constants as bufferConstants } from 'node:buffer';
import { SafetensorsError, fmtShape } from '../errors.js';
import { allocate, itemSize, type DType, type TypedArray } from '../dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { firstInvalidUtf8, parseHeaderJson, type Json } from './json-header.js';

export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Largest storage, in bytes, that load allocates for one tensor (the typed-array limit of this
 * Node). A larger tensor is refused with a SafetensorsError instead of a RangeError.
 */
export const MAX_TENSOR_BYTES: number = bufferConstants.MAX_LENGTH;

/**
 * Metadata key under which declared weight ties are recorded: a JSON object `{alias: target}`,
 * e.g. `{"lm_head.weight":"transformer.wte.weight"}`. The data of a tie is stored once, under the
 * target's name; the alias has no entry of its own. On load the alias is returned as a tensor that
 * shares storage with the target (same dtype, shape, strides and offset). Valid ties: every alias
 * differs from its target, is not a tensor stored in the file and is not `__metadata__`; every
 * target is a tensor stored in the file (so there are no chains and no cycles). Anything else is
 * a SafetensorsError. Readers that do not know the key (PyTorch, HF) simply see the target.
 */
export const TIES_METADATA_KEY = 'qkv.ties';

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

const SAVE_DTYPE: Record<DType, FileDType> = { float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', bool: 'BOOL' };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A value as JSON for an error message, cut to 120 characters (names and shapes can be huge). */
function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 100)}…(${s.length} characters)` : s;
}
const q = (s: string): string => show(s);
const clipText = (s: string): string => (s.length > 120 ? `${s.slice(0, 100)}…(${s.length} characters)` : s);

/** Reads and checks the 8-byte length prefix; `fileSize` bounds every later read. */
export function readHeaderLength(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsError(`safetensors: file is ${fileSize} bytes, shorter than the 8-byte header length at offset 0`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`safetensors: header length ${n} at offset 0 exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (8n + n > BigInt(fileSize)) {
    throw new SafetensorsError(`safetensors: header length ${n} at offset 0 runs past the end of the ${fileSize}-byte file`);
  }
  return Number(n);
}

/** Parses and validates the JSON header; `dataLength` is the size of the data section. */
export function parseHeader(headerBytes: Uint8Array, dataLength: number): Header {
  const dataStart = 8 + headerBytes.length;
  const bad = firstInvalidUtf8(headerBytes);
  if (bad >= 0) {
    throw new SafetensorsError(`safetensors: header (offset 8, ${headerBytes.length} bytes) is not valid UTF-8: byte 0x${headerBytes[bad].toString(16).padStart(2, '0')} at offset ${8 + bad}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(`safetensors: header (offset 8, ${headerBytes.length} bytes) is not valid UTF-8`);
  }
  const { value, keyPositions } = parseHeaderJson(text, 8);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SafetensorsError(`safetensors: header at offset 8 is a JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an object`);
  }
  const at = (name: string): number => keyPositions.get(name) ?? 8;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(value)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new SafetensorsError(`safetensors: __metadata__ (header byte ${at(name)}) must be an object of strings, got ${jsonType(raw)}`);
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new SafetensorsError(`safetensors: __metadata__ (header byte ${at(name)}): the value for ${q(k)} is ${jsonType(v)}, not a string`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    entries.push(checkEntry(name, raw, at(name)));
  }
  checkTiling(entries, dataLength, dataStart);
  const ties = checkTies(metadata, new Set(entries.map((e) => e.name)), at('__metadata__'));
  return { dataStart, entries, metadata, ties };
}

function clipShape(shape: number[]): string {
  return shape.length > 16 ? `${fmtShape(shape.slice(0, 16)).slice(0, -1)},…] (${shape.length} dims)` : fmtShape(shape);
}

function jsonType(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v} (${show(v)})`;
}

export function checkEntry(name: string, raw: Json, at: number): HeaderEntry {
  const where = `tensor ${q(name)} (header byte ${at})`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError(`safetensors: ${where} is ${jsonType(raw)}, not an object with dtype, shape and data_offsets`);
  for (const k of Object.keys(raw)) {
    if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') throw new SafetensorsError(`safetensors: ${where} has an unknown field ${q(k)}`);
  }
  for (const k of ['dtype', 'shape', 'data_offsets']) {
    if (!(k in raw)) throw new SafetensorsError(`safetensors: ${where} is missing the field ${q(k)}`);
  }
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(FILE_DTYPES, dtype)) {
    throw new SafetensorsError(`safetensors: ${where}: dtype ${show(dtype)} is not one of ${Object.keys(FILE_DTYPES).join(', ')}`);
  }
  if (!Array.isArray(shape) || shape.some((s) => typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0)) {
    throw new SafetensorsError(`safetensors: ${where}: shape ${show(shape)} must be an array of integers in [0, 2^53)`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0)) {
    throw new SafetensorsError(`safetensors: ${where}: data_offsets ${show(offsets)} must be two integers [begin, end] in [0, 2^53)`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) throw new SafetensorsError(`safetensors: ${where}: data_offsets [${begin}, ${end}] end before they begin`);
  const size = FILE_DTYPES[dtype as FileDType].size;
  // Element count × size, checked for overflow step by step (as the reference reader does).
  let bytes = size;
  for (const s of shape as number[]) {
    bytes *= s;
    if (!Number.isSafeInteger(bytes)) throw new SafetensorsError(`safetensors: ${where}: shape ${show(shape)} × ${size} bytes per ${dtype} element overflows 2^53`);
  }
  if (end - begin !== bytes) {
    throw new SafetensorsError(`safetensors: ${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} ${clipShape(shape as number[])} needs ${bytes}`);
  }
  return { name, dtype: dtype as FileDType, shape: (shape as number[]).slice(), begin, end, at };
}

/** Offsets must cover [0, dataLength) exactly, without gaps or overlaps. */
export function checkTiling(entries: HeaderEntry[], dataLength: number, dataStart: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let last: HeaderEntry | null = null;
  for (const e of sorted) {
    if (e.begin !== at) {
      const what = e.begin < at ? `overlaps tensor ${q(last!.name)} (which ends at ${at})` : `leaves a gap of ${e.begin - at} bytes after ${last ? `tensor ${q(last.name)}` : 'the header'}`;
      throw new SafetensorsError(`safetensors: tensor ${q(e.name)} (header byte ${e.at}): data_offsets begin at ${e.begin} (file offset ${dataStart + e.begin}), which ${what}; offsets must tile the data exactly`);
    }
    at = e.end;
    last = e;
  }
  if (at !== dataLength) {
    const after = last ? `after the last tensor ${q(last.name)}` : 'after the header (which lists no tensors)';
    throw new SafetensorsError(
      at < dataLength
        ? `safetensors: ${dataLength - at} trailing bytes ${after}, at file offset ${dataStart + at}`
        : `safetensors: tensor ${q(last!.name)} (header byte ${last!.at}): data_offsets end at ${at} (file offset ${dataStart + at}), past the end of the ${dataStart + dataLength}-byte file`,
    );
  }
}

/** Validates `metadata[TIES_METADATA_KEY]` against the names stored in the file. */
function checkTies(metadata: Record<string, string>, stored: Set<string>, at: number): Record<string, string> {
  if (!Object.prototype.hasOwnProperty.call(metadata, TIES_METADATA_KEY)) return {};
  const where = `__metadata__[${q(TIES_METADATA_KEY)}] (header byte ${at})`;
  const ties = parseTies(metadata[TIES_METADATA_KEY], where);
  for (const [alias, target] of Object.entries(ties)) {
    if (stored.has(alias)) throw new SafetensorsError(`safetensors: ${where}: tie alias ${q(alias)} is also stored as a tensor; a tie's data is stored once, under its target`);
    if (!stored.has(target)) {
      const why = Object.prototype.hasOwnProperty.call(ties, target) ? 'is itself an alias (chains and cycles are not allowed)' : 'is not a tensor in the file';
      throw new SafetensorsError(`safetensors: ${where}: tie ${q(alias)} → ${q(target)}: the target ${why}`);
    }
  }
  return ties;
}

/** Parses a ties declaration (JSON object of strings, no duplicate keys, alias ≠ target). */
function parseTies(text: string, where: string): Record<string, string> {
  let value: Json;
  try {
    value = parseHeaderJson(text, 0, 'JSON').value;
  } catch (err) {
    if (!(err instanceof SafetensorsError)) throw err;
    throw new SafetensorsError(`safetensors: ${where} is not a JSON object {alias: target}: ${err.message.replace('safetensors: ', '').replace(' at byte ', ' at UTF-8 byte ')}`);
  }
  return checkTieObject(value, where);
}

/** Checks a ties object: string targets, alias ≠ target, no alias named `__metadata__`. */
function checkTieObject(value: unknown, where: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SafetensorsError(`safetensors: ${where} must be an object {alias: target}, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const ties: Record<string, string> = {};
  for (const [alias, target] of Object.entries(value)) {
    if (typeof target !== 'string') throw new SafetensorsError(`safetensors: ${where}: the target of tie ${q(alias)} is ${target === null ? 'null' : typeof target}, not a tensor name`);
    if (alias === target) throw new SafetensorsError(`safetensors: ${where}: tie ${q(alias)} names itself as its target`);
    if (alias === '__metadata__') throw new SafetensorsError(`safetensors: ${where}: a tie alias may not be named "__metadata__"`);
    setOwn(ties, alias, target);
  }
  return ties;
}

/**
 * Decodes one tensor's bytes (any alignment; always copied into fresh storage). `fileOffset` is
 * where `bytes` starts in the file, for error messages.
 */
export function decodeTensor(e: HeaderEntry, bytes: Uint8Array, opts: LoadOptions = {}, fileOffset = e.begin): Tensor {
  const where = `tensor ${q(e.name)} (header byte ${e.at})`;
  const nbytes = e.end - e.begin;
  if (bytes.length !== nbytes) {
    throw new SafetensorsError(`safetensors: ${where}: got ${bytes.length} data bytes at file offset ${fileOffset}, expected ${nbytes}`);
  }
  const dtype = checkTensorSize(e, opts);
  const n = nbytes / FILE_DTYPES[e.dtype].size; // exact: checkEntry made nbytes = size × numel
  let out: TypedArray;
  try {
    out = LITTLE_ENDIAN ? decodeLE(e, bytes, n, dtype, fileOffset) : decodeAny(e, bytes, n, dtype, fileOffset);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new SafetensorsError(`safetensors: ${where}: cannot allocate ${n} elements of ${dtype} (${err.message})`);
    }
    throw err;
  }
  return Tensor.fromTypedArray(out, e.shape, dtype);
}

/**
 * The qkv dtype an entry loads as, after checking that its storage fits in one typed array
 * (call before allocating anything for the tensor).
 */
export function checkTensorSize(e: HeaderEntry, opts: LoadOptions = {}): DType {
  const size = FILE_DTYPES[e.dtype].size;
  const n = (e.end - e.begin) / size;
  let dtype: DType = FILE_DTYPES[e.dtype].dtype;
  if (opts.castFloats === 'float32' && dtype === 'float64') dtype = 'float32';
  const need = Math.max(n * itemSize(dtype), e.end - e.begin);
  if (need > MAX_TENSOR_BYTES) {
    throw new SafetensorsError(`safetensors: tensor ${q(e.name)} (header byte ${e.at}): ${n} elements (${e.dtype} ${clipShape(e.shape)}) need ${need} bytes, more than the ${MAX_TENSOR_BYTES}-byte limit of one typed array`);
  }
  return dtype;
}

/** An aligned copy of `bytes` in a fresh ArrayBuffer. */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

let halfTable: Float32Array | null = null;
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

function badElement(e: HeaderEntry, i: number, fileOffset: number, what: string): SafetensorsError {
  const size = FILE_DTYPES[e.dtype].size;
  return new SafetensorsError(`safetensors: tensor ${q(e.name)} (header byte ${e.at}): ${e.dtype} element ${i} at file offset ${fileOffset + i * size} ${what}`);
}

/** Typed-array fast paths for little-endian hosts (the file's byte order). */
function decodeLE(e: HeaderEntry, bytes: Uint8Array, n: number, dtype: DType, fileOffset: number): TypedArray {
  switch (e.dtype) {
    case 'F32': return new Float32Array(alignedCopy(bytes));
    case 'F64': {
      const src = new Float64Array(alignedCopy(bytes));
      return dtype === 'float32' ? Float32Array.from(src) : src;
    }
    case 'I32': return new Int32Array(alignedCopy(bytes));
    case 'F16': {
      const src = new Uint16Array(alignedCopy(bytes)), table = halfToFloatTable(), out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i]];
      return out;
    }
    case 'BF16': {
      // bf16 is the top half of a float32: shift the bits into place (NaN payloads survive).
      const src = new Uint16Array(alignedCopy(bytes)), out = new Float32Array(n), bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'I64': {
      const words = new Int32Array(alignedCopy(bytes)), out = allocate(dtype, n);
      for (let i = 0; i < n; i++) {
        const lo = words[2 * i] >>> 0, hi = words[2 * i + 1];
        // |v| ≤ 2^53 ⇔ hi ∈ [−2^21, 2^21), or v = 2^53 exactly.
        if (hi < -0x200000 || hi > 0x200000 || (hi === 0x200000 && lo !== 0)) {
          throw badElement(e, i, fileOffset, `(${(BigInt(hi) << 32n) | BigInt(lo)}) is beyond ±2^53, which qkv's int64 cannot hold exactly`);
        }
        out[i] = hi * 4294967296 + lo;
      }
      return out;
    }
    case 'I16': return Int32Array.from(new Int16Array(alignedCopy(bytes)));
    case 'I8': return Int32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, n));
    case 'U8': return Int32Array.from(bytes);
    case 'BOOL': {
      const out = new Uint8Array(bytes); // a copy (Buffer#slice would share memory)
      for (let i = 0; i < n; i++) if (out[i] > 1) throw badElement(e, i, fileOffset, `is ${out[i]}, not 0 or 1`);
      return out;
    }
  }
}

/** Portable decoding through a DataView (any host byte order). */
function decodeAny(e: HeaderEntry, bytes: Uint8Array, n: number, dtype: DType, fileOffset: number): TypedArray {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: TypedArray = allocate(dtype, n);
  switch (e.dtype) {
    case 'F32': for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true); break;
    case 'F64': for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true); break;
    case 'F16': for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true)); break;
    case 'BF16': for (let i = 0; i < n; i++) out[i] = bf16ToFloat(dv.getUint16(2 * i, true)); break;
    case 'I64':
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(8 * i, true);
        if (v > 9007199254740992n || v < -9007199254740992n) throw badElement(e, i, fileOffset, `(${v}) is beyond ±2^53, which qkv's int64 cannot hold exactly`);
        out[i] = Number(v);
      }
      break;
    case 'I32': for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true); break;
    case 'I16': for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, true); break;
    case 'I8': for (let i = 0; i < n; i++) out[i] = dv.getInt8(i); break;
    case 'U8': for (let i = 0; i < n; i++) out[i] = dv.getUint8(i); break;
    case 'BOOL':
      for (let i = 0; i < n; i++) {
        const v = dv.getUint8(i);
        if (v > 1) throw badElement(e, i, fileOffset, `is ${v}, not 0 or 1`);
        out[i] = v;
      }
      break;
  }
  return out;
}

/** Adds each tie alias as a view sharing the target's storage. */
export function attachTies(tensors: Record<string, Tensor>, ties: Record<string, string>): void {
  for (const [alias, target] of Object.entries(ties)) {
    const t = tensors[target];
    setOwn(tensors, alias, t.asStrided(t.shape, t.strides, t.offset));
  }
}

/** Parses a whole safetensors file held in memory. */
export function load(bytes: Uint8Array, opts: LoadOptions = {}): LoadResult {
  if (!(bytes instanceof Uint8Array)) throw new SafetensorsError(`safetensors: load expects a Uint8Array (or Buffer), got ${Object.prototype.toString.call(bytes)}`);
  const n = readHeaderLength(bytes.subarray(0, 8), bytes.length);
  const header = parseHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n);
  const tensors: Record<string, Tensor> = {};
  for (const e of header.entries) {
    const from = header.dataStart + e.begin;
    setOwn(tensors, e.name, decodeTensor(e, bytes.subarray(from, header.dataStart + e.end), opts, from));
  }
  attachTies(tensors, header.ties);
  return { tensors, metadata: header.metadata };
}

/** The planned layout of a save: header bytes and, in data order, each tensor's offsets. */
export interface SavePlan {
  header: Uint8Array;
  items: { name: string; tensor: Tensor; begin: number; end: number }[];
  /** Size of the data section (the end of the last item). */
  dataLength: number;
}

/**
 * Checks a save and lays it out. Refuses: a tensor named `__metadata__`, non-Tensor values,
 * non-string metadata, tensors that share memory (unless declared as a tie, see SaveOptions),
 * invalid ties, and int64 values that are not integers. The header lists tensors in the order
 * given; the data is ordered by element size (8, 4, 1 bytes) so that, with the header padded to
 * a multiple of 8, every tensor is aligned to its element size.
 */
export function planSave(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}, opts: SaveOptions = {}): SavePlan {
  if (tensors === null || typeof tensors !== 'object') throw new SafetensorsError(`safetensors: save: tensors must be an object of name → Tensor, got ${tensors === null ? 'null' : typeof tensors}`);
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new SafetensorsError(`safetensors: save: metadata must be an object of strings, got ${metadata === null ? 'null' : Array.isArray(metadata) ? 'an array' : typeof metadata}`);
  }
  const names = Object.keys(tensors);
  if (names.includes('__metadata__')) throw new SafetensorsError('safetensors: save: a tensor may not be named "__metadata__" (the key is reserved for metadata)');
  for (const name of names) {
    if (!(tensors[name] instanceof Tensor)) throw new SafetensorsError(`safetensors: save: ${q(name)} is not a Tensor (got ${tensors[name] === null ? 'null' : typeof tensors[name]})`);
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError(`safetensors: save: metadata value for ${q(k)} must be a string, got ${v === null ? 'null' : typeof v}`);
  }
  const ties = resolveTies(tensors, metadata, opts.ties);
  const written = names.filter((name) => !Object.prototype.hasOwnProperty.call(ties, name));
  checkNoAliases(written.map((name) => [name, tensors[name]]));

  const meta: [string, string][] = Object.entries(metadata).filter(([k]) => k !== TIES_METADATA_KEY);
  if (Object.keys(ties).length > 0) meta.push([TIES_METADATA_KEY, JSON.stringify(ties)]);
  else if (Object.prototype.hasOwnProperty.call(metadata, TIES_METADATA_KEY)) meta.push([TIES_METADATA_KEY, metadata[TIES_METADATA_KEY]]);

  // Data order: 8-byte elements, then 4-byte, then 1-byte (stable), so everything is aligned.
  const bySize = written
    .map((name, i) => ({ name, i, size: FILE_DTYPES[SAVE_DTYPE[tensors[name].dtype]].size }))
    .sort((a, b) => b.size - a.size || a.i - b.i);
  const items: SavePlan['items'] = [];
  const offsets = new Map<string, [number, number]>();
  let at = 0;
  for (const { name, size } of bySize) {
    const t = tensors[name];
    const end = at + t.numel() * size;
    items.push({ name, tensor: t, begin: at, end });
    offsets.set(name, [at, end]);
    at = end;
  }
  // Built by hand rather than JSON.stringify(object), so that any name (`__proto__` too) survives.
  const parts: string[] = [];
  const js = JSON.stringify;
  if (meta.length > 0) parts.push(`"__metadata__":{${meta.map(([k, v]) => `${js(k)}:${js(v)}`).join(',')}}`);
  for (const name of written) {
    const t = tensors[name];
    parts.push(`${js(name)}:{"dtype":${js(SAVE_DTYPE[t.dtype])},"shape":${JSON.stringify(t.shape)},"data_offsets":${JSON.stringify(offsets.get(name))}}`);
  }
  let json = `{${parts.join(',')}}`;
  // Pad with spaces so the data section starts 8-byte aligned (what the reference writer does).
  const len = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + len) % 8)) % 8);
  const header = new TextEncoder().encode(json);
  if (header.length > MAX_HEADER_BYTES) throw new SafetensorsError(`safetensors: save: the header would be ${header.length} bytes, more than the ${MAX_HEADER_BYTES}-byte limit readers enforce`);
  return { header, items, dataLength: at };
}

/** The effective ties of a save: `opts.ties` and/or `metadata[TIES_METADATA_KEY]`, checked against `tensors`. */
function resolveTies(tensors: Record<string, Tensor>, metadata: Record<string, string>, declared: Record<string, string> | undefined): Record<string, string> {
  const where = `save: ties`;
  let ties: Record<string, string> = {};
  if (declared !== undefined) ties = checkTieObject(declared, where);
  if (Object.prototype.hasOwnProperty.call(metadata, TIES_METADATA_KEY)) {
    const fromMeta = parseTies(metadata[TIES_METADATA_KEY], `save: metadata[${q(TIES_METADATA_KEY)}]`);
    if (declared === undefined) ties = fromMeta;
    else if (JSON.stringify(Object.entries(fromMeta).sort()) !== JSON.stringify(Object.entries(ties).sort())) {
      throw new SafetensorsError(`safetensors: save: metadata[${q(TIES_METADATA_KEY)}] = ${clipText(metadata[TIES_METADATA_KEY])} disagrees with the ties option ${show(ties)}`);
    }
  }
  const has = (name: string): boolean => Object.prototype.hasOwnProperty.call(tensors, name);
  for (const [alias, target] of Object.entries(ties)) {
    const tie = `tie ${q(alias)} → ${q(target)}`;
    if (!has(target)) throw new SafetensorsError(`safetensors: ${where}: ${tie}: the target is not among the tensors being saved`);
    if (Object.prototype.hasOwnProperty.call(ties, target)) throw new SafetensorsError(`safetensors: ${where}: ${tie}: the target is itself an alias (chains and cycles are not allowed)`);
    if (has(alias)) {
      const a = tensors[alias], t = tensors[target];
      const same = a.storage === t.storage && a.dtype === t.dtype && a.offset === t.offset
        && a.shape.length === t.shape.length && a.shape.every((s, d) => s === t.shape[d] && a.strides[d] === t.strides[d]);
      if (!same) {
        throw new SafetensorsError(
          `safetensors: ${where}: ${tie}: ${q(alias)} (${a.dtype} ${fmtShape(a.shape)}) is not the same tensor as ${q(target)} (${t.dtype} ${fmtShape(t.shape)}); a tie must be one storage seen through the same view`,
        );
      }
    }
  }
  return ties;
}

const INT64_LIMIT = 2 ** 53;

/**
 * Little-endian bytes of a tensor in row-major order, as its file dtype. On a little-endian host
 * a contiguous float32/float64/int32/bool tensor is returned as a view of its storage (no copy):
 * write it out before modifying the tensor.
 */
export function encodeTensor(t: Tensor, name = 'tensor'): Uint8Array {
  const dtype = SAVE_DTYPE[t.dtype];
  const size = FILE_DTYPES[dtype].size;
  const n = t.numel();
  if (n === 0) return new Uint8Array(0);
  if (LITTLE_ENDIAN && dtype !== 'I64') {
    const data = t.isContiguous() ? t.storage.data : t.toFlat();
    const offset = t.isContiguous() ? t.offset : 0;
    return new Uint8Array(data.buffer, data.byteOffset + offset * size, n * size);
  }
  const flat = t.toFlat();
  const out = new Uint8Array(n * size);
  const dv = new DataView(out.buffer);
  switch (dtype) {
    case 'F32': for (let i = 0; i < n; i++) dv.setFloat32(4 * i, flat[i], true); break;
    case 'F64': for (let i = 0; i < n; i++) dv.setFloat64(8 * i, flat[i], true); break;
    case 'I64':
      for (let i = 0; i < n; i++) {
        const v = flat[i];
        if (!Number.isInteger(v) || Math.abs(v) > INT64_LIMIT) {
          throw new SafetensorsError(`safetensors: save: tensor ${q(name)}: int64 element ${i} is ${v}, not an integer within ±2^53`);
        }
        const hi = Math.floor(v / 4294967296);
        dv.setUint32(8 * i, v - hi * 4294967296, true);
        dv.setInt32(8 * i + 4, hi, true);
      }
      break;
    case 'I32': for (let i = 0; i < n; i++) dv.setInt32(4 * i, flat[i], true); break;
    default: for (let i = 0; i < n; i++) dv.setUint8(i, flat[i]); break;
  }
  return out;
}

/** Serialises tensors (and string metadata) to safetensors bytes. See planSave for the checks. */
export function save(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}, opts: SaveOptions = {}): Uint8Array {
  const plan = planSave(tensors, metadata, opts);
  const total = 8 + plan.header.length + plan.dataLength;
  if (total > bufferConstants.MAX_LENGTH) throw new SafetensorsError(`safetensors: save: ${total} bytes do not fit in one buffer; use saveFile, which writes tensor by tensor`);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setBigUint64(0, BigInt(plan.header.length), true);
  out.set(plan.header, 8);
  const base = 8 + plan.header.length;
  for (const it of plan.items) out.set(encodeTensor(it.tensor, it.name), base + it.begin);
  return out;
}

/** Two saved tensors must not share memory: a tie has to be declared (saved once), not duplicated. */
function checkNoAliases(tensors: [string, Tensor][]): void {
  const spans = tensors
    .filter(([, t]) => t.numel() > 0)
    .map(([name, t]) => {
      let lo = t.offset, hi = t.offset;
      t.shape.forEach((s, d) => {
        const reach = (s - 1) * t.strides[d];
        if (reach < 0) lo += reach; else hi += reach;
      });
      return { name, storage: t.storage, lo, hi };
    });
  // Group by storage, then sweep each group by start: O(n log n) rather than all pairs.
  const groups = new Map<unknown, typeof spans>();
  for (const s of spans) {
    const g = groups.get(s.storage);
    if (g) g.push(s); else groups.set(s.storage, [s]);
  }
  for (const g of groups.values()) {
    g.sort((a, b) => a.lo - b.lo);
    let reach = g[0];
    for (const b of g.slice(1)) {
      if (b.lo <= reach.hi) {
        throw new SafetensorsError(
          `safetensors: save: tensors ${q(reach.name)} and ${q(b.name)} share memory; declare the tie (save(tensors, metadata, { ties: { ${q(b.name)}: ${q(reach.name)} } })) so it is written once, or clone() one of them`,
        );
      }
      if (b.hi > reach.hi) reach = b;
    }
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const bfBuf = new DataView(new ArrayBuffer(4));
function bf16ToFloat(b: number): number {
  bfBuf.setUint32(0, b << 16, false);
  return bfBuf.getFloat32(0, false);
}
