/**
 * Fuzzing io.loadTorch (fast-check, fixed seed): mutations of torch-written fixtures and of
 * qkv-written files must either load — with every tensor inside its storage — or fail with a
 * TorchLoadError (TorchUnsafePickleError included): never another exception, a crash or a hang.
 *
 * Mutation families, ≥ 10,000 cases per run:
 *   1. byte flips anywhere (most are caught by the zip CRC; legacy files have none)
 *   2. truncations and insertions/deletions of bytes
 *   3. zip header fields set to boundary and random values (local, central, end, ZIP64 records)
 *   4. pickle opcode mutations inside data.pkl with the CRC recomputed (so the unpickler runs):
 *      opcode replacement, opcode-sequence splices, byte deletion/duplication, argument bytes
 *   5. storage bytes changed with the CRC recomputed (bools ≠ 0/1, int64 beyond 2^53, NaNs)
 *   6. bit flips in deflated entries (the inflater)
 * with the options varied (dicts 'map', checkCrc false). Each case's time is measured; the
 * slowest must stay far below a second (work is bounded by the input size).
 *
 * QKV_FUZZ_SEED=<seed> reruns a failure; QKV_FUZZ_SCALE=10 runs ten times as many cases.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { io, randn, tensor, TorchLoadError } from '../../src/index.js';
import { crc32 } from '../../src/io/torch/crc32.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { TorchStorage } from '../../src/io/torch/values.js';
import { ZipReader, bytesSource, zipPieces, type ZipWriteEntry } from '../../src/io/torch/zip.js';
import { FIXTURES } from '../helpers/assert.js';
import { cat } from './torch-build.js';

const SEED = Number(process.env.QKV_FUZZ_SEED ?? 20_241_203);
const SCALE = Number(process.env.QKV_FUZZ_SCALE ?? 1);
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));
let totalCases = 0;
let slowest = 0;

const DIR = path.join(FIXTURES, 'torch');
const read = (n: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(DIR, n)));

/** Small inputs for the many cases (the nanoGPT checkpoint is 57 KB and gets fewer). */
const ZIPS: [string, Uint8Array][] = [
  ['dtypes.pt', read('dtypes.pt')],
  ['shared.pt', read('shared.pt')],
  ['shared-p4.pt', read('shared-p4.pt')],
  ['qkv-written', io.saveTorchBytes({ a: randn([3, 2]).t(), b: tensor([1, 2], { dtype: 'int64' }), c: tensor([true, false], { dtype: 'bool' }), n: [1, Object.freeze(['x', null])], m: new Map<unknown, unknown>([[1, 2]]) })],
];
const LEGACY: [string, Uint8Array][] = [['dtypes-legacy.pt', read('dtypes-legacy.pt')], ['shared-legacy.pt', read('shared-legacy.pt')]];
const ALL = [...ZIPS, ...LEGACY, ['deflated.pt', read('deflated.pt')] as [string, Uint8Array], ['nanogpt-ckpt.pt', read('nanogpt-ckpt.pt')] as [string, Uint8Array]];

const entriesOf = (b: Uint8Array): ZipWriteEntry[] => {
  const r = new ZipReader(bytesSource(b));
  return r.order.map((e) => ({ name: e.name, data: r.read(e).slice() }));
};
const rezip = (entries: ZipWriteEntry[]): Uint8Array => cat(...zipPieces(entries));
const ZIP_ENTRIES = ZIPS.map(([n, b]) => [n, entriesOf(b)] as const);

/** Every tensor reachable from a loaded value stays inside its storage (so no later op reads out of bounds). */
function checkValue(v: unknown): void {
  const seen = new Set<unknown>();
  const stack: unknown[] = [v];
  let steps = 0;
  while (stack.length && steps++ < 100_000) {
    const x = stack.pop();
    if (x === null || typeof x !== 'object' || seen.has(x)) continue;
    seen.add(x);
    if (x instanceof Tensor) {
      const n = x.storage.data.length;
      let hi = x.offset;
      if (x.numel() > 0) x.shape.forEach((s, d) => (hi += (s - 1) * x.strides[d]));
      if (x.numel() > 0) assert.ok(x.offset >= 0 && hi < n, `tensor [${x.shape}] stride [${x.strides}] offset ${x.offset} reaches ${hi} of a ${n}-element storage`);
      assert.ok(x.strides.every((s) => s >= 0));
      continue;
    }
    if (x instanceof TorchStorage) {
      assert.ok(x.offset + x.numel <= x.storage.data.length);
      continue;
    }
    if (x instanceof Map) for (const [k, y] of x) stack.push(k, y);
    else if (x instanceof Set) for (const y of x) stack.push(y);
    else if (Array.isArray(x)) for (const y of x) stack.push(y);
    else if (!(x instanceof Uint8Array)) for (const y of Object.values(x)) stack.push(y);
  }
}

/** Loads `b`: a value that passes checkValue, or a TorchLoadError. Anything else fails the case. */
function loadOrTypedError(b: Uint8Array, opts: Parameters<typeof io.loadTorch>[1], what: string): void {
  const t0 = performance.now();
  try {
    checkValue(io.loadTorch(b, opts));
  } catch (err) {
    if (!(err instanceof TorchLoadError)) {
      throw new Error(`${what}: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`);
    }
    assert.ok(typeof err.message === 'string' && err.message.startsWith('torch.load: '), `${what}: message ${err.message}`);
  } finally {
    slowest = Math.max(slowest, performance.now() - t0);
  }
}

function check<T>(t: TestContext, what: string, arb: fc.Arbitrary<T>, predicate: (v: T) => void, numRuns: number): void {
  try {
    fc.assert(fc.property(arb, predicate), { seed: SEED, numRuns });
  } catch (err) {
    t.diagnostic(`fuzz seed ${SEED}: ${what} failed; rerun with QKV_FUZZ_SEED=${SEED}`);
    if (err instanceof Error) err.message = `[fuzz seed ${SEED}, ${what}] ${err.message}`;
    throw err;
  }
  totalCases += numRuns;
  t.diagnostic(`${what}: ${numRuns} cases, seed ${SEED}`);
}

const optsArb = fc.constantFrom<Parameters<typeof io.loadTorch>[1]>(undefined, undefined, { dicts: 'map' }, { checkCrc: false }, { widen: false });

test('fuzz: byte flips, truncations, insertions and deletions of whole files', (t) => {
  const fileArb = fc.integer({ min: 0, max: ALL.length - 1 });
  check(t, 'byte flips', fc.record({
    f: fileArb, flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), opts: optsArb,
  }), ({ f, flips, opts }) => {
    const [name, base] = ALL[f];
    const b = base.slice();
    for (const [p, x] of flips) b[p % b.length] ^= x;
    loadOrTypedError(b, opts, `${name} flips ${JSON.stringify(flips)}`);
  }, runs(2500));
  check(t, 'truncations and splices', fc.record({
    f: fileArb, kind: fc.constantFrom('truncate', 'insert', 'delete', 'append'), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }), fill: fc.uint8Array({ minLength: 1, maxLength: 64 }), opts: optsArb,
  }), ({ f, kind, at, n, fill, opts }) => {
    const [name, base] = ALL[f];
    const p = at % (base.length + 1);
    const b = kind === 'truncate' ? base.subarray(0, p)
      : kind === 'insert' ? cat(base.subarray(0, p), fill, base.subarray(p))
        : kind === 'delete' ? cat(base.subarray(0, p), base.subarray(Math.min(base.length, p + n)))
          : cat(base, fill);
    loadOrTypedError(b, opts, `${name} ${kind} at ${p}`);
  }, runs(1500));
});

/** Field offsets (size in bytes) of each zip record type, by signature. */
const FIELDS: Record<number, [number, number][]> = {
  0x04034b50: [[4, 2], [6, 2], [8, 2], [14, 4], [18, 4], [22, 4], [26, 2], [28, 2]],
  0x02014b50: [[6, 2], [8, 2], [10, 2], [16, 4], [20, 4], [24, 4], [28, 2], [30, 2], [32, 2], [34, 2], [42, 4]],
  0x06054b50: [[4, 2], [6, 2], [8, 2], [10, 2], [12, 4], [16, 4], [20, 2]],
  0x06064b50: [[4, 8], [16, 4], [20, 4], [24, 8], [32, 8], [40, 8], [48, 8]],
  0x07064b50: [[4, 4], [8, 8], [16, 4]],
};
const RECORDS = ZIPS.map(([, b]) => {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const recs: [number, number][] = [];
  for (let i = 0; i + 4 <= b.length; i++) {
    const sig = dv.getUint32(i, true);
    if (FIELDS[sig]) recs.push([i, sig]);
  }
  return recs;
});

test('fuzz: zip header fields set to boundary and random values', (t) => {
  check(t, 'zip header mutations', fc.record({
    f: fc.integer({ min: 0, max: ZIPS.length - 1 }), rec: fc.nat(), field: fc.nat(), times: fc.integer({ min: 1, max: 2 }),
    value: fc.oneof(fc.constantFrom(0, 1, 0xff, 0xffff, 0xffffffff, -1), fc.nat(), fc.integer({ min: -200, max: 200 })), opts: optsArb,
  }), ({ f, rec, field, times, value, opts }) => {
    const [name, base] = ZIPS[f];
    const b = base.slice();
    const dv = new DataView(b.buffer);
    for (let k = 0; k < times; k++) {
      const [at, sig] = RECORDS[f][(rec + k * 7) % RECORDS[f].length];
      const [off, size] = FIELDS[sig][(field + k) % FIELDS[sig].length];
      const cur = size === 2 ? dv.getUint16(at + off, true) : size === 4 ? dv.getUint32(at + off, true) : Number(dv.getBigUint64(at + off, true));
      // Small values are offsets from the current one; the rest are absolute.
      const v = Math.abs(value) <= 200 && value !== 0 && value !== 1 ? cur + value : value;
      if (size === 2) dv.setUint16(at + off, v & 0xffff, true);
      else if (size === 4) dv.setUint32(at + off, v >>> 0, true);
      else dv.setBigUint64(at + off, BigInt.asUintN(64, BigInt(Math.trunc(v))), true);
    }
    loadOrTypedError(b, opts, `${name} header ${rec}/${field} = ${value}`);
  }, runs(2000));
});

/** Opcode snippets to splice into pickles (args included where the opcode takes one). */
const SNIPPETS: number[][] = [
  [0x28], [0x74], [0x85], [0x86], [0x87], [0x29], [0x5d], [0x7d], [0x8f], [0x61], [0x65], [0x73], [0x75], [0x90], [0x91],
  [0x52], [0x62], [0x81], [0x51], [0x4e], [0x88], [0x89], [0x30], [0x31], [0x32], [0x2e], [0x94], [0x93],
  [0x4b, 0], [0x4b, 255], [0x4d, 0xff, 0xff], [0x4a, 0xff, 0xff, 0xff, 0xff], [0x8a, 1, 0x80], [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  [0x47, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], [0x68, 0], [0x68, 3], [0x6a, 0, 0, 0, 0], [0x71, 0], [0x72, 1, 0, 0, 0],
  [0x58, 1, 0, 0, 0, 0x41], [0x8c, 1, 0x30], [0x43, 2, 1, 2], [0x80, 2], [0x80, 9], [0x95, 1, 0, 0, 0, 0, 0, 0, 0],
  [...new TextEncoder().encode('ctorch\nFloatStorage\n')], [...new TextEncoder().encode('ctorch._utils\n_rebuild_tensor_v2\n')],
  [...new TextEncoder().encode('ccollections\nOrderedDict\n')], [...new TextEncoder().encode('ctorch\nSize\n')],
  [...new TextEncoder().encode('cos\nsystem\n')], [0x69], [0x6f], [0x92], [0x82, 1], [0xff], [0x49, 0x31, 0x0a], [0x46, 0x31, 0x0a],
];
const OPCODES = [...new Set(SNIPPETS.map((s) => s[0]))];

function mutatePickle(p: Uint8Array, kind: number, at: number, k: number, x: number): Uint8Array {
  const i = at % Math.max(1, p.length);
  switch (kind) {
    case 0: { const b = p.slice(); b[i] = OPCODES[x % OPCODES.length]; return b; } // opcode replaced
    case 1: return cat(p.subarray(0, i), SNIPPETS[x % SNIPPETS.length], p.subarray(i)); // splice
    case 2: return cat(p.subarray(0, i), p.subarray(Math.min(p.length, i + 1 + (k % 8)))); // delete bytes
    case 3: return cat(p.subarray(0, i + 1 + (k % 16)), p.subarray(i)); // duplicate bytes
    case 4: { const b = p.slice(); b[i] = x & 0xff; return b; } // any byte (arguments)
    default: { const b = p.slice(); b[i] = [0, 0xff, 0x7f, 0x80][x % 4]; b[(i + 1) % b.length] = [0, 0xff, 0x7f, 0x80][k % 4]; return b; }
  }
}

test('fuzz: pickle opcode mutations (zip CRCs recomputed, and legacy files)', (t) => {
  const mutation = { kind: fc.integer({ min: 0, max: 5 }), at: fc.nat(), k: fc.nat(), x: fc.nat(), twice: fc.boolean(), opts: optsArb };
  check(t, 'zip pickle mutations', fc.record({ f: fc.integer({ min: 0, max: ZIPS.length - 1 }), ...mutation }), ({ f, kind, at, k, x, twice, opts }) => {
    const [name, entries] = ZIP_ENTRIES[f];
    const e = entries.map((en) => ({ ...en }));
    let p = mutatePickle(e[0].data, kind, at, k, x);
    if (twice) p = mutatePickle(p, (kind + 1) % 6, at * 31 + 7, k + 1, x * 17 + 3);
    e[0].data = p;
    loadOrTypedError(rezip(e), opts, `${name} pickle mutation ${kind} at ${at}`);
  }, runs(3000));
  check(t, 'legacy pickle mutations', fc.record({ f: fc.integer({ min: 0, max: LEGACY.length - 1 }), ...mutation }), ({ f, kind, at, k, x, twice, opts }) => {
    const [name, base] = LEGACY[f];
    let b = mutatePickle(base, kind, at, k, x);
    if (twice) b = mutatePickle(b, (kind + 3) % 6, at * 13 + 1, k + 2, x + 5);
    loadOrTypedError(b, opts, `${name} mutation ${kind} at ${at}`);
  }, runs(1000));
});

test('fuzz: storage bytes (CRCs recomputed) and deflated entries', (t) => {
  check(t, 'storage byte mutations', fc.record({
    f: fc.integer({ min: 0, max: ZIPS.length - 1 }), entry: fc.nat(), at: fc.nat(), v: fc.constantFrom(0x02, 0xff, 0x7f, 0x80, 0x40, 0x00), opts: optsArb,
  }), ({ f, entry, at, v, opts }) => {
    const [name, entries] = ZIP_ENTRIES[f];
    const storages = entries.map((e, i) => [e, i] as const).filter(([e]) => /\/data\/\d+$/.test(e.name));
    const [victim, i] = storages[entry % storages.length];
    const e = entries.map((en) => ({ ...en }));
    const d = victim.data.slice();
    if (d.length) d[at % d.length] = v;
    e[i] = { ...victim, data: d };
    loadOrTypedError(rezip(e), opts, `${name} storage ${victim.name} byte ${at % Math.max(1, d.length)} = ${v}`);
  }, runs(600));
  const deflated = (() => {
    const e = ZIP_ENTRIES[1][1];
    // Method-8 zip: local/central records written by hand around zlib's raw deflate.
    const parts: Uint8Array[] = [], central: Uint8Array[] = [];
    let at = 0;
    for (const en of e) {
      const comp = zlib.deflateRawSync(en.data, { level: 9 });
      const n = new TextEncoder().encode(en.name);
      const crc = crc32(en.data);
      const h = new Uint8Array(30 + n.length), hv = new DataView(h.buffer);
      hv.setUint32(0, 0x04034b50, true); hv.setUint16(8, 8, true); hv.setUint32(14, crc, true);
      hv.setUint32(18, comp.length, true); hv.setUint32(22, en.data.length, true); hv.setUint16(26, n.length, true); h.set(n, 30);
      const c = new Uint8Array(46 + n.length), cv = new DataView(c.buffer);
      cv.setUint32(0, 0x02014b50, true); cv.setUint16(10, 8, true); cv.setUint32(16, crc, true); cv.setUint32(20, comp.length, true);
      cv.setUint32(24, en.data.length, true); cv.setUint16(28, n.length, true); cv.setUint32(42, at, true); c.set(n, 46);
      parts.push(h, comp);
      central.push(c);
      at += h.length + comp.length;
    }
    const size = central.reduce((s, c) => s + c.length, 0);
    const end = new Uint8Array(22), ev = new DataView(end.buffer);
    ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, e.length, true); ev.setUint16(10, e.length, true); ev.setUint32(12, size, true); ev.setUint32(16, at, true);
    return cat(...parts, ...central, end);
  })();
  assert.ok(io.loadTorch(deflated), 'the deflated base file loads');
  check(t, 'deflate bit flips', fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }), crc: fc.boolean() }), ({ at, bit, crc }) => {
    const b = deflated.slice();
    b[at % b.length] ^= 1 << bit;
    loadOrTypedError(b, crc ? undefined : { checkCrc: false }, `deflated flip at ${at % b.length}`);
  }, runs(1000));
});

test('fuzz totals', (t) => {
  t.diagnostic(`${totalCases} cases in all; slowest case ${slowest.toFixed(1)} ms`);
  assert.ok(totalCases >= runs(10_000), `${totalCases} cases`);
  assert.ok(slowest < 1000, `the slowest case took ${slowest.toFixed(0)} ms`);
});

