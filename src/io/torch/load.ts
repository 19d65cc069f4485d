/**
 * torch.save files → JavaScript values and qkv Tensors, with `torch.load(weights_only=True)`'s
 * rules (see pickle.ts) and without `node:` (files are read by ./files.ts).
 *
 * Two formats, as torch.load tells them apart:
 *
 * 1. zip (PyTorch ≥ 1.6, the default): `<folder>/data.pkl` (the pickle), `<folder>/data/<key>`
 *    (one entry per storage, raw elements), `<folder>/version` (or `.data/version`: 1–10, as
 *    PyTorch 1.13 accepts), optional `<folder>/byteorder` ("little" or "big"). The folder is the
 *    first entry's, as PyTorch's reader takes it. Persistent ids are
 *    `('storage', <storage class>, key, location, numel)`.
 * 2. legacy (`_use_new_zipfile_serialization=False`, and every file before PyTorch 1.6): five
 *    pickles in a row — the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, a
 *    sys-info dict, the object (persistent ids `('storage', class, key, location, numel,
 *    view_metadata)`), the list of storage keys — then, for each key in that order, an 8-byte
 *    little-endian element count and the elements (little-endian).
 *
 * Storages are shared: every tensor that names the same key gets the same qkv Storage (tied
 * weights stay tied, views keep their offsets and strides). A key named again with another dtype
 * or size is an inconsistent file. Also refused, each a TorchLoadError: the tar format of
 * PyTorch < 0.1.10, TorchScript archives (`torch.jit.save`), a missing or bad version, a storage
 * entry shorter than its elements, a view reaching past its storage.
 */
import { ArgumentError, TorchLoadError } from '../../errors.js';
import { checkOptions } from '../../options.js';
import type { DType } from '../../dtype.js';
import { Storage } from '../../tensor/storage.js';
import { ZipReader, bytesSource, type ByteSource, type ZipEntry } from './zip.js';
import { unpickle } from './pickle.js';
import { decodeStorage, describe, loadedDType, type DecodeOptions } from './storage-decode.js';
import { TORCH_DTYPES, TorchGlobal, TorchStorage, type TorchDTypeName } from './values.js';

export interface TorchLoadOptions {
  /**
   * How Python dicts (and OrderedDicts) come back: `'object'` (default) — plain objects, keys in
   * file order except that JavaScript lists integer-like keys first in ascending order, int keys
   * as their decimal strings (what qkv's optimizer state dicts use), any other key type an error;
   * `'map'` — Maps with the keys exactly as pickled (tuples as frozen arrays).
   */
  dicts?: 'object' | 'map';
  /**
   * float16/bfloat16 load as float32 and int8/uint8/int16 as int32 (exact: every value fits).
   * Default true; false makes a storage of those dtypes a TorchLoadError.
   */
  widen?: boolean;
  /** Load float64 storages as float32. */
  castFloats?: 'float32';
  /** Verify each zip entry's CRC-32 (default true; the check costs about one pass over the data). */
  checkCrc?: boolean;
}

const OPTION_KEYS = ['dicts', 'widen', 'castFloats', 'checkCrc'];

interface Resolved extends DecodeOptions {
  dicts: 'object' | 'map';
  checkCrc: boolean;
}

export function resolveLoadOptions(opts: TorchLoadOptions | undefined, where: string): Resolved {
  const o = checkOptions(opts, OPTION_KEYS, where);
  if (o.dicts !== undefined && o.dicts !== 'object' && o.dicts !== 'map') throw new ArgumentError(`${where}: dicts must be 'object' or 'map', got ${JSON.stringify(o.dicts)}`);
  if (o.widen !== undefined && typeof o.widen !== 'boolean') throw new ArgumentError(`${where}: widen must be a boolean, got ${JSON.stringify(o.widen)}`);
  if (o.castFloats !== undefined && o.castFloats !== 'float32') throw new ArgumentError(`${where}: castFloats must be 'float32', got ${JSON.stringify(o.castFloats)}`);
  if (o.checkCrc !== undefined && typeof o.checkCrc !== 'boolean') throw new ArgumentError(`${where}: checkCrc must be a boolean, got ${JSON.stringify(o.checkCrc)}`);
  return { dicts: o.dicts ?? 'object', widen: o.widen ?? true, castFloats: o.castFloats, checkCrc: o.checkCrc ?? true };
}

/** 0x1950a86a20f9469cfc6c little-endian: the legacy format's magic number as pickled (LONG1). */
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;
/** PyTorch 1.13 reads zip format versions 1 to 10 (caffe2/serialize/versions.h). */
const MIN_VERSION = 1;
const MAX_VERSION = 10;

/**
 * Which torch.save format `bytes` (the start of a file; 64 bytes are plenty) looks like:
 * `'zip'` (a zip whose first entry sits in a folder, as torch.save writes), `'legacy'` (a pickle
 * that starts with torch's magic number), or null.
 */
export function sniffTorchFormat(bytes: Uint8Array): 'zip' | 'legacy' | null {
  if (!(bytes instanceof Uint8Array)) return null;
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    if (bytes.length < 30) return 'zip';
    const n = bytes[26] | (bytes[27] << 8);
    const name = bytes.subarray(30, Math.min(bytes.length, 30 + n));
    const slash = name.indexOf(0x2f);
    return name.length < n || slash > 0 ? 'zip' : null;
  }
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) {
    let p = 2;
    if (bytes[p] === 0x95) p += 9; // FRAME (protocol 4+)
    for (let i = 0; i < LEGACY_MAGIC.length; i++, p++) {
      if (p >= bytes.length) return i > 0 ? 'legacy' : null;
      if (bytes[p] !== LEGACY_MAGIC[i]) return null;
    }
    return 'legacy';
  }
  return null;
}

/** Whether `bytes` (the start of a file) is a torch.save file, zip or legacy. */
export function isTorchSaveFile(bytes: Uint8Array): boolean {
  return sniffTorchFormat(bytes) !== null;
}

function notTorch(head: Uint8Array, size: number): never {
  const hex = Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  if (size === 0) throw new TorchLoadError('torch.load: the file is empty');
  if (head.length >= 8 && head[0] === 0x50 && head[1] === 0x59 && String.fromCharCode(...head.subarray(0, 8)) === 'PYTORCH1') {
    throw new TorchLoadError('torch.load: this is the "PYTORCH1" archive of a PyTorch preview release, which PyTorch itself no longer reads');
  }
  if (head.length >= 9) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (head[8] === 0x7b && n > 1n && n <= BigInt(size - 8)) {
      throw new TorchLoadError('torch.load: this looks like a safetensors file (an 8-byte header length, then JSON); use io.load / io.loadFile');
    }
  }
  if (head.length >= 262 && String.fromCharCode(...head.subarray(257, 262)) === 'ustar') {
    throw new TorchLoadError('torch.load: this is a tar archive: the torch.save format of PyTorch before 0.1.10, which qkv does not read (load and re-save it with a current PyTorch)');
  }
  throw new TorchLoadError(`torch.load: not a torch.save file: it starts with ${hex}, neither a zip (50 4b 03 04) nor a pickle with torch's magic number (80 02 8a 0a 6c fc …)`);
}

/** Loads a torch.save file held in memory (see readTorch). */
export function loadTorchBytes(bytes: Uint8Array | ArrayBuffer, opts?: TorchLoadOptions): unknown {
  const b = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  if (!(b instanceof Uint8Array)) throw new ArgumentError(`io.loadTorch: expected a path, a Uint8Array or an ArrayBuffer, got ${Object.prototype.toString.call(bytes)}`);
  return readTorch(bytesSource(b), resolveLoadOptions(opts, 'io.loadTorch'));
}

/** Loads a torch.save file from any ByteSource (files.ts passes a file; options already resolved). */
export function readTorch(src: ByteSource, opts: Resolved): unknown {
  const head = src.read(0, Math.min(src.size, 512));
  const format = sniffTorchFormat(head.subarray(0, 64));
  if (format === 'zip' || (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04)) return readZip(src, opts);
  if (format === 'legacy' || (head.length >= 1 && head[0] === 0x80)) return readLegacy(src.read(0, src.size), opts);
  return notTorch(head, src.size);
}

/** A storage class global → its dtype (a TorchLoadError for anything else). */
function storageDType(cls: unknown, fail: (m: string) => never): TorchDTypeName {
  if (!(cls instanceof TorchGlobal) || cls.info.kind !== 'storage') return fail(`the storage type in a persistent id is ${describe(cls)}, not a storage class`);
  const info = cls.info;
  if (info.kind !== 'storage' || info.dtype === null) return fail(`the storage type ${cls.qualifiedName} has no dtype`);
  return info.dtype;
}

function storageKey(v: unknown, fail: (m: string) => never): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return fail(`a storage key is ${describe(v)}, not a str`);
}

function storageNumel(v: unknown, fail: (m: string) => never): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return fail(`a storage size is ${describe(v)}, not a non-negative int`);
  return v;
}

function checkLocation(v: unknown, fail: (m: string) => never): void {
  if (typeof v !== 'string' && !(v instanceof Uint8Array)) fail(`a storage location is ${describe(v)}, not a str such as 'cpu'`);
}

/** The entry `<prefix>/<name>` of the archive, if present. */
function findRecord(zip: ZipReader, prefix: string, name: string): ZipEntry | undefined {
  return zip.entries.get(`${prefix}/${name}`);
}

function readZip(src: ByteSource, opts: Resolved): unknown {
  const zip = new ZipReader(src);
  if (zip.order.length === 0) throw new TorchLoadError('torch.load: zip: the archive has no entries');
  const first = zip.order[0].name;
  const slash = first.indexOf('/');
  if (slash <= 0) throw new TorchLoadError(`torch.load: zip: the first entry ${JSON.stringify(first)} is not in a folder; torch.save puts every entry in one (e.g. "archive/data.pkl")`);
  const prefix = first.slice(0, slash);
  const text = (e: ZipEntry): string => {
    const b = zip.read(e, opts.checkCrc);
    let s = '';
    for (const c of b.subarray(0, 64)) s += String.fromCharCode(c);
    return s;
  };
  const versionEntry = findRecord(zip, prefix, '.data/version') ?? findRecord(zip, prefix, 'version');
  if (!versionEntry) {
    throw new TorchLoadError(`torch.load: zip: no "${prefix}/version" entry; every torch.save archive has one (is this a torch.save file? it has ${zip.order.length} entries, the first ${JSON.stringify(first)})`);
  }
  const vs = text(versionEntry);
  const m = /^[ \t\n\r\f\v]*\+?([0-9]+)/.exec(vs);
  const version = m ? Number(m[1]) : NaN;
  if (!(version >= MIN_VERSION && version <= MAX_VERSION)) {
    throw new TorchLoadError(`torch.load: zip entry ${JSON.stringify(versionEntry.name)}: format version ${JSON.stringify(vs.slice(0, 20))} is not a number from ${MIN_VERSION} to ${MAX_VERSION} (what PyTorch 1.13 reads)`);
  }
  let littleEndian = true;
  const bo = findRecord(zip, prefix, 'byteorder');
  if (bo) {
    const s = text(bo);
    if (s === 'big') littleEndian = false;
    else if (s !== 'little') throw new TorchLoadError(`torch.load: zip entry ${JSON.stringify(bo.name)}: byte order ${JSON.stringify(s.slice(0, 20))} is neither "little" nor "big"`);
  }
  const pkl = findRecord(zip, prefix, 'data.pkl');
  if (!pkl) {
    if (findRecord(zip, prefix, 'constants.pkl')) throw new TorchLoadError('torch.load: this is a TorchScript archive (torch.jit.save), not a torch.save file; qkv reads torch.save files');
    throw new TorchLoadError(`torch.load: zip: no "${prefix}/data.pkl" entry (the pickled object)`);
  }
  const pickle = zip.read(pkl, opts.checkCrc);
  const pickleOffset = pkl.method === 0 ? zip.dataOffset(pkl) : -1;
  const loaded = new Map<string, TorchStorage>();
  return unpickle(pickle, 0, {
    where: `zip entry ${JSON.stringify(pkl.name)}`,
    fileOffset: pickleOffset,
    dicts: opts.dicts,
    persistentLoad: (pid, fail) => {
      if (pid.length !== 5) return fail(`a storage persistent id has ${pid.length} fields; the zip format writes 5 ('storage', type, key, location, numel)`);
      const t = storageDType(pid[1], fail);
      const key = storageKey(pid[2], fail);
      checkLocation(pid[3], fail);
      const numel = storageNumel(pid[4], fail);
      const seen = loaded.get(key);
      if (seen) {
        if (seen.torchDtype !== t || seen.numel !== numel) {
          return fail(`storage ${JSON.stringify(key)} is named as torch.${t} × ${numel} but was loaded as torch.${seen.torchDtype} × ${seen.numel}; the file is inconsistent`);
        }
        return seen;
      }
      const dtype = loadedDType(t, opts, `storage ${JSON.stringify(key)}`);
      const entry = findRecord(zip, prefix, `data/${key}`);
      if (!entry) return fail(`storage ${JSON.stringify(key)} has no "${prefix}/data/${key}" entry in the archive`);
      const nbytes = numel * TORCH_DTYPES[t].size;
      if (!Number.isSafeInteger(nbytes) || entry.size < nbytes) {
        return fail(`storage ${JSON.stringify(key)} needs ${numel} × ${TORCH_DTYPES[t].size} bytes but its entry ${JSON.stringify(entry.name)} holds ${entry.size} (the storage is too short)`);
      }
      const raw = zip.read(entry, opts.checkCrc);
      const data = decodeStorage(raw, t, dtype, numel, littleEndian, src.fresh || entry.method !== 0, `zip entry ${JSON.stringify(entry.name)} (torch.${t})`);
      const st = new TorchStorage(key, t, dtype, new Storage(data), numel);
      loaded.set(key, st);
      return st;
    },
  }).value;
}

interface Pending {
  key: string;
  t: TorchDTypeName;
  dtype: DType;
  numel: number;
  root: TorchStorage;
}

function readLegacy(bytes: Uint8Array, opts: Resolved): unknown {
  const plain = (start: number, what: string): { value: unknown; end: number } =>
    unpickle(bytes, start, { where: `the legacy ${what} pickle`, fileOffset: 0, dicts: 'map' });
  const magic = plain(0, 'magic-number');
  if (magic.value !== MAGIC_NUMBER) {
    throw new TorchLoadError(`torch.load: not a torch.save file: the first pickle is ${describe(magic.value)}, not torch's magic number 0x1950a86a20f9469cfc6c`);
  }
  const proto = plain(magic.end, 'protocol-version');
  if (proto.value !== LEGACY_PROTOCOL_VERSION) throw new TorchLoadError(`torch.load: legacy format: protocol version ${describe(proto.value)} at file offset ${magic.end}, expected ${LEGACY_PROTOCOL_VERSION}`);
  const sys = plain(proto.end, 'sys-info');
  if (!(sys.value instanceof Map)) throw new TorchLoadError(`torch.load: legacy format: the sys-info pickle at file offset ${proto.end} is ${describe(sys.value)}, not a dict`);
  const roots = new Map<string, Pending>();
  const views = new Map<string, TorchStorage>();
  const main = unpickle(bytes, sys.end, {
    where: 'the legacy object pickle',
    fileOffset: 0,
    dicts: opts.dicts,
    persistentLoad: (pid, fail) => {
      if (pid.length !== 6) return fail(`a storage persistent id has ${pid.length} fields; the legacy format writes 6 ('storage', type, key, location, numel, view)`);
      const t = storageDType(pid[1], fail);
      const key = storageKey(pid[2], fail);
      checkLocation(pid[3], fail);
      const numel = storageNumel(pid[4], fail);
      let root = roots.get(key);
      if (root) {
        if (root.t !== t || root.numel !== numel) {
          return fail(`storage ${JSON.stringify(key)} is named as torch.${t} × ${numel} but earlier as torch.${root.t} × ${root.numel}; the file is inconsistent`);
        }
      } else {
        const nbytes = numel * TORCH_DTYPES[t].size;
        if (!Number.isSafeInteger(nbytes) || nbytes > bytes.length) return fail(`storage ${JSON.stringify(key)} claims ${numel} elements of torch.${t}, more than the ${bytes.length}-byte file holds`);
        const dtype = loadedDType(t, opts, `storage ${JSON.stringify(key)}`);
        // The data follows the pickle; the qkv Storage is filled in once it has been read.
        const storage = new TorchStorage(key, t, dtype, new Storage(new Float32Array(0)), numel);
        root = { key, t, dtype, numel, root: storage };
        roots.set(key, root);
      }
      const view = pid[5];
      if (view === null) return root.root;
      if (!Array.isArray(view) || view.length !== 3) return fail(`a storage view is ${describe(view)}, not (view_key, offset, size)`);
      const viewKey = storageKey(view[0], fail);
      const off = storageNumel(view[1], fail), n = storageNumel(view[2], fail);
      if (off + n > numel) return fail(`storage view ${JSON.stringify(viewKey)} covers elements [${off}, ${off + n}) of storage ${JSON.stringify(key)}, which has ${numel}`);
      let v = views.get(viewKey);
      if (!v) views.set(viewKey, (v = new TorchStorage(viewKey, t, root.dtype, root.root.storage, n, off)));
      else if (v.storage !== root.root.storage || v.offset !== off || v.numel !== n) return fail(`storage view ${JSON.stringify(viewKey)} is described twice, differently`);
      return v;
    },
  });
  const keys = plain(main.end, 'storage-keys');
  if (!Array.isArray(keys.value)) throw new TorchLoadError(`torch.load: legacy format: the storage key list at file offset ${main.end} is ${describe(keys.value)}, not a list`);
  const listed = new Set<string>();
  let p = keys.end;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const k of keys.value as unknown[]) {
    if (typeof k !== 'string') throw new TorchLoadError(`torch.load: legacy format: a storage key is ${describe(k)}, not a str`);
    const r = roots.get(k);
    if (!r) throw new TorchLoadError(`torch.load: legacy format: storage ${JSON.stringify(k)} is listed but no tensor uses it; the file is inconsistent`);
    if (listed.has(k)) throw new TorchLoadError(`torch.load: legacy format: storage ${JSON.stringify(k)} is listed twice`);
    listed.add(k);
    if (p + 8 > bytes.length) throw new TorchLoadError(`torch.load: legacy format: the file ends at ${bytes.length} before the size of storage ${JSON.stringify(k)} (file offset ${p}); truncated`);
    const n = dv.getBigInt64(p, true);
    if (n !== BigInt(r.numel)) throw new TorchLoadError(`torch.load: legacy format: storage ${JSON.stringify(k)} at file offset ${p} has ${n} elements, but the pickle says ${r.numel}`);
    p += 8;
    const nbytes = r.numel * TORCH_DTYPES[r.t].size;
    if (p + nbytes > bytes.length) throw new TorchLoadError(`torch.load: legacy format: storage ${JSON.stringify(k)} needs ${nbytes} bytes at file offset ${p}, but the file ends at ${bytes.length}; truncated`);
    r.root.storage.data = decodeStorage(bytes.subarray(p, p + nbytes), r.t, r.dtype, r.numel, true, false, `legacy storage ${JSON.stringify(k)} (torch.${r.t}, file offset ${p})`);
    p += nbytes;
  }
  for (const k of roots.keys()) {
    if (!listed.has(k)) throw new TorchLoadError(`torch.load: legacy format: storage ${JSON.stringify(k)} is used by a tensor but missing from the storage list; the file is inconsistent`);
  }
  return main.value;
}
