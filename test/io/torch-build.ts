/**
 * Test-side builders for torch.save files: pickle opcodes by hand, zip archives (through the
 * library's zip writer, which test/io/torch-save.test.ts checks against Python's zipfile and
 * torch.load), and a one-tensor torch.save pickle with every field adjustable.
 */
import { zipPieces } from '../../src/io/torch/zip.js';

export const cat = (...parts: (Uint8Array | number[])[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const enc = new TextEncoder();
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** Pickle opcodes and arguments (protocol 2 unless noted). */
export const P = {
  proto: (v = 2): number[] => [0x80, v],
  stop: [0x2e],
  mark: [0x28],
  tuple: [0x74],
  tuple1: [0x85],
  tuple2: [0x86],
  tuple3: [0x87],
  emptyTuple: [0x29],
  emptyList: [0x5d],
  emptyDict: [0x7d],
  emptySet: [0x8f],
  append: [0x61],
  appends: [0x65],
  setitem: [0x73],
  setitems: [0x75],
  additems: [0x90],
  frozenset: [0x91],
  reduce: [0x52],
  build: [0x62],
  newobj: [0x81],
  binpersid: [0x51],
  none: [0x4e],
  true: [0x88],
  false: [0x89],
  pop: [0x30],
  dup: [0x32],
  str: (s: string): Uint8Array => {
    const b = enc.encode(s);
    return cat([0x58, ...u32(b.length)], b);
  },
  int: (n: number): number[] => [0x4a, ...u32(n >>> 0)],
  global: (module: string, name: string): Uint8Array => cat([0x63], enc.encode(`${module}\n${name}\n`)),
  binput: (i: number): number[] => [0x71, i],
  binget: (i: number): number[] => [0x68, i],
};

/** `P.mark, …items, P.tuple` */
export const tupleOf = (...items: (Uint8Array | number[])[]): Uint8Array => cat(P.mark, ...items, P.tuple);

/** A whole pickle: PROTO 2, the body, STOP. */
export const pickle = (...body: (Uint8Array | number[])[]): Uint8Array => cat(P.proto(), ...body, P.stop);

export interface TensorSpec {
  storageType?: string;
  key?: string;
  numel?: number;
  offset?: number;
  size?: number[];
  stride?: number[];
  requiresGrad?: boolean;
}

/** The pickle body of one tensor as torch.save writes it (`_rebuild_tensor_v2(...)`). */
export function tensorBody(s: TensorSpec = {}): Uint8Array {
  const size = s.size ?? [2];
  const stride = s.stride ?? [1];
  return cat(
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.mark,
    tupleOf(P.str('storage'), P.global('torch', s.storageType ?? 'FloatStorage'), P.str(s.key ?? '0'), P.str('cpu'), P.int(s.numel ?? 2)),
    P.binpersid,
    P.int(s.offset ?? 0),
    tupleOf(...size.map((d) => P.int(d))),
    tupleOf(...stride.map((d) => P.int(d))),
    s.requiresGrad ? P.true : P.false,
    P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce,
    P.tuple,
    P.reduce,
  );
}

/** A zip with the given entries (strings are UTF-8 encoded), laid out like torch.save's. */
export function zip(entries: [string, Uint8Array | string][], opts: { forceZip64?: boolean } = {}): Uint8Array {
  return cat(...zipPieces(entries.map(([name, data]) => ({ name, data: typeof data === 'string' ? enc.encode(data) : data })), opts));
}

/** A torch.save zip: `archive/data.pkl`, `archive/data/<key>` per storage, `archive/version`. */
export function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}, opts: { version?: string; prefix?: string; extra?: [string, Uint8Array | string][] } = {}): Uint8Array {
  const prefix = opts.prefix ?? 'archive';
  return zip([
    [`${prefix}/data.pkl`, pkl],
    ...Object.entries(storages).map(([k, v]): [string, Uint8Array] => [`${prefix}/data/${k}`, v]),
    [`${prefix}/version`, opts.version ?? '3\n'],
    ...(opts.extra ?? []),
  ]);
}

export const f32bytes = (...v: number[]): Uint8Array => new Uint8Array(new Float32Array(v).buffer);

/** Offsets of zip records in `bytes` by signature (local 0x04034b50, central 0x02014b50, end 0x06054b50). */
export function findSignatures(bytes: Uint8Array, sig: number): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i++) if (dv.getUint32(i, true) === sig) out.push(i);
  return out;
}
