/**
 * The safetensors writer: checks a save and lays it out (`planSave`: header, data order, ties),
 * encodes tensors as little-endian bytes (`encodeTensor`) and assembles a file in memory
 * (`save`). Writing to disk, atomically and tensor by tensor, is files.ts's `saveFile`.
 */
import { SafetensorsError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import {
  FILE_DTYPES, LITTLE_ENDIAN, MAX_HEADER_BYTES, MAX_TENSOR_BYTES, SAVE_DTYPE, q, type SaveOptions,
} from './safetensors-format.js';
import { TIES_METADATA_KEY, resolveTies } from './safetensors-ties.js';
import { loneSurrogate } from './json-header.js';

/** Refuses a string with a lone UTF-16 surrogate: JSON would write it as an escape that readers refuse. */
function checkUnicode(s: string, what: string): void {
  const k = loneSurrogate(s);
  if (k >= 0) {
    throw new SafetensorsError(`safetensors: save: ${what} holds a lone UTF-16 surrogate (\\u${s.charCodeAt(k).toString(16)} at index ${k}), which is not Unicode text; safetensors readers (qkv's and the reference) refuse such a file`);
  }
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
  // What the reader (and the reference reader) refuses, the writer refuses: strings that are not Unicode.
  for (const name of names) checkUnicode(name, `tensor name ${q(name)}`);
  for (const [k, v] of Object.entries(metadata)) {
    checkUnicode(k, `metadata key ${q(k)}`);
    checkUnicode(v, `metadata value for ${q(k)}`);
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
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  // Pad with spaces so the data section starts 8-byte aligned (what the reference writer does).
  const header = new Uint8Array(json.length + ((8 - ((8 + json.length) % 8)) % 8)).fill(0x20);
  header.set(json);
  if (header.length > MAX_HEADER_BYTES) throw new SafetensorsError(`safetensors: save: the header would be ${header.length} bytes, more than the ${MAX_HEADER_BYTES}-byte limit readers enforce`);
  return { header, items, dataLength: at };
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
  if (total > MAX_TENSOR_BYTES) throw new SafetensorsError(`safetensors: save: ${total} bytes do not fit in one buffer; use saveFile, which writes tensor by tensor`);
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

