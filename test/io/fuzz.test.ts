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
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { io, SafetensorsError } from '../../src/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { allocate, type DType } from '../../src/dtype.js';
import { contiguousStrides } from '../../src/tensor/shape.js';
import { firstInvalidUtf8 } from '../../src/io/json-header.js';
import { bitsEqual, ELEMENT_SIZE, fileBytes, headerText, layout, sameAsOracle, writeRaw, type RawEntry, type RawFile, type TensorSpec } from './st-build.js';
import { referenceVerdict } from './reference-reader.js';
import { PYTHON } from '../helpers/torch.js';

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
/** Valid Unicode (no lone UTF-16 surrogate): what a safetensors header can hold (written independently of src/io). */
const wellFormed = (s: string): boolean => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
const unicodeNameArb = nameArb.filter(wellFormed);
const validMetadataArb = metadataArb.filter((m) => Object.entries(m).every(([k, v]) => wellFormed(k) && wellFormed(v)));
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
    const strings = [...Object.keys(tensors), ...Object.entries(metadata).flat(), ...Object.entries(ties).flat()];
    if (!strings.every(wellFormed)) {
      // The writer refuses what readers refuse: a string that is not Unicode.
      assert.throws(() => io.save(tensors, metadata, { ties }), (e: unknown) => e instanceof SafetensorsError && /lone UTF-16 surrogate/.test(e.message));
      return;
    }
    const bytes = io.save(tensors, metadata, { ties });
    const verdict = referenceVerdict(bytes);
    assert.ok(verdict.ok, `the reference reader refuses what save wrote: ${verdict.ok ? '' : verdict.reason}`);
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
  .record({ name: unicodeNameArb, dtype: fc.constantFrom(...Object.keys(ELEMENT_SIZE)), shape: shapeArb })
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
    metadata: fc.option(validMetadataArb, { nil: undefined }),
    tie: fc.option(fc.tuple(unicodeNameArb, fc.nat())),
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
    assert.ok(referenceVerdict(bytes).ok, 'the reference reader accepts every valid file');
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
  | { kind: 'header-splice'; at: number; remove: number; insert: Uint8Array }
  | { kind: 'number-text'; which: number; spelling: NumberSpelling }
  | { kind: 'string-escape'; target: 'name' | 'metadata-key' | 'metadata-value'; which: number; escape: string }
  | { kind: 'metadata-null' };

/** Other ways to write (or miswrite) an integer in JSON: what serde_json refuses for a usize and what it takes. */
type NumberSpelling = 'fraction' | 'exponent' | 'upper-exponent' | 'negative-zero' | 'leading-zero' | 'plus' | 'spaces' | 'huge' | 'negative';
const SPELL: Record<NumberSpelling, (digits: string) => string> = {
  fraction: (d) => `${d}.0`, exponent: (d) => `${d}e0`, 'upper-exponent': (d) => `${d}E+0`, 'negative-zero': () => '-0',
  'leading-zero': (d) => `0${d}`, plus: (d) => `+${d}`, spaces: (d) => ` ${d} `, huge: (d) => `1${'0'.repeat(20)}${d}`, negative: (d) => `-${d}`,
};
/** Lone surrogates (refused), a valid pair as an escape and as raw text (accepted), other escapes. */
const ESCAPES = ['\\ud800', '\\udc00', '\\ud800\\u0041', '\\udbff\\ud800', '\\ud83d\\ude00', '\\u00e9', '\\/', 'x\\ud834'];

/** Mutations that can never leave a valid file. */
const STRICT = new Set(['truncate', 'append', 'length-bit', 'offset', 'duplicate-key']);
/** Spellings and escapes that the reference reader refuses (so qkv must too). */
const REFUSED_SPELLINGS = new Set<NumberSpelling>(['fraction', 'exponent', 'upper-exponent', 'negative-zero', 'leading-zero', 'plus', 'huge', 'negative']);
const LONE_ESCAPES = new Set(['\\ud800', '\\udc00', '\\ud800\\u0041', '\\udbff\\ud800', 'x\\ud834']);

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
  fc.record({ kind: fc.constant('number-text' as const), which: fc.nat(), spelling: fc.constantFrom(...(Object.keys(SPELL) as NumberSpelling[])) }),
  fc.record({ kind: fc.constant('string-escape' as const), target: fc.constantFrom('name' as const, 'metadata-key' as const, 'metadata-value' as const), which: fc.nat(), escape: fc.constantFrom(...ESCAPES) }),
  fc.record({ kind: fc.constant('metadata-null' as const) }),
);

/** Positions of the integers in a header text written by headerText (inside shape and data_offsets arrays). */
function numberTokens(text: string): { at: number; digits: string }[] {
  const out: { at: number; digits: string }[] = [];
  for (const m of text.matchAll(/"(?:shape|data_offsets)":\[([0-9,]*)\]/g)) {
    let at = m.index! + m[0].indexOf('[') + 1;
    for (const d of m[1].split(',')) {
      if (d !== '') out.push({ at, digits: d });
      at += d.length + 1;
    }
  }
  return out;
}

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
    case 'number-text': {
      const text = headerText(file);
      const tokens = numberTokens(text);
      if (tokens.length === 0) return null;
      const { at, digits } = tokens[m.which % tokens.length];
      return fileBytes(text.slice(0, at) + SPELL[m.spelling](digits) + text.slice(at + digits.length), file.data);
    }
    case 'string-escape': {
      // Appends the escape inside a string of the header text (a name, a metadata key or value).
      const text = headerText(file);
      const quoted: string[] = m.target === 'name' ? file.entries.map((e) => JSON.stringify(e.name))
        : Object.entries((file.metadata ?? {}) as Record<string, string>).map(([k, v]) => JSON.stringify(m.target === 'metadata-key' ? k : v));
      if (quoted.length === 0) return null;
      const q = quoted[m.which % quoted.length];
      const at = text.indexOf(m.target === 'metadata-value' ? `:${q}` : `${q}:`);
      if (at < 0) return null;
      const close = at + (m.target === 'metadata-value' ? 1 : 0) + q.length - 1;
      return fileBytes(text.slice(0, close) + m.escape + text.slice(close), file.data);
    }
    case 'metadata-null': return writeRaw({ ...file, metadata: null });
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
/** A mutation whose result the reference reader is known to refuse (so qkv must too). */
const mustReject = (m: Mutation): boolean => STRICT.has(m.kind)
  || (m.kind === 'number-text' && REFUSED_SPELLINGS.has(m.spelling))
  || (m.kind === 'string-escape' && LONE_ESCAPES.has(m.escape));

/**
 * Judges qkv's outcome on mutated bytes: never accept what the reference reader refuses, reject
 * the mutations known to break a file, accept `"__metadata__": null`, and read accepted files
 * exactly as the bytes say. Returns the reference verdict (for the tallies).
 */
function judge(m: Mutation, bytes: Uint8Array, o: Outcome, same: boolean): boolean {
  const ref = referenceVerdict(bytes);
  if (!o.ok) {
    assert.ok(!same, `an unchanged file was rejected: ${o.message}`);
    return ref.ok;
  }
  assert.ok(ref.ok, `qkv accepted a file that the reference reader refuses (${ref.ok ? '' : ref.reason}), after a ${m.kind} mutation`);
  if (mustReject(m) && !same) assert.fail(`a ${m.kind} mutation was accepted: ${JSON.stringify(m)}`);
  sameAsOracle(o.result, bytes);
  return true;
}

test('fuzz 3: mutated files are rejected with a SafetensorsError or read exactly as the bytes say', (t) => {
  // kind → [accepted by qkv, rejected by both, rejected by qkv only (stricter than the reference)]
  const stats = new Map<string, [number, number, number]>();
  check(t, 'mutations', fc.tuple(validFileArb, mutationArb), ([valid, m]) => {
    const bytes = mutate(valid, m);
    if (bytes === null) return;
    const same = Buffer.compare(bytes, writeRaw(valid.file)) === 0;
    const o = outcome(() => io.load(bytes));
    const refOk = judge(m, bytes, o, same);
    const s = stats.get(m.kind) ?? [0, 0, 0];
    s[o.ok ? 0 : refOk ? 2 : 1]++;
    stats.set(m.kind, s);
  }, runs(10000));
  const lines = [...stats].sort().map(([k, [ok, bad, stricter]]) => `${k}: ${ok} accepted, ${bad} refused (as the reference does), ${stricter} refused by qkv only`);
  t.diagnostic(lines.join('; '));
  // Not vacuous: every kind ran, and the kinds that can keep a file valid did so sometimes.
  for (const k of ['truncate', 'append', 'length-bit', 'offset', 'duplicate-key', 'shape', 'dtype', 'metadata', 'ties', 'header-flips', 'file-flips', 'header-splice', 'number-text', 'string-escape', 'metadata-null']) {
    const [ok, bad, stricter] = stats.get(k) ?? [0, 0, 0];
    if (k !== 'metadata-null') assert.ok(bad + stricter > 0, `${k}: some mutated files were rejected`);
    if (!STRICT.has(k) && k !== 'header-splice') assert.ok(ok > 0, `${k}: some mutated files stayed valid`);
  }
  assert.equal(stats.get('metadata-null')![1] + stats.get('metadata-null')![2], 0, '"__metadata__": null is accepted');
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
    if (disk.ok) assert.ok(referenceVerdict(bytes).ok, 'loadFile accepted a file that the reference reader refuses');
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

/**
 * The official reader itself, when its Python package can be imported: from PYTHONPATH, from
 * QKV_SAFETENSORS_WHEEL (a wheel file, unpacked to a temporary folder), or from a wheel under
 * /opt/pypi/files. Returns the PYTHONPATH to use, or why it is not available.
 */
function officialReader(tmp: string): { pythonPath: string } | { skip: string } {
  const tryImport = (pythonPath: string): boolean =>
    spawnSync(PYTHON, ['-c', 'import safetensors._safetensors_rust'], { env: { ...process.env, PYTHONPATH: pythonPath }, stdio: 'ignore' }).status === 0;
  if (tryImport(process.env.PYTHONPATH ?? '')) return { pythonPath: process.env.PYTHONPATH ?? '' };
  const dir = '/opt/pypi/files';
  const wheel = process.env.QKV_SAFETENSORS_WHEEL
    ?? (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^safetensors-.*\.whl$/.test(f)).map((f) => path.join(dir, f)).pop() : undefined);
  if (!wheel) return { skip: 'the official safetensors package is not importable and no wheel was found' };
  const unpacked = path.join(tmp, 'wheel');
  const r = spawnSync(PYTHON, ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', wheel, unpacked], { encoding: 'utf8' });
  if (r.status !== 0 || !tryImport(unpacked)) return { skip: `${wheel} does not import with ${PYTHON}` };
  return { pythonPath: unpacked };
}

test('fuzz 6: verdicts agree with the official safetensors reader (when its package is available)', (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-official-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const official = officialReader(tmp);
  if ('skip' in official) {
    t.skip(official.skip);
    return;
  }
  // A corpus: valid files and every kind of mutation, from the same arbitraries as above.
  const corpus = fc.sample(fc.tuple(validFileArb, fc.option(mutationArb, { freq: 4 })), { seed: SEED, numRuns: runs(3000) });
  const files = path.join(tmp, 'files');
  fs.mkdirSync(files);
  const kinds: string[] = [];
  corpus.forEach(([valid, m], i) => {
    const bytes = m === null ? writeRaw(valid.file) : mutate(valid, m);
    if (bytes === null) return;
    fs.writeFileSync(path.join(files, String(i).padStart(6, '0')), bytes);
    kinds[i] = m?.kind ?? 'valid';
  });
  const r = spawnSync(PYTHON, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'official-verdicts.py'), files], {
    env: { ...process.env, PYTHONPATH: official.pythonPath }, encoding: 'utf8', maxBuffer: 1 << 26,
  });
  assert.equal(r.status, 0, r.stderr);
  let agree = 0, qkvStricter = 0, both = 0;
  const stricter = new Map<string, number>();
  for (const line of r.stdout.trim().split('\n')) {
    const [name, verdict, ...why] = line.split(' ');
    const bytes = new Uint8Array(fs.readFileSync(path.join(files, name)));
    const officialOk = verdict === 'ok';
    const ref = referenceVerdict(bytes);
    assert.equal(ref.ok, officialOk, `file ${name} (${kinds[Number(name)]}): the test's reference reader says ${ref.ok ? 'ok' : ref.reason}, the official reader ${officialOk ? 'ok' : why.join(' ')}`);
    const o = outcome(() => io.load(bytes));
    if (o.ok) assert.ok(officialOk, `file ${name} (${kinds[Number(name)]}): qkv accepts what the official reader refuses: ${why.join(' ')}`);
    if (o.ok === officialOk) agree++;
    else {
      qkvStricter++;
      stricter.set(kinds[Number(name)], (stricter.get(kinds[Number(name)]) ?? 0) + 1);
    }
    if (!o.ok && !officialOk) both++;
  }
  totalCases += agree + qkvStricter;
  t.diagnostic(`official reader vs qkv on ${agree + qkvStricter} files: ${agree} same verdict (${both} refused by both), ${qkvStricter} refused by qkv only (${[...stricter].map(([k, n]) => `${k} ${n}`).join(', ')}), 0 accepted by qkv only; the reference reader agreed with the official one on every file`);
  assert.ok(agree + qkvStricter >= runs(3000) * 0.9, 'the corpus was written and judged');
});

test('the fuzz suite ran at least 10,000 cases', (t) => {
  t.diagnostic(`${totalCases} fuzz cases in total (seed ${SEED})`);
  if (SCALE >= 1) assert.ok(totalCases >= 10_000, `${totalCases} cases`);
});
