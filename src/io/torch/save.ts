/**
 * Writes torch.save zip files that `torch.load(path, weights_only=True)` reads (PyTorch 1.13 and
 * later): the object pickled with protocol 2 exactly as torch.save pickles it — tensors as
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())`,
 * each storage as a persistent id `('storage', torch.<Type>Storage, key, 'cpu', numel)` — and one
 * zip entry `data/<key>` per qkv Storage, so tensors that share a Storage (tied weights, views)
 * share it in PyTorch too, with their offsets and strides.
 *
 * Values written: Tensor (float32, float64, int64, int32, bool); number (an integer within ±2^53 as
 * a Python int, anything else — fractions, NaN, ±Infinity, −0, and integers beyond 2^53, which a
 * double cannot hold exactly — as a float; write a bigint for an exact big int, as loadTorch returns
 * them); bigint (int); string; boolean;
 * null (None); Array (list; a frozen array is written as a tuple, so loaded tuples round-trip);
 * plain object (dict with str keys — except that an optimizer state dict, an object with exactly
 * `state` and `param_groups`, gets its integer-like `state` keys written as ints, which
 * torch.optim requires); Map (dict with the keys' own types: str, int, float, bool, None, tuple);
 * TorchGlobal and TorchStorage from a load. Anything else (undefined, functions, symbols, Sets,
 * typed arrays, class instances) is a TorchSaveError naming its path, e.g. `obj.config.when`.
 *
 * Note: PyTorch 1.13's weights_only reader has no opcode for floats (BINFLOAT); PyTorch ≥ 2.0 reads
 * them. A file holding Python floats loads in 1.13 only with weights_only=False.
 */
import { TorchSaveError } from '../../errors.js';
import { checkOptions } from '../../options.js';
import type { DType, TypedArray } from '../../dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Storage } from '../../tensor/storage.js';
import { zipPieces, type ZipWriteEntry } from './zip.js';
import { SAVE_TORCH_DTYPE, TORCH_DTYPES, TorchGlobal, TorchStorage, type TorchDTypeName } from './values.js';

export interface TorchSaveOptions {
  /** The folder inside the zip (torch uses the file name without its extension). Default 'archive'. */
  archiveName?: string;
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** The zip format version torch 1.13 writes. */
const FORMAT_VERSION = '3\n';

class Out {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(1 << 16);
  private n = 0;

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    this.chunks.push(this.buf.subarray(0, this.n));
    this.buf = new Uint8Array(Math.max(1 << 16, k));
    this.n = 0;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.n++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }

  u32(v: number): void {
    this.room(4);
    new DataView(this.buf.buffer).setUint32(this.n, v, true);
    this.n += 4;
  }

  result(): Uint8Array {
    this.chunks.push(this.buf.subarray(0, this.n));
    const total = this.chunks.reduce((s, c) => s + c.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** UTF-8 with Python's "surrogatepass" (a lone surrogate is encoded as three bytes). */
export function encodeUtf8SurrogatePass(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

/** Minimal little-endian two's complement bytes of an int (Python's encode_long). */
function encodeLong(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  const bytes: number[] = [];
  let x = v;
  for (;;) {
    const b = Number(x & 0xffn);
    bytes.push(b);
    x >>= 8n;
    if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) break;
  }
  return Uint8Array.from(bytes);
}

interface PlannedStorage {
  key: string;
  storage: Storage;
  dtype: DType;
  /** For a TorchStorage saved as itself: its torch dtype and element range. */
  torchDtype: TorchDTypeName;
  /** A tensor of this storage, to name in messages. */
  firstPath: string;
}

const INT_KEY = /^(0|[1-9][0-9]{0,15})$/;

class Pickler {
  readonly out = new Out();
  private readonly memo = new Map<unknown, number>();
  private readonly globals = new Map<string, number>();
  readonly storages = new Map<Storage, PlannedStorage>();
  private readonly inProgress = new Set<unknown>();

  private put(obj: unknown): void {
    const i = this.memo.size;
    this.memo.set(obj, i);
    this.memoIndex(i, 0x71, 0x72);
  }

  private memoIndex(i: number, short: number, long: number): void {
    if (i < 256) {
      this.out.byte(short);
      this.out.byte(i);
    } else {
      this.out.byte(long);
      this.out.u32(i);
    }
  }

  private getMemo(obj: unknown): boolean {
    const i = this.memo.get(obj);
    if (i === undefined) return false;
    this.memoIndex(i, 0x68, 0x6a); // BINGET / LONG_BINGET
    return true;
  }

  private global(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const i = this.globals.get(key);
    if (i !== undefined) {
      this.memoIndex(i, 0x68, 0x6a);
      return;
    }
    this.out.byte(0x63); // GLOBAL
    this.out.bytes(encodeUtf8SurrogatePass(`${module}\n${name}\n`));
    const idx = this.memo.size;
    this.memo.set(Symbol(key), idx);
    this.globals.set(key, idx);
    this.memoIndex(idx, 0x71, 0x72);
  }

  str(s: string): void {
    const b = encodeUtf8SurrogatePass(s);
    this.out.byte(0x58); // BINUNICODE
    this.out.u32(b.length);
    this.out.bytes(b);
  }

  int(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v < 256) {
      this.out.byte(0x4b);
      this.out.byte(v);
    } else if (typeof v === 'number' && v >= 0 && v < 65536) {
      this.out.byte(0x4d);
      this.out.byte(v & 0xff);
      this.out.byte(v >> 8);
    } else if (typeof v === 'number' && v >= -2147483648 && v <= 2147483647) {
      this.out.byte(0x4a);
      this.out.u32(v >>> 0);
    } else {
      const b = encodeLong(BigInt(v));
      if (b.length < 256) {
        this.out.byte(0x8a);
        this.out.byte(b.length);
      } else {
        this.out.byte(0x8b);
        this.out.u32(b.length);
      }
      this.out.bytes(b);
    }
  }

  float(v: number): void {
    this.out.byte(0x47); // BINFLOAT, big-endian
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    this.out.bytes(b);
  }

  number(v: number): void {
    if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.int(v);
    else this.float(v);
  }

  private tuple(items: (() => void)[]): void {
    if (items.length === 0) {
      this.out.byte(0x29);
      return;
    }
    if (items.length <= 3) {
      for (const f of items) f();
      this.out.byte(0x84 + items.length); // TUPLE1..3
      return;
    }
    this.out.byte(0x28); // MARK
    for (const f of items) f();
    this.out.byte(0x74); // TUPLE
  }

  private storagePid(p: PlannedStorage, numel: number): void {
    this.out.byte(0x28); // MARK
    this.str('storage');
    this.global('torch', TORCH_DTYPES[p.torchDtype].storage);
    this.str(p.key);
    this.str('cpu');
    this.int(numel);
    this.out.byte(0x74); // TUPLE
    this.out.byte(0x51); // BINPERSID
  }

  private planStorage(storage: Storage, dtype: DType, path: string): PlannedStorage {
    let p = this.storages.get(storage);
    if (p) {
      if (p.dtype !== dtype) {
        throw new TorchSaveError(`io.saveTorch: ${path} (${dtype}) and ${p.firstPath} (${p.dtype}) share one storage with different dtypes; torch.save cannot store that either`);
      }
      return p;
    }
    p = { key: String(this.storages.size), storage, dtype, torchDtype: SAVE_TORCH_DTYPE[dtype], firstPath: path };
    this.storages.set(storage, p);
    return p;
  }

  private tensor(t: Tensor, path: string): void {
    if (this.getMemo(t)) return;
    if (t.strides.some((s) => s < 0)) t = t.contiguous(); // torch has no negative strides
    const p = this.planStorage(t.storage, t.dtype, path);
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.out.byte(0x28); // MARK
    this.storagePid(p, t.storage.data.length);
    this.int(t.offset);
    this.tuple(t.shape.map((s) => () => this.int(s)));
    this.tuple(t.strides.map((s) => () => this.int(s)));
    this.out.byte(t.requiresGrad ? 0x88 : 0x89);
    this.global('collections', 'OrderedDict');
    this.out.byte(0x29);
    this.out.byte(0x52); // REDUCE → OrderedDict()
    this.out.byte(0x74); // TUPLE
    this.out.byte(0x52); // REDUCE → the tensor
    this.put(t);
  }

  private dictItems(entries: [() => void, unknown, string][]): void {
    for (let i = 0; i < entries.length; i += 1000) {
      const batch = entries.slice(i, i + 1000);
      if (batch.length > 1) this.out.byte(0x28);
      for (const [key, v, path] of batch) {
        key();
        this.save(v, path);
      }
      this.out.byte(batch.length > 1 ? 0x75 : 0x73); // SETITEMS / SETITEM
    }
  }

  private mapKey(k: unknown, path: string): () => void {
    if (typeof k === 'string') return () => this.str(k);
    if (typeof k === 'number') return () => this.number(k);
    if (typeof k === 'bigint') return () => this.int(k);
    if (typeof k === 'boolean') return () => this.out.byte(k ? 0x88 : 0x89);
    if (k === null) return () => this.out.byte(0x4e);
    if (Array.isArray(k) && Object.isFrozen(k)) return () => this.save(k, `${path}.<key>`);
    throw new TorchSaveError(`io.saveTorch: ${path} has a Map key of type ${k === undefined ? 'undefined' : Array.isArray(k) ? 'array (a list is unhashable in Python; freeze it to write a tuple)' : typeof k}; keys must be strings, numbers, bigints, booleans, null or frozen arrays`);
  }

  save(v: unknown, path: string): void {
    if (v === null) return this.out.byte(0x4e);
    switch (typeof v) {
      case 'boolean': return this.out.byte(v ? 0x88 : 0x89);
      case 'number': return this.number(v);
      case 'bigint': return this.int(v);
      case 'string': return this.str(v);
      case 'undefined': throw new TorchSaveError(`io.saveTorch: ${path} is undefined; use null for Python's None`);
      case 'object': break;
      default: throw new TorchSaveError(`io.saveTorch: ${path} is a ${typeof v}, which cannot be pickled`);
    }
    if (v instanceof Tensor) return this.tensor(v, path);
    if (v instanceof TorchGlobal) return this.global(v.module, v.name);
    if (v instanceof TorchStorage) {
      if (this.getMemo(v)) return;
      const p = this.planStorage(v.storage, v.dtype, path);
      if (v.offset !== 0 || v.numel !== v.storage.data.length) throw new TorchSaveError(`io.saveTorch: ${path} is a view into a larger legacy storage; save a tensor of it instead`);
      if (SAVE_TORCH_DTYPE[v.dtype] !== p.torchDtype) throw new TorchSaveError(`io.saveTorch: ${path}: internal storage dtype mismatch`);
      this.storagePid(p, v.numel);
      this.put(v);
      return;
    }
    if (this.getMemo(v)) return;
    if (Array.isArray(v)) {
      if (Object.isFrozen(v)) {
        if (this.inProgress.has(v)) throw new TorchSaveError(`io.saveTorch: ${path} is a frozen array (a tuple) that contains itself`);
        this.inProgress.add(v);
        this.tuple(v.map((x, i) => () => this.save(x, `${path}[${i}]`)));
        this.inProgress.delete(v);
        if (this.memo.has(v)) {
          throw new TorchSaveError(`io.saveTorch: ${path} is a frozen array (a tuple) that contains itself through a list or dict`);
        }
        this.put(v);
        return;
      }
      this.out.byte(0x5d); // EMPTY_LIST
      this.put(v);
      for (let i = 0; i < v.length; i += 1000) {
        const n = Math.min(1000, v.length - i);
        if (n > 1) this.out.byte(0x28);
        for (let j = i; j < i + n; j++) this.save(v[j], `${path}[${j}]`);
        this.out.byte(n > 1 ? 0x65 : 0x61); // APPENDS / APPEND
      }
      return;
    }
    if (v instanceof Map) {
      this.out.byte(0x7d);
      this.put(v);
      this.dictItems([...v.entries()].map(([k, x]) => [this.mapKey(k, path), x, `${path}.get(${typeof k === 'string' ? JSON.stringify(k) : String(k)})`]));
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj);
      const optimizer = keys.length === 2 && keys.includes('state') && keys.includes('param_groups') && Array.isArray(obj.param_groups);
      this.out.byte(0x7d);
      this.put(v);
      this.dictItems(keys.map((k) => {
        const child = `${path}${/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`}`;
        if (optimizer && k === 'state' && obj.state !== null && typeof obj.state === 'object' && !(obj.state instanceof Map) && !this.memo.has(obj.state)) {
          return [() => this.str(k), new IntKeyed(obj.state as Record<string, unknown>), child];
        }
        return [() => this.str(k), obj[k], child];
      }));
      return;
    }
    if (v instanceof IntKeyed) {
      this.out.byte(0x7d);
      this.put(v.obj);
      this.dictItems(Object.keys(v.obj).map((k) => [INT_KEY.test(k) ? () => this.int(Number(k)) : () => this.str(k), v.obj[k], `${path}[${JSON.stringify(k)}]`]));
      return;
    }
    const what = v instanceof Set ? 'a Set (torch.load(weights_only=True) of PyTorch 1.13 cannot read sets; use an array)'
      : ArrayBuffer.isView(v) ? 'a typed array (wrap it in a Tensor)'
        : `an instance of ${(proto as { constructor?: { name?: string } })?.constructor?.name ?? 'an unknown class'}`;
    throw new TorchSaveError(`io.saveTorch: ${path} is ${what}, which cannot be written to a torch.save file`);
  }
}

/** An optimizer's `state` object: its integer-like keys are written as Python ints. */
class IntKeyed {
  constructor(readonly obj: Record<string, unknown>) {}
}

/** Little-endian bytes of a whole storage, as its torch dtype. */
function storageBytes(p: PlannedStorage): Uint8Array {
  const data: TypedArray = p.storage.data;
  const n = data.length;
  if (p.dtype === 'int64') {
    const out = new Uint8Array(n * 8);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || Math.abs(v) > 2 ** 53) {
        throw new TorchSaveError(`io.saveTorch: ${p.firstPath}: int64 storage element ${i} is ${v}, not an integer within ±2^53`);
      }
      const hi = Math.floor(v / 4294967296);
      dv.setUint32(8 * i, v - hi * 4294967296, true);
      dv.setInt32(8 * i + 4, hi, true);
    }
    return out;
  }
  if (p.dtype === 'bool') {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = data[i] ? 1 : 0;
    return out;
  }
  if (HOST_LE) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const size = TORCH_DTYPES[p.torchDtype].size;
  const out = new Uint8Array(n * size);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    if (p.dtype === 'float32') dv.setFloat32(4 * i, data[i], true);
    else if (p.dtype === 'float64') dv.setFloat64(8 * i, data[i], true);
    else dv.setInt32(4 * i, data[i], true);
  }
  return out;
}

function archiveNameOf(opts: TorchSaveOptions | undefined): string {
  const o = checkOptions(opts, ['archiveName'], 'io.saveTorch');
  const name = o.archiveName ?? 'archive';
  if (typeof name !== 'string' || name.length === 0 || /[/\\\0]/.test(name)) {
    throw new TorchSaveError(`io.saveTorch: archiveName must be a non-empty string without slashes, got ${JSON.stringify(name)}`);
  }
  return name;
}

/**
 * The zip pieces of a torch.save file for `obj`, in file order (storage data included by
 * reference where no conversion is needed: write them out before modifying the tensors).
 */
export function planTorchSave(obj: unknown, opts?: TorchSaveOptions): Uint8Array[] {
  const folder = archiveNameOf(opts);
  const p = new Pickler();
  p.out.byte(0x80);
  p.out.byte(2); // PROTO 2, what torch.save writes by default
  p.save(obj, 'obj');
  p.out.byte(0x2e); // STOP
  const entries: ZipWriteEntry[] = [{ name: `${folder}/data.pkl`, data: p.out.result() }];
  for (const s of p.storages.values()) entries.push({ name: `${folder}/data/${s.key}`, data: storageBytes(s) });
  entries.push({ name: `${folder}/version`, data: new TextEncoder().encode(FORMAT_VERSION) });
  entries.push({ name: `${folder}/byteorder`, data: new TextEncoder().encode('little') });
  return zipPieces(entries);
}

/** A torch.save file for `obj` as bytes (see planTorchSave for what can be saved). */
export function saveTorchBytes(obj: unknown, opts?: TorchSaveOptions): Uint8Array {
  const pieces = planTorchSave(obj, opts);
  const total = pieces.reduce((s, x) => s + x.length, 0);
  let out: Uint8Array;
  try {
    out = new Uint8Array(total);
  } catch {
    throw new TorchSaveError(`io.saveTorch: ${total} bytes do not fit in one buffer; save to a file with io.saveTorch(path, obj)`);
  }
  let at = 0;
  for (const x of pieces) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

