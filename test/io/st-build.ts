/**
 * Test-side safetensors tools, written independently of src/io so that the tests do not check
 * the library against itself:
 * - `writeRaw`: builds file bytes from entries whose fields may be anything (wrong types,
 *   duplicates, any order, any offsets), with a chosen header padding and length prefix;
 * - `layout`: valid offsets for entries in a chosen data order (misaligned when it happens);
 * - `oracle`: a plain reference decoder (JSON.parse + Buffer reads, no validation) that says
 *   what a file's bytes mean, to compare with what `load` returned;
 * - `sameAsOracle` / `bitsEqual`: comparisons that tell which tensor and element differ.
 */
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/tensor/tensor.js';

export interface RawEntry {
  name: string;
  dtype: unknown;
  shape: unknown;
  data_offsets: unknown;
  /** Extra fields to write into the entry (e.g. an unknown key). */
  extra?: Record<string, unknown>;
}

export interface RawFile {
  entries: RawEntry[];
  /** Written as `__metadata__` (first) when defined; may be any JSON value. */
  metadata?: unknown;
  data: Uint8Array;
  /** Whitespace before and after the JSON object. */
  lead?: string;
  trail?: string;
}

export const ELEMENT_SIZE: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
export const LOADS_AS: Record<string, string> = {
  F64: 'float64', F32: 'float32', F16: 'float32', BF16: 'float32', I64: 'int64', I32: 'int32', I16: 'int32', I8: 'int32', U8: 'int32', BOOL: 'bool',
};

/** The header text of a raw file (entries in the given order, duplicates kept). */
export function headerText(f: RawFile): string {
  const parts: string[] = [];
  if (f.metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(f.metadata)}`);
  for (const e of f.entries) {
    const fields = [`"dtype":${JSON.stringify(e.dtype)}`, `"shape":${JSON.stringify(e.shape)}`, `"data_offsets":${JSON.stringify(e.data_offsets)}`];
    for (const [k, v] of Object.entries(e.extra ?? {})) fields.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    parts.push(`${JSON.stringify(e.name)}:{${fields.join(',')}}`);
  }
  return `${f.lead ?? ''}{${parts.join(',')}}${f.trail ?? ''}`;
}

/** 8-byte length + header + data. `length` overrides the length prefix. */
export function fileBytes(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), length?: bigint): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

export function writeRaw(f: RawFile, length?: bigint): Uint8Array {
  return fileBytes(headerText(f), f.data, length);
}

export interface TensorSpec {
  name: string;
  dtype: string;
  shape: number[];
  /** Exactly numel × element size bytes. */
  bytes: Uint8Array;
}

/** Entries and data for `specs` laid out in `order` (indices into specs), without padding. */
export function layout(specs: TensorSpec[], order: number[] = specs.map((_, i) => i)): { entries: RawEntry[]; data: Uint8Array } {
  const offsets = new Array<[number, number]>(specs.length);
  let at = 0;
  for (const i of order) {
    offsets[i] = [at, at + specs[i].bytes.length];
    at += specs[i].bytes.length;
  }
  const data = new Uint8Array(at);
  for (let i = 0; i < specs.length; i++) data.set(specs[i].bytes, offsets[i][0]);
  return { entries: specs.map((s, i) => ({ name: s.name, dtype: s.dtype, shape: s.shape, data_offsets: offsets[i] })), data };
}

function f16(h: number): number {
  const e = (h >> 10) & 31, m = h & 1023, s = h >> 15 ? -1 : 1;
  if (e === 31) return m ? NaN : s * Infinity;
  return e ? s * Math.pow(2, e - 25) * (1024 + m) : s * Math.pow(2, -24) * m;
}

export interface OracleTensor { dtype: string; shape: number[]; values: number[] }

/**
 * What the file says, decoded without any checking (the caller only consults it for files that
 * `load` accepted). Tie aliases listed in `qkv.ties` are added as copies of their targets.
 */
export function oracle(bytes: Uint8Array): { tensors: Map<string, OracleTensor>; metadata: Record<string, string>; ties: Record<string, string> } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n)) as Record<string, any>;
  const start = 8 + n;
  const tensors = new Map<string, OracleTensor>();
  // `"__metadata__": null` means no metadata (as the reference reader reads it).
  const metadata: Record<string, string> = Object.prototype.hasOwnProperty.call(header, '__metadata__') ? header.__metadata__ ?? {} : {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const size = ELEMENT_SIZE[e.dtype];
    const count = e.shape.reduce((p: number, s: number) => p * s, 1);
    const values: number[] = [];
    for (let i = 0; i < count; i++) {
      const at = start + e.data_offsets[0] + i * size;
      switch (e.dtype) {
        case 'F64': values.push(buf.readDoubleLE(at)); break;
        case 'F32': values.push(buf.readFloatLE(at)); break;
        case 'F16': values.push(Math.fround(f16(buf.readUInt16LE(at)))); break;
        case 'BF16': values.push(Buffer.from([0, 0, buf[at], buf[at + 1]]).readFloatLE(0)); break;
        case 'I64': values.push(Number(buf.readBigInt64LE(at))); break;
        case 'I32': values.push(buf.readInt32LE(at)); break;
        case 'I16': values.push(buf.readInt16LE(at)); break;
        case 'I8': values.push(buf.readInt8(at)); break;
        case 'U8': case 'BOOL': values.push(buf[at]); break;
      }
    }
    tensors.set(name, { dtype: LOADS_AS[e.dtype], shape: e.shape, values });
  }
  const ties: Record<string, string> = metadata['qkv.ties'] !== undefined ? JSON.parse(metadata['qkv.ties']) : {};
  for (const [alias, target] of Object.entries(ties)) tensors.set(alias, tensors.get(target)!);
  return { tensors, metadata, ties };
}

/** Asserts that a load result says exactly what the oracle says the bytes say. */
export function sameAsOracle(got: { tensors: Record<string, Tensor>; metadata: Record<string, string> }, bytes: Uint8Array): void {
  const want = oracle(bytes);
  assert.deepEqual(Object.keys(got.tensors).sort(), [...want.tensors.keys()].sort(), 'tensor names');
  assert.deepEqual({ ...got.metadata }, { ...want.metadata }, 'metadata');
  for (const [name, w] of want.tensors) {
    const t = got.tensors[name];
    assert.equal(t.dtype, w.dtype, `${JSON.stringify(name)}: dtype`);
    assert.deepEqual(t.shape, w.shape, `${JSON.stringify(name)}: shape`);
    const flat = Array.from(t.toFlat() as ArrayLike<number>);
    assert.equal(flat.length, w.values.length, `${JSON.stringify(name)}: element count`);
    for (let i = 0; i < flat.length; i++) {
      if (!Object.is(flat[i], w.values[i])) assert.fail(`${JSON.stringify(name)}: element ${i} is ${flat[i]}, the file says ${w.values[i]}`);
    }
  }
  for (const [alias, target] of Object.entries(want.ties)) {
    assert.equal(got.tensors[alias].storage, got.tensors[target].storage, `tie ${alias} → ${target} shares storage`);
  }
}

/** Bit-for-bit equality of two tensors' dtype, shape and row-major contents. */
export function bitsEqual(a: Tensor, b: Tensor, label: string): void {
  assert.equal(a.dtype, b.dtype, `${label}: dtype`);
  assert.deepEqual(a.shape, b.shape, `${label}: shape`);
  const x = a.toFlat(), y = b.toFlat();
  const xb = new Uint8Array(x.buffer, x.byteOffset, x.byteLength), yb = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
  assert.equal(xb.length, yb.length, `${label}: byte length`);
  for (let i = 0; i < xb.length; i++) if (xb[i] !== yb[i]) assert.fail(`${label}: byte ${i} of the contents differs (${xb[i]} vs ${yb[i]})`);
}
