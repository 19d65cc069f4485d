/**
 * The safetensors reader. The format: 8-byte little-endian header length N, N bytes of UTF-8 JSON
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
 * Strings must be valid Unicode and numbers plain integers (json-header.ts), as in the reference
 * reader (huggingface/safetensors, Rust: serde_json into u64/usize and String).
 *
 * Accepted: misaligned offsets (the bytes are copied), empty and 0-d tensors, NaN/Inf, headers
 * padded with JSON whitespace, any tensor name (`__proto__` included), and `"__metadata__": null`
 * (no metadata, as the reference reads it). Stricter than the reference, on purpose: unknown
 * fields in an entry, duplicate keys, dtypes qkv cannot decode (F8, U16, U32, U64…), I64 values
 * beyond ±2^53, BOOL bytes other than 0/1, and a dimension ≥ 2^53 even in an empty tensor (qkv's
 * shapes are JavaScript numbers, exact only below 2^53).
 */
import { SafetensorsError } from '../errors.js';
import { allocate, itemSize, type DType, type TypedArray } from '../dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { firstInvalidUtf8, parseHeaderJson, type Json } from './json-header.js';
import {
  FILE_DTYPES, LITTLE_ENDIAN, MAX_HEADER_BYTES, MAX_TENSOR_BYTES, clipShape, jsonType, q, setOwn, show,
  type FileDType, type Header, type HeaderEntry, type LoadOptions, type LoadResult,
} from './safetensors-format.js';
import { attachTies, checkTies } from './safetensors-ties.js';
import { SNIFF_BYTES, sniffFormat } from './sniff.js';

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
      if (raw === null) continue; // what the reference reader accepts as "no metadata" (Rust's None)
      if (typeof raw !== 'object' || Array.isArray(raw)) {
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
  if (Array.isArray(shape) && shape.includes(0) && shape.some((s) => typeof s === 'number' && s >= 2 ** 53)) {
    throw new SafetensorsError(`safetensors: ${where}: shape ${show(shape)} has a dimension ≥ 2^53, which qkv cannot hold exactly (its shapes are JavaScript numbers); the reference reader accepts it because the tensor is empty, qkv does not`);
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

/**
 * Reads and validates the length prefix and the header of a file of `fileSize` bytes through
 * `read(offset, length)`. When the file is not safetensors at all (the prefix or the header text
 * fails), the error says what the file is instead (a torch.save checkpoint, a GGUF file, an HTML
 * page…; see sniffFormat).
 */
export function readHeader(read: (offset: number, length: number) => Uint8Array, fileSize: number): Header {
  let n: number;
  try {
    n = readHeaderLength(read(0, Math.min(8, fileSize)), fileSize);
  } catch (err) {
    throw explainForeignFile(err, read, fileSize);
  }
  try {
    return parseHeader(read(8, n), fileSize - 8 - n);
  } catch (err) {
    throw explainForeignFile(err, read, fileSize);
  }
}

/** A SafetensorsError that names the file's real format, when sniffing recognises one. */
function explainForeignFile(err: unknown, read: (offset: number, length: number) => Uint8Array, fileSize: number): unknown {
  if (!(err instanceof SafetensorsError) || fileSize < 8) return err;
  const sniffed = sniffFormat(read(0, Math.min(SNIFF_BYTES, fileSize)));
  if (sniffed.format === 'safetensors' || sniffed.format === 'unknown' || sniffed.format === 'empty') return err;
  return new SafetensorsError(`safetensors: ${sniffed.message}`);
}

/** Parses a whole safetensors file held in memory. */
export function load(bytes: Uint8Array, opts: LoadOptions = {}): LoadResult {
  if (!(bytes instanceof Uint8Array)) throw new SafetensorsError(`safetensors: load expects a Uint8Array (or Buffer), got ${Object.prototype.toString.call(bytes)}`);
  const header = readHeader((offset, length) => bytes.subarray(offset, offset + length), bytes.length);
  const tensors: Record<string, Tensor> = {};
  for (const e of header.entries) {
    const from = header.dataStart + e.begin;
    setOwn(tensors, e.name, decodeTensor(e, bytes.subarray(from, header.dataStart + e.end), opts, from));
  }
  attachTies(tensors, header.ties);
  return { tensors, metadata: header.metadata };
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
