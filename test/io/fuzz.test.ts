/**
 * Property-based and fuzz tests of the safetensors reader and writer (fast-check, fixed seed).
 *
 * 1. Random tensors (every qkv dtype, 0-d, empty, non-contiguous and offset views, unicode
 *    names, metadata, declared ties) round-trip through save → load bit for bit.
 * 2. Random valid files written by an independent test-side writer (every file dtype, random
 *    bytes incl. NaN payloads, any data order so offsets are misaligned, whitespace padding) load
 *    as a plain reference decoder says, and survive load → save → load.
 * 3. Random mutations of valid files are either rejected with a SafetensorsError — never another
 *    exception, a crash, a hang or an out-of-memory — or read back exactly as the mutated bytes
 *    say (the reference decoder). Mutations that can never leave a valid file (truncation,
 *    trailing bytes, a bit flip in the header length, a changed data offset, a duplicated key)
 *    must be rejected.
 * 4. A sample of the above through saveFile/loadFile gives the same results and the same errors.
 * 5. The UTF-8 validator (which locates the bad byte for error messages) agrees with TextDecoder.
 *
 * Rerun a failure with QKV_FUZZ_SEED=<seed printed in the failure>; QKV_FUZZ_SCALE=10 runs ten
 * times as many cases.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { io, SafetensorsError } from '../../src/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { allocate, type DType } from '../../src/dtype.js';
import { contiguousStrides } from '../../src/tensor/shape.js';
import { firstInvalidUtf8 } from '../../src/io/json-header.js';
import { bitsEqual, ELEMENT_SIZE, layout, sameAsOracle, writeRaw, type RawEntry, type RawFile, type TensorSpec } from './st-build.js';

const SEED = Number(process.env.QKV_FUZZ_SEED ?? 20_240_607);
const SCALE = Number(process.env.QKV_FUZZ_SCALE ?? 1);
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));
let totalCases = 0;

/** fc.assert with the fixed seed; a failure names the seed (and fast-check adds the replay path). */
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

// ------------------------------------------------------------------------------------------------
// Arbitraries

const nameArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'lm_head.weight', '\ud800', 'x\udfff', '"', '\\', '0', '12', '', 'qkv.ties'),
).filter((n) => n !== '__metadata__');
const metaValueArb = fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ maxLength: 4 }));
const metadataArb = fc.dictionary(nameArb.filter((k) => k !== 'qkv.ties'), metaValueArb, { maxKeys: 3 });
const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });
const padArb = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 9 });
const numel = (shape: number[]): number => shape.reduce((p, s) => p * s, 1);

// --- 1: qkv tensors

interface TensorCase { dtype: DType; shape: number[]; raw: Uint8Array; view: 'contiguous' | 'permuted' | 'offset' }

const tensorCaseArb: fc.Arbitrary<TensorCase> = fc
  .record({ dtype: fc.constantFrom<DType>('float32', 'float64', 'int64', 'int32', 'bool'), shape: shapeArb, view: fc.constantFrom('contiguous', 'permuted', 'offset') as fc.Arbitrary<TensorCase['view']> })
  .chain((c) => {
    const n = numel(c.shape) + (c.view === 'offset' ? 2 : 0);
    const bytes = { float32: 4, float64: 8, int64: 8, int32: 4, bool: 1 }[c.dtype] * n;
    return fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((raw) => ({ ...c, raw }));
  });

/** Builds the tensor: random bits for floats (all NaN payloads, ±Inf, −0, subnormals), valid ints. */
function makeTensor(c: TensorCase): Tensor {
  const n = numel(c.shape) + (c.view === 'offset' ? 2 : 0);
  const data = allocate(c.dtype, n);
  if (c.dtype === 'float32' || c.dtype === 'float64') {
    new Uint8Array(data.buffer).set(c.raw);
  } else {
    const dv = new DataView(c.raw.buffer);
    for (let i = 0; i < n; i++) {
      if (c.dtype === 'bool') data[i] = c.raw[i] & 1;
      else if (c.dtype === 'int32') data[i] = dv.getInt32(4 * i, true);
      else data[i] = (dv.getInt32(8 * i + 4, true) >> 11) * 4294967296 + dv.getUint32(8 * i, true); // |v| < 2^52
    }
  }
  if (c.view === 'permuted' && c.shape.length >= 2) {
    // A contiguous tensor of the reversed shape, seen with reversed strides.
    const rev = [...c.shape].reverse();
    const base = Tensor.fromTypedArray(data, rev, c.dtype);
    return base.asStrided(c.shape, contiguousStrides(rev).reverse(), 0);
  }
  const base = Tensor.fromTypedArray(data, [n], c.dtype);
  return base.asStrided(c.shape, contiguousStrides(c.shape), c.view === 'offset' ? 2 : 0);
}

const saveCaseArb = fc.record({
  tensors: fc.uniqueArray(fc.tuple(nameArb.filter((n) => n !== 'qkv.ties'), tensorCaseArb), { selector: ([name]) => name, maxLength: 5 }),
  metadata: metadataArb,
  tie: fc.option(fc.tuple(nameArb, fc.nat(), fc.boolean())),
});

/** True when the tensor's elements are its storage bytes in order (so its bits are exact). */
const plain = (t: Tensor): boolean => t.isContiguous();

test('fuzz 1: random tensors round-trip through save → load bit for bit', (t) => {
  check(t, 'save → load round trip', saveCaseArb, ({ tensors: cases, metadata, tie }) => {
    const tensors: Record<string, Tensor> = {};
    for (const [name, c] of cases) Object.defineProperty(tensors, name, { value: makeTensor(c), enumerable: true, writable: true, configurable: true });
    const ties: Record<string, string> = {};
    if (tie && cases.length > 0) {
      const [alias, k, present] = tie;
      const target = cases[k % cases.length][0];
      if (!cases.some(([name]) => name === alias) && alias !== 'qkv.ties') {
        Object.defineProperty(ties, alias, { value: target, enumerable: true });
        if (present) Object.defineProperty(tensors, alias, { value: tensors[target], enumerable: true, writable: true, configurable: true });
      }
    }
    const bytes = io.save(tensors, metadata, { ties });
    const back = io.load(bytes);
    const expectMeta: Record<string, string> = { ...metadata };
    if (Object.keys(ties).length) expectMeta['qkv.ties'] = JSON.stringify(ties);
    assert.deepEqual(Object.entries(back.metadata).sort(), Object.entries(expectMeta).sort(), 'metadata');
    assert.deepEqual(Object.keys(back.tensors).sort(), [...new Set([...cases.map(([n]) => n), ...Object.keys(ties)])].sort(), 'names');
    for (const [name, c] of cases) {
      const want = tensors[name], got = back.tensors[name];
      if (plain(want) || c.dtype !== 'float32' && c.dtype !== 'float64') bitsEqual(got, want, JSON.stringify(name));
      else {
        // A strided float copy goes through JS numbers, which may quiet a signalling NaN.
        assert.deepEqual(got.shape, want.shape);
        const a = got.toFlat(), b = want.toFlat();
        for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${JSON.stringify(name)} element ${i}: ${a[i]} vs ${b[i]}`);
      }
    }
    for (const [alias, target] of Object.entries(ties)) {
      assert.equal(back.tensors[alias].storage, back.tensors[target].storage, 'a tie shares storage');
    }
    // The writer aligns every tensor to its element size and the data section to 8 bytes.
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
    for (const [name, e] of Object.entries<any>(header)) {
      if (name !== '__metadata__') assert.equal(e.data_offsets[0] % ELEMENT_SIZE[e.dtype], 0, `${JSON.stringify(name)} is aligned`);
    }
  }, runs(2000));
});

// --- 2: files from the test-side writer

const specArb: fc.Arbitrary<TensorSpec> = fc
  .record({ name: nameArb, dtype: fc.constantFrom(...Object.keys(ELEMENT_SIZE)), shape: shapeArb })
  .chain((s) => {
    const len = numel(s.shape) * ELEMENT_SIZE[s.dtype];
    return fc.uint8Array({ minLength: len, maxLength: len }).map((bytes) => {
      if (s.dtype === 'BOOL') bytes = bytes.map((b) => b & 1);
      if (s.dtype === 'I64') {
        const dv = new DataView(bytes.buffer);
        for (let i = 0; i < bytes.length; i += 8) dv.setInt32(i + 4, dv.getInt32(i + 4, true) >> 11, true); // |v| < 2^52
      }
      return { ...s, bytes };
    });
  });

interface ValidFile { file: RawFile; specs: TensorSpec[] }

const validFileArb: fc.Arbitrary<ValidFile> = fc
  .record({
    specs: fc.uniqueArray(specArb, { selector: (s) => s.name, maxLength: 5 }).filter((specs) => !specs.some((s) => s.name === 'qkv.ties')),
    metadata: fc.option(metadataArb, { nil: undefined }),
    tie: fc.option(fc.tuple(nameArb, fc.nat())),
    lead: padArb,
    trail: padArb,
    orderKeys: fc.array(fc.double({ noNaN: true }), { minLength: 5, maxLength: 5 }),
  })
  .map(({ specs, metadata, tie, lead, trail, orderKeys }) => {
    const order = specs.map((_, i) => i).sort((a, b) => orderKeys[a] - orderKeys[b]);
    const { entries, data } = layout(specs, order);
    let meta: Record<string, string> | undefined = metadata;
    if (tie && specs.length > 0 && !specs.some((s) => s.name === tie[0])) {
      meta = { ...(metadata ?? {}), 'qkv.ties': JSON.stringify({ [tie[0]]: specs[tie[1] % specs.length].name }) };
    }
    return { file: { entries, data, metadata: meta, lead, trail }, specs };
  });

test('fuzz 2: random valid files (any layout, every file dtype) load as the bytes say and survive a re-save', (t) => {
  check(t, 'valid files', validFileArb, ({ file }) => {
    const bytes = writeRaw(file);
    const got = io.load(bytes);
    sameAsOracle(got, bytes);
    const again = io.load(io.save(got.tensors, got.metadata));
    sameAsOracle(again, bytes);
  }, runs(2000));
});

// --- 3: mutations

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'length-bit'; bit: number }
  | { kind: 'offset'; entry: number; which: 0 | 1; value: unknown }
  | { kind: 'duplicate-key'; entry: number; position: number }
  | { kind: 'shape'; entry: number; shape: unknown }
  | { kind: 'dtype'; entry: number; dtype: unknown }
  | { kind: 'metadata'; value: unknown }
  | { kind: 'ties'; value: unknown }
  | { kind: 'header-flips'; flips: [number, number][] }
  | { kind: 'file-flips'; flips: [number, number][] }
  | { kind: 'header-splice'; at: number; remove: number; insert: Uint8Array };

/** Mutations that can never leave a valid file. */
const STRICT = new Set(['truncate', 'append', 'length-bit', 'offset', 'duplicate-key']);

const flipsArb = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 });
const oddNumberArb = fc.oneof(
  fc.integer({ min: -3, max: 70 }), fc.constantFrom(2 ** 26, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64, 1e300, -0, 1.5, '8', null, [], {}),
);
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('length-bit' as const), bit: fc.integer({ min: 0, max: 63 }) }),
  fc.record({ kind: fc.constant('offset' as const), entry: fc.nat(), which: fc.constantFrom(0 as const, 1 as const), value: oddNumberArb }),
  fc.record({ kind: fc.constant('duplicate-key' as const), entry: fc.nat(), position: fc.nat() }),
  fc.record({ kind: fc.constant('shape' as const), entry: fc.nat(), shape: fc.oneof(fc.array(oddNumberArb, { maxLength: 4 }), shapeArb, oddNumberArb) }),
  fc.record({ kind: fc.constant('dtype' as const), entry: fc.nat(), dtype: fc.oneof(fc.constantFrom(...Object.keys(ELEMENT_SIZE), 'F8', 'bool', 'U16', ''), oddNumberArb) }),
  fc.record({ kind: fc.constant('metadata' as const), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), metadataArb) }),
  fc.record({ kind: fc.constant('ties' as const), value: fc.oneof(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), fc.dictionary(nameArb, nameArb, { maxKeys: 3 }).map((v) => JSON.stringify(v))) }),
  fc.record({ kind: fc.constant('header-flips' as const), flips: flipsArb }),
  fc.record({ kind: fc.constant('file-flips' as const), flips: flipsArb }),
  fc.record({ kind: fc.constant('header-splice' as const), at: fc.nat(), remove: fc.integer({ min: 0, max: 4 }), insert: fc.uint8Array({ maxLength: 6 }) }),
);

/** Applies a mutation; null when it does not apply (e.g. an entry mutation on a file without tensors). */
function mutate({ file }: ValidFile, m: Mutation): Uint8Array | null {
  const bytes = writeRaw(file);
  const n = bytes.length - 8 - file.data.length;
  const withEntry = (entry: number, change: (e: RawEntry) => RawEntry): Uint8Array | null => {
    if (file.entries.length === 0) return null;
    const k = entry % file.entries.length;
    return writeRaw({ ...file, entries: file.entries.map((e, i) => (i === k ? change(e) : e)) });
  };
  const flip = (out: Uint8Array, from: number, size: number, flips: [number, number][]): Uint8Array => {
    if (size <= 0) return out;
    for (const [pos, x] of flips) out[from + (pos % size)] ^= x;
    return out;
  };
  switch (m.kind) {
    case 'truncate': return bytes.subarray(0, m.at % bytes.length);
    case 'append': {
      const out = new Uint8Array(bytes.length + m.bytes.length);
      out.set(bytes);
      out.set(m.bytes, bytes.length);
      return out;
    }
    case 'length-bit': {
      const out = bytes.slice();
      out[m.bit >> 3] ^= 1 << (m.bit & 7);
      return out;
    }
    case 'offset':
      return withEntry(m.entry, (e) => {
        const offsets = [...(e.data_offsets as number[])];
        if (JSON.stringify(offsets[m.which]) === JSON.stringify(m.value)) offsets[m.which] = (offsets[m.which] as number) + 1;
        else offsets[m.which] = m.value as number;
        return { ...e, data_offsets: offsets };
      });
    case 'duplicate-key': {
      if (file.entries.length === 0) return null;
      const entries = [...file.entries];
      entries.splice(m.position % (entries.length + 1), 0, entries[m.entry % entries.length]);
      return writeRaw({ ...file, entries });
    }
    case 'shape': return withEntry(m.entry, (e) => ({ ...e, shape: m.shape }));
    case 'dtype': return withEntry(m.entry, (e) => ({ ...e, dtype: m.dtype }));
    case 'metadata': return writeRaw({ ...file, metadata: m.value });
    case 'ties': return writeRaw({ ...file, metadata: { ...((file.metadata as object) ?? {}), 'qkv.ties': m.value } });
    case 'header-flips': return flip(bytes.slice(), 8, n, m.flips);
    case 'file-flips': return flip(bytes.slice(), 0, bytes.length, m.flips);
    case 'header-splice': {
      const header = bytes.subarray(8, 8 + n);
      const at = m.at % (header.length + 1);
      const spliced = new Uint8Array([...header.subarray(0, at), ...m.insert, ...header.subarray(Math.min(header.length, at + m.remove))]);
      const out = new Uint8Array(8 + spliced.length + file.data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(spliced.length), true);
      out.set(spliced, 8);
      out.set(file.data, 8 + spliced.length);
      return out;
    }
  }
}

type Outcome = { ok: true; result: ReturnType<typeof io.load> } | { ok: false; message: string };

/** Loads, requiring that any failure is a SafetensorsError. */
function outcome(run: () => ReturnType<typeof io.load>): Outcome {
  try {
    return { ok: true, result: run() };
  } catch (err) {
    if (!(err instanceof SafetensorsError)) {
      assert.fail(`expected a SafetensorsError or success, got ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`);
    }
    return { ok: false, message: err.message };
  }
}

/** `same`: the mutation left the bytes unchanged (e.g. flipped a bit twice), so the file is valid. */
function judge(m: Mutation, bytes: Uint8Array, o: Outcome, same: boolean): void {
  if (!o.ok) {
    assert.ok(!same, `an unchanged file was rejected: ${o.message}`);
    return;
  }
  if (STRICT.has(m.kind) && !same) assert.fail(`a ${m.kind} mutation was accepted`);
  sameAsOracle(o.result, bytes);
}

test('fuzz 3: mutated files are rejected with a SafetensorsError or read exactly as the bytes say', (t) => {
  const stats = new Map<string, [number, number]>();
  check(t, 'mutations', fc.tuple(validFileArb, mutationArb), ([valid, m]) => {
    const bytes = mutate(valid, m);
    if (bytes === null) return;
    const same = Buffer.compare(bytes, writeRaw(valid.file)) === 0;
    const o = outcome(() => io.load(bytes));
    judge(m, bytes, o, same);
    const s = stats.get(m.kind) ?? [0, 0];
    s[o.ok ? 0 : 1]++;
    stats.set(m.kind, s);
  }, runs(8000));
  const lines = [...stats].sort().map(([k, [ok, bad]]) => `${k}: ${ok} accepted, ${bad} rejected`);
  t.diagnostic(lines.join('; '));
  // Not vacuous: every kind ran, and the kinds that can keep a file valid did so sometimes.
  for (const k of ['truncate', 'append', 'length-bit', 'offset', 'duplicate-key', 'shape', 'dtype', 'metadata', 'ties', 'header-flips', 'file-flips', 'header-splice']) {
    const [ok, bad] = stats.get(k) ?? [0, 0];
    assert.ok(bad > 0, `${k}: some mutated files were rejected`);
    if (!STRICT.has(k) && k !== 'header-splice') assert.ok(ok > 0, `${k}: some mutated files stayed valid`);
  }
});

test('fuzz 4: loadFile and saveFile agree with load and save, errors included', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-fuzz-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'f.safetensors');
  check(t, 'loadFile vs load on mutated files', fc.tuple(validFileArb, mutationArb), ([valid, m]) => {
    const bytes = mutate(valid, m);
    if (bytes === null) return;
    fs.writeFileSync(file, bytes);
    const mem = outcome(() => io.load(bytes));
    const disk = outcome(() => io.loadFile(file));
    assert.equal(disk.ok, mem.ok, `load ${mem.ok ? 'accepted' : 'rejected'} but loadFile did not`);
    if (!mem.ok && !disk.ok) assert.equal(disk.message, `${mem.message} [${file}]`);
    if (disk.ok) sameAsOracle(disk.result, bytes);
  }, runs(400));
  check(t, 'saveFile → loadFile round trip', validFileArb, ({ file: raw }) => {
    const first = io.load(writeRaw(raw));
    io.saveFile(file, first.tensors, first.metadata);
    assert.deepEqual(Buffer.compare(fs.readFileSync(file), io.save(first.tensors, first.metadata)), 0, 'saveFile writes what save returns');
    sameAsOracle(io.loadFile(file), writeRaw(raw));
    assert.deepEqual(fs.readdirSync(dir), ['f.safetensors'], 'no temporary file is left behind');
  }, runs(200));
});

test('fuzz 5: the UTF-8 validator that locates bad header bytes agrees with TextDecoder', (t) => {
  // Bytes drawn mostly from the interesting ranges: ASCII, continuation, lead bytes, edges.
  const byteArb = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x9f, 0xa0, 0x8f, 0x90));
  const decoder = new TextDecoder('utf-8', { fatal: true });
  check(t, 'UTF-8 validator vs TextDecoder', fc.array(byteArb, { maxLength: 12 }), (arr) => {
    const bytes = new Uint8Array(arr);
    let valid = true;
    try { decoder.decode(bytes); } catch { valid = false; }
    const bad = firstInvalidUtf8(bytes);
    assert.equal(bad === -1, valid, `[${arr.map((b) => b.toString(16)).join(' ')}]: validator says ${bad}`);
    if (bad >= 0) {
      // Everything before the reported byte is valid UTF-8 on its own.
      assert.doesNotThrow(() => decoder.decode(bytes.subarray(0, bad)));
    }
  }, runs(2000));
});

test('the fuzz suite ran at least 10,000 cases', (t) => {
  t.diagnostic(`${totalCases} fuzz cases in total (seed ${SEED})`);
  if (SCALE >= 1) assert.ok(totalCases >= 10_000, `${totalCases} cases`);
});
