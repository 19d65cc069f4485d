/**
 * A pickle reader with the rules of `torch.load(weights_only=True)`: it builds data, never runs
 * code. Written from Python's pickle format (Lib/pickle.py, pickletools.py) and PyTorch 1.13's
 * torch/_weights_only_unpickler.py, whose rules it keeps:
 *
 * - GLOBAL / STACK_GLOBAL resolve only names in ALLOWED_GLOBALS (values.ts) — nothing is imported.
 * - REDUCE calls only the tensor rebuild functions, OrderedDict and torch.Size; NEWOBJ only builds
 *   Parameter; BUILD only sets attributes of an OrderedDict (`_metadata` of a state dict, which is
 *   read, checked to be a dict and not returned); APPEND(S) only to lists; SETITEM(S) only to dicts.
 * - BINPERSID only with a `('storage', …)` id, handed to the caller (torch-load.ts).
 * - INST, OBJ, NEWOBJ_EX, EXT1/2/4, PERSID (text), protocol 5 out-of-band buffers, STRING/UNICODE
 *   text strings and any unknown opcode are refused.
 *
 * Beyond PyTorch 1.13's subset it reads the data opcodes later PyTorch versions accept and that
 * protocols 1–5 write: floats (BINFLOAT, FLOAT), text ints (INT, LONG), LONG4, bytes, sets,
 * MEMOIZE, FRAME, STACK_GLOBAL, DUP, POP, POP_MARK, DICT, LIST, PUT, GET.
 *
 * Python values become: None → null, bool → boolean, int → number (bigint beyond ±2^53), float →
 * number, str → string, bytes/bytearray → Uint8Array, list → array, tuple (and torch.Size) →
 * frozen array, set/frozenset → Set, dict and OrderedDict → a plain object (keys kept in order;
 * int keys become their decimal strings; other key types are an error) or, with
 * `{ dicts: 'map' }`, a Map with the keys as they were. Tensors → qkv Tensors; other allow-listed
 * globals → TorchGlobal.
 *
 * Every failure is a TorchLoadError (TorchUnsafePickleError for refusals) naming the opcode and its
 * byte offset in the pickle (and in the file when the pickle is stored uncompressed). Work is
 * linear in the input: no recursion, every opcode consumes input.
 */
import { TorchLoadError, TorchUnsafePickleError } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { ALLOWED_GLOBALS, TorchGlobal } from './values.js';
import { describe, rebuildParameter, rebuildTensor } from './storage-decode.js';

export interface UnpickleOptions {
  /** What the pickle is, for messages: `zip entry "archive/data.pkl"`. */
  where: string;
  /** File offset of the pickle's first byte, or -1 when it has none (an inflated entry). */
  fileOffset: number;
  dicts: 'object' | 'map';
  /** Resolves a `('storage', …)` persistent id; absent for plain pickles (BINPERSID is then an error). */
  persistentLoad?: (pid: readonly unknown[], fail: (msg: string) => never) => unknown;
}

const OP_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

const REFUSED: Record<number, string> = {
  0x69: 'INST (instantiates an arbitrary class by name)',
  0x6f: 'OBJ (instantiates an arbitrary class)',
  0x92: 'NEWOBJ_EX (instantiates a class with keyword arguments)',
  0x82: 'EXT1 (a class from the copyreg extension registry)',
  0x83: 'EXT2 (a class from the copyreg extension registry)',
  0x84: 'EXT4 (a class from the copyreg extension registry)',
};

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * UTF-8 → string with Python's "surrogatepass" (a 3-byte encoding of a lone surrogate is
 * accepted, as pickle's BINUNICODE allows). Returns null for invalid UTF-8.
 */
export function decodeUtf8SurrogatePass(b: Uint8Array): string | null {
  try {
    return utf8Strict.decode(b);
  } catch { /* fall through: maybe encoded surrogates */ }
  let s = '';
  let i = 0;
  const n = b.length;
  const units: number[] = [];
  const flush = (): void => {
    if (units.length) {
      s += String.fromCharCode(...units);
      units.length = 0;
    }
  };
  while (i < n) {
    const c = b[i];
    let cp: number;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if (c >= 0xc2 && c < 0xe0) {
      if (i + 1 >= n || (b[i + 1] & 0xc0) !== 0x80) return null;
      cp = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
      i += 2;
    } else if (c >= 0xe0 && c < 0xf0) {
      if (i + 2 >= n || (b[i + 1] & 0xc0) !== 0x80 || (b[i + 2] & 0xc0) !== 0x80) return null;
      cp = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
      if (cp < 0x800) return null; // overlong
      i += 3;
    } else if (c >= 0xf0 && c < 0xf5) {
      if (i + 3 >= n || (b[i + 1] & 0xc0) !== 0x80 || (b[i + 2] & 0xc0) !== 0x80 || (b[i + 3] & 0xc0) !== 0x80) return null;
      cp = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) return null;
      i += 4;
    } else {
      return null;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else {
      units.push(cp);
    }
    if (units.length > 4096) flush();
  }
  flush();
  return s;
}

/** Little-endian two's complement → number (or bigint beyond ±2^53). */
function decodeLong(b: Uint8Array): number | bigint {
  const n = b.length;
  if (n === 0) return 0;
  if (n <= 6) {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i];
    if (b[n - 1] & 0x80) v -= 2 ** (8 * n);
    return v;
  }
  let hex = '';
  for (let i = n - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
  let v = BigInt(`0x${hex}`);
  if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

const INT_TEXT = /^[+-]?[0-9]+$/;
const FLOAT_TEXT = /^\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)\s*$/i;

function parseIntText(s: string): number | bigint | null {
  if (!INT_TEXT.test(s)) return null;
  const v = BigInt(s);
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** The result of one pickle: its value and the offset just after its STOP. */
export interface UnpickleResult {
  value: unknown;
  end: number;
}

/**
 * Reads one pickle from `bytes[start…]` up to its STOP opcode (a file may hold several in a row,
 * as the legacy torch.save format does).
 */
export function unpickle(bytes: Uint8Array, start: number, opts: UnpickleOptions): UnpickleResult {
  return new Unpickler(bytes, opts).run(start);
}

class Unpickler {
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  /** Dicts built here (plain objects or Maps), and which of them are OrderedDicts. */
  private readonly dicts = new WeakSet<object>();
  private readonly ordered = new WeakSet<object>();
  /** Object-mode dicts: for each key, whether it came from a str or an int (to refuse 1 and '1' together). */
  private readonly keyKinds = new WeakMap<object, Map<string, 's' | 'i'>>();
  private readonly frozensets = new WeakSet<Set<unknown>>();
  private readonly dv: DataView;
  private pos = 0;
  /** Offset of the opcode being executed. */
  private at = 0;
  private op = 0;

  constructor(private readonly bytes: Uint8Array, private readonly opts: UnpickleOptions) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private where(): string {
    const file = this.opts.fileOffset >= 0 ? ` (file offset ${this.opts.fileOffset + this.at})` : '';
    return `${this.opts.where}, byte ${this.at}${file}, ${OP_NAMES[this.op] ?? `opcode 0x${this.op.toString(16).padStart(2, '0')}`}`;
  }

  private readonly fail = (msg: string): never => {
    throw new TorchLoadError(`torch.load: ${this.where()}: ${msg}`);
  };

  private refuse(msg: string): never {
    throw new TorchUnsafePickleError(`torch.load: ${this.where()}: ${msg}; refused as torch.load(weights_only=True) refuses it, and nothing was executed`);
  }

  // --- input

  private need(n: number): number {
    if (n > this.bytes.length - this.pos) this.fail(`the pickle ends early: ${n} more bytes needed at byte ${this.pos}, ${this.bytes.length - this.pos} left (truncated?)`);
    const p = this.pos;
    this.pos += n;
    return p;
  }

  private take(n: number): Uint8Array {
    const p = this.need(n);
    return this.bytes.subarray(p, p + n);
  }

  private u8(): number {
    return this.bytes[this.need(1)];
  }

  private u32(): number {
    return this.dv.getUint32(this.need(4), true);
  }

  private u64(): number {
    const v = this.dv.getBigUint64(this.need(8), true);
    if (v > BigInt(this.bytes.length)) this.fail(`a length of ${v} bytes runs past the end of the pickle`);
    return Number(v);
  }

  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('a text argument has no terminating newline (truncated?)');
    const raw = this.bytes.subarray(this.pos, end);
    this.pos = end + 1;
    const s = decodeUtf8SurrogatePass(raw);
    if (s === null) this.fail('a text argument is not valid UTF-8');
    return s!;
  }

  private str(n: number): string {
    const s = decodeUtf8SurrogatePass(this.take(n));
    if (s === null) this.fail(`the ${n}-byte string is not valid UTF-8`);
    return s!;
  }

  // --- stack

  private push(v: unknown): void {
    this.stack.push(v);
  }

  private pop(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow (a value was expected)');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow (a value was expected)');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (prev === undefined) this.fail('no MARK to pop to');
    this.stack = prev!;
    return items;
  }

  // --- containers

  private newDict(ordered: boolean): object {
    const d: object = this.opts.dicts === 'map' ? new Map() : {};
    this.dicts.add(d);
    if (ordered) this.ordered.add(d);
    return d;
  }

  private isDict(v: unknown): v is object {
    return typeof v === 'object' && v !== null && this.dicts.has(v);
  }

  private checkHashable(k: unknown): void {
    if (Array.isArray(k) && !Object.isFrozen(k)) this.fail('unhashable type: a list cannot be a dict key or set item');
    if (this.isDict(k)) this.fail('unhashable type: a dict cannot be a dict key or set item');
    if (k instanceof Set && !this.frozensets.has(k)) this.fail('unhashable type: a set cannot be a dict key or set item');
  }

  private setItem(d: unknown, k: unknown, v: unknown): void {
    if (!this.isDict(d)) this.refuse(`SETITEM on ${describe(d)}, which is not a dict`);
    this.checkHashable(k);
    if (d instanceof Map) {
      d.set(k, v);
      return;
    }
    let key: string;
    let kind: 's' | 'i';
    if (typeof k === 'string') {
      key = k;
      kind = 's';
    } else if ((typeof k === 'number' && Number.isInteger(k)) || typeof k === 'bigint') {
      key = String(k);
      kind = 'i';
    } else {
      return this.fail(`a dict key is ${describe(k)}: only str and int keys fit a plain object; load with { dicts: 'map' } to keep other keys`);
    }
    let kinds = this.keyKinds.get(d);
    if (!kinds) this.keyKinds.set(d, (kinds = new Map()));
    const prev = kinds.get(key);
    if (prev !== undefined && prev !== kind) {
      this.fail(`a dict has both the int ${key} and the str ${JSON.stringify(key)} as keys, which a plain object cannot tell apart; load with { dicts: 'map' }`);
    }
    kinds.set(key, kind);
    Object.defineProperty(d, key, { value: v, enumerable: true, writable: true, configurable: true });
  }

  private newSet(items: unknown[], frozen: boolean): Set<unknown> {
    for (const k of items) this.checkHashable(k);
    const s = new Set(items);
    if (frozen) this.frozensets.add(s);
    return s;
  }

  // --- globals and calls

  private global(module: string, name: string): TorchGlobal {
    const full = `${module}.${name}`;
    const info = ALLOWED_GLOBALS.get(full);
    if (!info) {
      const shown = full.length > 120 ? `${full.slice(0, 100)}…` : full;
      this.refuse(`the global ${JSON.stringify(shown)} is not in the allow-list (tensor rebuild functions, storage and tensor classes, dtypes, torch.Size, Parameter, collections.OrderedDict)`);
    }
    return TorchGlobal.of(module, name, info!);
  }

  private reduce(func: unknown, args: unknown): unknown {
    if (!(func instanceof TorchGlobal)) this.refuse(`REDUCE calls ${describe(func)}, which is not an allow-listed global`);
    const g = func as TorchGlobal;
    if (!Array.isArray(args)) this.fail(`REDUCE arguments for ${g.qualifiedName} must be a tuple, got ${describe(args)}`);
    const a = args as unknown[];
    const info = g.info;
    switch (info.kind) {
      case 'rebuild_tensor_v2': return rebuildTensor(a, true, this.fail);
      case 'rebuild_tensor': return rebuildTensor(a, false, this.fail);
      case 'rebuild_parameter': return rebuildParameter(a, g.qualifiedName, this.fail);
      case 'OrderedDict': return this.orderedDict(a);
      case 'Size': {
        if (a.length === 0) return Object.freeze([]);
        if (a.length !== 1 || !Array.isArray(a[0])) return this.fail(`torch.Size takes one tuple or list of ints, got ${a.length} arguments`);
        const dims = a[0] as unknown[];
        for (const d of dims) if (typeof d !== 'number' || !Number.isSafeInteger(d)) this.fail(`torch.Size: ${describe(d)} is not an int`);
        return Object.freeze(dims.slice());
      }
      case 'unsupported': return this.fail(`${g.qualifiedName}: ${info.why}`);
      default:
        return this.fail(`calling ${g.qualifiedName}(…) is not supported (torch.save never writes such a call)`);
    }
  }

  private orderedDict(a: unknown[]): object {
    const d = this.newDict(true);
    if (a.length === 0) return d;
    if (a.length > 1) this.fail(`collections.OrderedDict takes at most one argument, got ${a.length}`);
    const src = a[0];
    if (this.isDict(src)) {
      if (src instanceof Map) for (const [k, v] of src) this.setItem(d, k, v);
      else for (const [k, v] of Object.entries(src)) this.setItem(d, k, v);
      return d;
    }
    if (!Array.isArray(src)) return this.fail(`collections.OrderedDict(${describe(src)}): expected a dict or a sequence of (key, value) pairs`);
    for (const pair of src) {
      if (!Array.isArray(pair) || pair.length !== 2) this.fail(`collections.OrderedDict: an item is ${describe(pair)}, not a (key, value) pair`);
      this.setItem(d, (pair as unknown[])[0], (pair as unknown[])[1]);
    }
    return d;
  }

  private persistent(pid: unknown): unknown {
    const load = this.opts.persistentLoad;
    if (!load) return this.fail('a persistent id (a tensor storage) in a plain pickle; only torch.save files have storages');
    if (!Array.isArray(pid) || pid.length === 0) return this.refuse(`persistent_load of ${describe(pid)}; only ('storage', …) ids are allowed`);
    let tag = (pid as unknown[])[0];
    if (tag instanceof Uint8Array) tag = String.fromCharCode(...tag.subarray(0, 64));
    if (tag !== 'storage') return this.refuse(`persistent_load of ${describe(tag)}; only ('storage', …) ids are allowed`);
    return load(pid as unknown[], this.fail);
  }

  // --- the loop

  run(start: number): UnpickleResult {
    this.pos = start;
    const b = this.bytes;
    for (;;) {
      this.at = this.pos;
      if (this.pos >= b.length) {
        this.op = -1;
        this.fail('the pickle ends without a STOP opcode (truncated?)');
      }
      const op = (this.op = b[this.pos++]);
      switch (op) {
        case 0x80: { // PROTO
          const v = this.u8();
          if (v > 5) this.fail(`unsupported pickle protocol ${v} (at most 5)`);
          break;
        }
        case 0x95: { // FRAME: a length prefix for buffering; checked, otherwise ignored
          const n = this.u64();
          if (n > b.length - this.pos) this.fail(`a frame of ${n} bytes runs past the end of the pickle`);
          break;
        }
        case 0x2e: // STOP
          return { value: this.pop(), end: this.pos };
        case 0x28: // MARK
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case 0x30: // POP
          if (this.stack.length) this.stack.pop();
          else this.popMark();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;

        // --- atoms
        case 0x4e: this.push(null); break; // NONE
        case 0x88: this.push(true); break; // NEWTRUE
        case 0x89: this.push(false); break; // NEWFALSE
        case 0x4a: this.push(this.dv.getInt32(this.need(4), true)); break; // BININT
        case 0x4b: this.push(this.u8()); break; // BININT1
        case 0x4d: this.push(this.dv.getUint16(this.need(2), true)); break; // BININT2
        case 0x8a: this.push(decodeLong(this.take(this.u8()))); break; // LONG1
        case 0x8b: { // LONG4
          const n = this.dv.getInt32(this.need(4), true);
          if (n < 0) this.fail(`LONG4 with a negative byte count ${n}`);
          this.push(decodeLong(this.take(n)));
          break;
        }
        case 0x49: { // INT (text; "00"/"01" are False/True in protocol 0/1)
          const s = this.line();
          if (s === '00') this.push(false);
          else if (s === '01') this.push(true);
          else {
            const v = parseIntText(s);
            if (v === null) this.fail(`INT argument ${JSON.stringify(s.slice(0, 40))} is not a decimal integer`);
            this.push(v);
          }
          break;
        }
        case 0x4c: { // LONG (text, optional trailing L)
          const s = this.line();
          const v = parseIntText(s.endsWith('L') ? s.slice(0, -1) : s);
          if (v === null) this.fail(`LONG argument ${JSON.stringify(s.slice(0, 40))} is not a decimal integer`);
          this.push(v);
          break;
        }
        case 0x47: this.push(this.dv.getFloat64(this.need(8), false)); break; // BINFLOAT (big-endian)
        case 0x46: { // FLOAT (text)
          const s = this.line();
          if (!FLOAT_TEXT.test(s)) this.fail(`FLOAT argument ${JSON.stringify(s.slice(0, 40))} is not a number`);
          const t = s.trim().toLowerCase().replace(/^\+/, '');
          this.push(/^-?inf/.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : /nan$/.test(t) ? NaN : Number(t));
          break;
        }
        case 0x58: this.push(this.str(this.u32())); break; // BINUNICODE
        case 0x8c: this.push(this.str(this.u8())); break; // SHORT_BINUNICODE
        case 0x8d: this.push(this.str(this.u64())); break; // BINUNICODE8
        case 0x55: this.push(this.str(this.u8())); break; // SHORT_BINSTRING (Python 2 str, decoded as UTF-8 like torch.load)
        case 0x54: { // BINSTRING
          const n = this.dv.getInt32(this.need(4), true);
          if (n < 0) this.fail(`BINSTRING with a negative length ${n}`);
          this.push(this.str(n));
          break;
        }
        case 0x42: this.push(this.take(this.u32()).slice()); break; // BINBYTES
        case 0x43: this.push(this.take(this.u8()).slice()); break; // SHORT_BINBYTES
        case 0x8e: this.push(this.take(this.u64()).slice()); break; // BINBYTES8
        case 0x96: this.push(this.take(this.u64()).slice()); break; // BYTEARRAY8

        // --- containers
        case 0x29: this.push(Object.freeze([])); break; // EMPTY_TUPLE
        case 0x74: this.push(Object.freeze(this.popMark())); break; // TUPLE
        case 0x85: this.push(Object.freeze([this.pop()])); break; // TUPLE1
        case 0x86: { // TUPLE2
          const y = this.pop(), x = this.pop();
          this.push(Object.freeze([x, y]));
          break;
        }
        case 0x87: { // TUPLE3
          const z = this.pop(), y = this.pop(), x = this.pop();
          this.push(Object.freeze([x, y, z]));
          break;
        }
        case 0x5d: this.push([]); break; // EMPTY_LIST
        case 0x6c: this.push(this.popMark()); break; // LIST
        case 0x61: { // APPEND
          const item = this.pop(), list = this.top();
          if (!Array.isArray(list) || Object.isFrozen(list)) this.refuse(`APPEND to ${describe(list)}; only lists can be appended to`);
          (list as unknown[]).push(item);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark(), list = this.top();
          if (!Array.isArray(list) || Object.isFrozen(list)) this.refuse(`APPENDS to ${describe(list)}; only lists can be extended`);
          for (const it of items) (list as unknown[]).push(it);
          break;
        }
        case 0x7d: this.push(this.newDict(false)); break; // EMPTY_DICT
        case 0x64: { // DICT
          const items = this.popMark();
          if (items.length % 2) this.fail(`DICT with an odd number (${items.length}) of keys and values`);
          const d = this.newDict(false);
          for (let i = 0; i < items.length; i += 2) this.setItem(d, items[i], items[i + 1]);
          this.push(d);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.pop(), k = this.pop();
          this.setItem(this.top(), k, v);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          if (items.length % 2) this.fail(`SETITEMS with an odd number (${items.length}) of keys and values`);
          const d = this.top();
          for (let i = 0; i < items.length; i += 2) this.setItem(d, items[i], items[i + 1]);
          break;
        }
        case 0x8f: this.push(this.newSet([], false)); break; // EMPTY_SET
        case 0x90: { // ADDITEMS
          const items = this.popMark(), s = this.top();
          if (!(s instanceof Set) || this.frozensets.has(s)) this.refuse(`ADDITEMS to ${describe(s)}; only sets can be added to`);
          for (const it of items) {
            this.checkHashable(it);
            (s as Set<unknown>).add(it);
          }
          break;
        }
        case 0x91: this.push(this.newSet(this.popMark(), true)); break; // FROZENSET

        // --- memo
        case 0x71: this.memo.set(this.u8(), this.top()); break; // BINPUT
        case 0x72: this.memo.set(this.u32(), this.top()); break; // LONG_BINPUT
        case 0x94: this.memo.set(this.memo.size, this.top()); break; // MEMOIZE
        case 0x70: { // PUT
          const s = this.line();
          const i = parseIntText(s);
          if (typeof i !== 'number' || i < 0) this.fail(`PUT index ${JSON.stringify(s.slice(0, 40))} is not a non-negative integer`);
          this.memo.set(i as number, this.top());
          break;
        }
        case 0x68: case 0x6a: case 0x67: { // BINGET, LONG_BINGET, GET
          let i: number;
          if (op === 0x68) i = this.u8();
          else if (op === 0x6a) i = this.u32();
          else {
            const s = this.line();
            const v = parseIntText(s);
            if (typeof v !== 'number') this.fail(`GET index ${JSON.stringify(s.slice(0, 40))} is not an integer`);
            i = v as number;
          }
          if (!this.memo.has(i)) this.fail(`memo entry ${i} was never stored`);
          this.push(this.memo.get(i));
          break;
        }

        // --- the restricted operations
        case 0x63: { // GLOBAL
          const module = this.line(), name = this.line();
          this.push(this.global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop(), module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail(`STACK_GLOBAL needs two strs, got ${describe(module)} and ${describe(name)}`);
          this.push(this.global(module as string, name as string));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const func = this.top();
          this.stack[this.stack.length - 1] = this.reduce(func, args);
          break;
        }
        case 0x81: { // NEWOBJ
          const args = this.pop(), cls = this.pop();
          if (!(cls instanceof TorchGlobal) || cls.info.kind !== 'Parameter') this.refuse(`NEWOBJ of ${describe(cls)}; only torch.nn.parameter.Parameter may be instantiated`);
          if (!Array.isArray(args)) this.fail(`NEWOBJ arguments must be a tuple, got ${describe(args)}`);
          this.push(rebuildParameter(args as unknown[], 'torch.nn.parameter.Parameter', this.fail));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop(), inst = this.top();
          if (typeof inst === 'object' && inst !== null && this.ordered.has(inst)) {
            // OrderedDict attributes (a state dict's `_metadata`): weights_only does
            // inst.__dict__.update(state); qkv checks the state and does not return it.
            if (!this.isDict(state)) this.fail(`BUILD of an OrderedDict with ${describe(state)}; expected a dict of attributes`);
            break;
          }
          if (inst instanceof Tensor) this.fail('BUILD on a tensor (legacy Tensor.set_ / __setstate__) is not supported by qkv');
          this.refuse(`BUILD on ${describe(inst)}; only an OrderedDict's attributes may be set`);
          break;
        }
        case 0x51: { // BINPERSID
          const pid = this.pop();
          this.push(this.persistent(pid));
          break;
        }
        case 0x50: // PERSID (text)
          this.refuse('PERSID (a text persistent id); torch.save writes BINPERSID');
          break;
        case 0x53: case 0x56: // STRING, UNICODE (protocol 0 text strings)
          this.fail(`${OP_NAMES[op]} (protocol 0 escaped text) is not supported; torch.save writes protocol 2`);
          break;
        case 0x97: case 0x98:
          this.fail(`${OP_NAMES[op]} (a protocol 5 out-of-band buffer) is not supported`);
          break;
        default:
          if (REFUSED[op]) this.refuse(REFUSED[op]);
          this.fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  }
}
