/**
 * The safetensors format: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {string: string}}`, then
 * the data, row-major little-endian, tiled by the offsets exactly (no gaps, no overlaps, no
 * trailing bytes). Every check below fails with a SafetensorsError naming the tensor, the field
 * and the byte offset; nothing is allocated from a size that has not been checked against the
 * file. See DESIGN.md, "Checkpoints and interop".
 */
import { SafetensorsError, fmtShape } from '../errors.js';
import { allocate, type DType, type TypedArray } from '../dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { byteIndex, parseHeaderJson, type Json } from './json-header.js';

export const MAX_HEADER_BYTES = 100_000_000;

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
  entries: HeaderEntry[];
  metadata: Record<string, string>;
}

export interface LoadOptions {
  /** Load every floating tensor (F64 included) as float32. F16/BF16 always load as float32. */
  castFloats?: 'float32';
}

export interface LoadResult {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

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
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(`safetensors: header at offset 8 (${headerBytes.length} bytes) is not valid UTF-8`);
  }
  const { value, keyPositions } = parseHeaderJson(text, 8);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SafetensorsError('safetensors: header at offset 8 is not a JSON object');
  }
  const at = (name: string): number => 8 + byteIndex(text, keyPositions.get(name) ?? 0);
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(value)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new SafetensorsError(`safetensors: __metadata__ at byte ${at(name)} must be an object of strings`);
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new SafetensorsError(`safetensors: __metadata__ value for ${JSON.stringify(k)} at byte ${at(name)} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(checkEntry(name, raw, at(name)));
  }
  checkTiling(entries, dataLength, dataStart);
  return { dataStart, entries, metadata };
}

function checkEntry(name: string, raw: Json, at: number): HeaderEntry {
  const where = `tensor ${JSON.stringify(name)} (header byte ${at})`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError(`safetensors: ${where} is not an object`);
  for (const k of Object.keys(raw)) {
    if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') throw new SafetensorsError(`safetensors: ${where} has an unknown field ${JSON.stringify(k)}`);
  }
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string' || !(dtype in FILE_DTYPES)) {
    throw new SafetensorsError(`safetensors: ${where}: dtype ${JSON.stringify(dtype)} is not one of ${Object.keys(FILE_DTYPES).join(', ')}`);
  }
  if (!Array.isArray(shape) || shape.some((s) => typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0)) {
    throw new SafetensorsError(`safetensors: ${where}: shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0)) {
    throw new SafetensorsError(`safetensors: ${where}: data_offsets ${JSON.stringify(offsets)} must be two non-negative integers [begin, end]`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) throw new SafetensorsError(`safetensors: ${where}: data_offsets [${begin}, ${end}] end before they begin`);
  const size = FILE_DTYPES[dtype as FileDType].size;
  // Element count × size, checked for overflow step by step.
  let bytes = size;
  for (const s of shape as number[]) {
    bytes *= s;
    if (!Number.isSafeInteger(bytes)) throw new SafetensorsError(`safetensors: ${where}: shape ${JSON.stringify(shape)} × ${size} bytes overflows`);
  }
  if (end - begin !== bytes) {
    throw new SafetensorsError(`safetensors: ${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} ${fmtShape(shape as number[])} needs ${bytes}`);
  }
  return { name, dtype: dtype as FileDType, shape: shape as number[], begin, end, at };
}

/** Offsets must cover [0, dataLength) exactly, without gaps or overlaps. */
function checkTiling(entries: HeaderEntry[], dataLength: number, dataStart: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at) {
      const what = e.begin < at ? 'overlaps the previous tensor' : `leaves a gap of ${e.begin - at} bytes`;
      throw new SafetensorsError(`safetensors: tensor ${JSON.stringify(e.name)} (header byte ${e.at}): data_offsets begin at ${e.begin} (file offset ${dataStart + e.begin}), which ${what}; offsets must tile the data exactly`);
    }
    at = e.end;
  }
  if (at !== dataLength) {
    throw new SafetensorsError(
      at < dataLength
        ? `safetensors: ${dataLength - at} trailing bytes after the last tensor (file offset ${dataStart + at})`
        : `safetensors: tensors need ${at} data bytes but the file has ${dataLength} after the header (file offset ${dataStart + dataLength})`,
    );
  }
}

/** Decodes one tensor's bytes (any alignment; always copied into fresh storage). */
export function decodeTensor(e: HeaderEntry, bytes: Uint8Array, opts: LoadOptions = {}): Tensor {
  const n = e.shape.reduce((p, s) => p * s, 1);
  const buf = bytes.slice(0, e.end - e.begin); // aligned copy
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let dtype: DType = FILE_DTYPES[e.dtype].dtype;
  if (opts.castFloats === 'float32' && dtype === 'float64') dtype = 'float32';
  const out: TypedArray = allocate(dtype, n);
  switch (e.dtype) {
    case 'F32': for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true); break;
    case 'F64': for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true); break;
    case 'F16': for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true)); break;
    case 'BF16': for (let i = 0; i < n; i++) out[i] = bf16ToFloat(dv.getUint16(2 * i, true)); break;
    case 'I64':
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(8 * i, true);
        if (v > 9007199254740992n || v < -9007199254740992n) {
          throw new SafetensorsError(`safetensors: tensor ${JSON.stringify(e.name)}: I64 element ${i} (${v}) is beyond ±2^53, which qkv's int64 cannot hold exactly`);
        }
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
        if (v > 1) throw new SafetensorsError(`safetensors: tensor ${JSON.stringify(e.name)}: BOOL element ${i} is ${v}, not 0 or 1`);
        out[i] = v;
      }
      break;
  }
  return Tensor.fromTypedArray(out, e.shape, dtype);
}

/** Parses a whole safetensors file held in memory. */
export function load(bytes: Uint8Array, opts: LoadOptions = {}): LoadResult {
  const n = readHeaderLength(bytes.subarray(0, 8), bytes.length);
  const header = parseHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n);
  const tensors: Record<string, Tensor> = {};
  for (const e of header.entries) {
    tensors[e.name] = decodeTensor(e, bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end), opts);
  }
  return { tensors, metadata: header.metadata };
}

/** The planned layout of a save: header bytes and, per tensor, its data offset. */
export interface SavePlan {
  header: Uint8Array;
  items: { name: string; tensor: Tensor; begin: number; end: number }[];
}

export function planSave(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): SavePlan {
  const names = Object.keys(tensors);
  if (names.includes('__metadata__')) throw new SafetensorsError('safetensors: save: a tensor may not be named "__metadata__" (the key is reserved for metadata)');
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError(`safetensors: save: metadata value for ${JSON.stringify(k)} must be a string, got ${typeof v}`);
  }
  checkNoAliases(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const items: SavePlan['items'] = [];
  let at = 0;
  for (const name of names) {
    const t = tensors[name];
    if (!(t instanceof Tensor)) throw new SafetensorsError(`safetensors: save: ${JSON.stringify(name)} is not a Tensor`);
    const dtype = SAVE_DTYPE[t.dtype];
    const bytes = t.numel() * FILE_DTYPES[dtype].size;
    header[name] = { dtype, shape: t.shape, data_offsets: [at, at + bytes] };
    items.push({ name, tensor: t, begin: at, end: at + bytes });
    at += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned (what the reference writer does).
  const len = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + len) % 8)) % 8);
  return { header: new TextEncoder().encode(json), items };
}

/** Little-endian bytes of a tensor in row-major order, as its file dtype. */
export function encodeTensor(t: Tensor): Uint8Array {
  const flat = t.toFlat();
  const dtype = SAVE_DTYPE[t.dtype];
  const out = new Uint8Array(flat.length * FILE_DTYPES[dtype].size);
  const dv = new DataView(out.buffer);
  switch (dtype) {
    case 'F32': for (let i = 0; i < flat.length; i++) dv.setFloat32(4 * i, flat[i], true); break;
    case 'F64': for (let i = 0; i < flat.length; i++) dv.setFloat64(8 * i, flat[i], true); break;
    case 'I64': for (let i = 0; i < flat.length; i++) dv.setBigInt64(8 * i, BigInt(flat[i]), true); break;
    case 'I32': for (let i = 0; i < flat.length; i++) dv.setInt32(4 * i, flat[i], true); break;
    default: for (let i = 0; i < flat.length; i++) dv.setUint8(i, flat[i]); break;
  }
  return out;
}

/** Serialises tensors (and string metadata) to safetensors bytes. */
export function save(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const plan = planSave(tensors, metadata);
  const dataLen = plan.items.length ? plan.items[plan.items.length - 1].end : 0;
  const out = new Uint8Array(8 + plan.header.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(plan.header.length), true);
  out.set(plan.header, 8);
  const base = 8 + plan.header.length;
  for (const it of plan.items) out.set(encodeTensor(it.tensor), base + it.begin);
  return out;
}

/** Two saved tensors must not share memory: a tie has to be declared (saved once), not duplicated. */
function checkNoAliases(tensors: Record<string, Tensor>): void {
  const spans = Object.entries(tensors)
    .filter(([, t]) => t instanceof Tensor && t.numel() > 0)
    .map(([name, t]) => {
      let lo = t.offset, hi = t.offset;
      t.shape.forEach((s, d) => {
        const reach = (s - 1) * t.strides[d];
        if (reach < 0) lo += reach; else hi += reach;
      });
      return { name, storage: t.storage, lo, hi };
    });
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i], b = spans[j];
      if (a.storage === b.storage && a.lo <= b.hi && b.lo <= a.hi) {
        throw new SafetensorsError(
          `safetensors: save: tensors ${JSON.stringify(a.name)} and ${JSON.stringify(b.name)} share memory; save a tied weight once and record the tie in metadata, or clone() one of them`,
        );
      }
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
