/**
 * What io.loadTorch refuses, one row per way a torch.save file can be wrong or dangerous, each a
 * TorchLoadError (TorchUnsafePickleError for what weights_only refuses) naming the opcode, global,
 * entry or storage and the offset. The malicious fixtures would run code in plain torch.load: the
 * test shows that they do (when torch is installed) and that qkv refuses them without running
 * anything (the marker file they would create never appears).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as zlib from 'node:zlib';
import { io, TorchLoadError, TorchUnsafePickleError } from '../../src/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES } from '../helpers/assert.js';
import { hasTorch, PYTHON } from '../helpers/torch.js';
import { ZipReader, bytesSource } from '../../src/io/torch/zip.js';
import { crc32 as crc } from '../../src/io/torch/crc32.js';
import { unpickle } from '../../src/io/torch/pickle.js';
import { TorchStorage } from '../../src/io/torch/values.js';
import { Storage } from '../../src/tensor/storage.js';
import { P, cat, f32bytes, findSignatures, pickle, tensorBody, torchZip, tupleOf, zip } from './torch-build.js';

const DIR = path.join(FIXTURES, 'torch');
const fixture = (name: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(DIR, name)));

/** Asserts a load fails with `cls` and a message matching every pattern. */
function refuses(b: Uint8Array, cls: typeof TorchLoadError, ...patterns: RegExp[]): void {
  assert.throws(() => io.loadTorch(b), (e: Error) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

const one = (spec: Parameters<typeof tensorBody>[0], data = f32bytes(1, 2)): Uint8Array => torchZip(pickle(tensorBody(spec)), { [spec?.key ?? '0']: data });

test('the malicious fixtures are refused without running their payload', (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-evil-'));
  const marker = path.join(tmp, 'pwned');
  process.env.QKV_TORCH_MARKER = marker;
  const cases: [string, RegExp][] = [
    ['evil-reduce.pt', /GLOBAL: the global "posix\.system" is not in the allow-list/],
    ['evil-eval.pt', /GLOBAL: the global "__builtin__\.eval" is not in the allow-list/],
    ['evil-p4.pt', /STACK_GLOBAL: the global "builtins\.eval" is not in the allow-list/],
    ['evil-legacy.pt', /the legacy object pickle.*GLOBAL: the global "posix\.system"/],
  ];
  try {
    for (const [name, re] of cases) {
      refuses(fixture(name), TorchUnsafePickleError, re, /nothing was executed/, /byte \d+ \(file offset \d+\)/);
      assert.throws(() => io.loadTorch(path.join(DIR, name)), TorchUnsafePickleError);
      assert.ok(!fs.existsSync(marker), `${name}: the payload did not run`);
    }
    if (!hasTorch()) {
      t.diagnostic('python3-torch not installed: the payloads are not demonstrated');
      return;
    }
    // In one Python process: weights_only=True refuses each file too; plain torch.load runs the
    // payload (which is the point of the fixture).
    const r = spawnSync(PYTHON, ['-c', `
import json, os, sys, torch
marker = os.environ['QKV_TORCH_MARKER']
out = {}
for f in sys.argv[1:]:
    try:
        torch.load(f, weights_only=True)
        refused = False
    except Exception as e:
        refused = type(e).__name__
    safe_ran = os.path.exists(marker)
    torch.load(f)
    ran = os.path.exists(marker)
    if ran:
        os.remove(marker)
    out[os.path.basename(f)] = [refused, safe_ran, ran]
print(json.dumps(out))
`, ...cases.map(([name]) => path.join(DIR, name))], { env: process.env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const seen = JSON.parse(r.stdout) as Record<string, [string | false, boolean, boolean]>;
    for (const [name] of cases) assert.deepEqual(seen[name], ['UnpicklingError', false, true], `${name}: PyTorch weights_only refuses it, plain torch.load runs it`);
  } finally {
    delete process.env.QKV_TORCH_MARKER;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('pickle operations that weights_only refuses are TorchUnsafePickleErrors naming the opcode', () => {
  const z = (...body: (Uint8Array | number[])[]): Uint8Array => torchZip(pickle(...body));
  const rows: [string, Uint8Array, RegExp][] = [
    ['a torch global outside the list', z(P.global('torch', 'load')), /"torch\.load" is not in the allow-list/],
    ['numpy reconstruct', z(P.global('numpy.core.multiarray', '_reconstruct')), /"numpy\.core\.multiarray\._reconstruct"/],
    ['device rebuild', z(P.global('torch._utils', '_rebuild_device_tensor_from_numpy')), /_rebuild_device_tensor_from_numpy/],
    ['INST', z(cat(P.mark, [0x69], new TextEncoder().encode('os\nsystem\n'))), /INST \(instantiates an arbitrary class/],
    ['OBJ', z(P.mark, P.global('collections', 'OrderedDict'), [0x6f]), /OBJ \(instantiates an arbitrary class\)/],
    ['NEWOBJ_EX', z(P.global('collections', 'OrderedDict'), P.emptyTuple, P.emptyDict, [0x92]), /NEWOBJ_EX/],
    ['EXT1', z([0x82, 1]), /EXT1/],
    ['NEWOBJ of OrderedDict', z(P.global('collections', 'OrderedDict'), P.emptyTuple, P.newobj), /NEWOBJ of collections\.OrderedDict; only torch\.nn\.parameter\.Parameter/],
    ['REDUCE of a list', z(P.emptyList, P.emptyTuple, P.reduce), /REDUCE calls a list of 0, which is not an allow-listed global/],
    ['BUILD on a dict', z(P.emptyDict, P.emptyDict, P.build), /BUILD on a dict; only an OrderedDict's attributes/],
    ['BUILD on a list', z(P.emptyList, P.emptyDict, P.build), /BUILD on a list of 0/],
    ['APPEND to a tuple', z(P.emptyTuple, P.none, P.append), /APPEND to a tuple of 0; only lists/],
    ['APPENDS to a dict', z(P.emptyDict, P.mark, P.none, P.appends), /APPENDS to a dict/],
    ['SETITEM on a list', z(P.emptyList, P.int(0), P.none, P.setitem), /SETITEM on a list of 0, which is not a dict/],
    ['ADDITEMS to a frozenset', z(P.mark, P.frozenset, P.mark, P.none, P.additems), /ADDITEMS to a set/],
    ['persistent id of a module', z(tupleOf(P.str('module'), P.none, P.none, P.none), P.binpersid), /persistent_load of the str "module"/],
    ['persistent id not a tuple', z(P.int(3), P.binpersid), /persistent_load of the int 3/],
    ['PERSID (text)', z(cat([0x50], new TextEncoder().encode('0\n'))), /PERSID/],
  ];
  for (const [what, b, re] of rows) {
    assert.throws(() => io.loadTorch(b), (e: Error) => {
      assert.ok(e instanceof TorchUnsafePickleError, `${what}: got ${e.name}: ${e.message}`);
      assert.match(e.message, re, what);
      assert.match(e.message, /zip entry "archive\/data\.pkl", byte \d+ \(file offset \d+\), [A-Z_0-9]+:/, what);
      return true;
    });
  }
});

test('malformed pickles are TorchLoadErrors naming the opcode and offset', () => {
  const z = (...body: (Uint8Array | number[])[]): Uint8Array => torchZip(pickle(...body));
  const rows: [string, Uint8Array, RegExp][] = [
    ['protocol 6', torchZip(cat(P.proto(6), P.none, P.stop)), /PROTO: unsupported pickle protocol 6/],
    ['unknown opcode', z([0xff]), /unknown opcode 0xff/],
    ['no STOP', torchZip(cat(P.proto(), P.none)), /ends without a STOP/],
    ['empty stack at STOP', torchZip(cat(P.proto(), P.stop)), /STOP: stack underflow/],
    ['truncated argument', torchZip(cat(P.proto(), [0x58, 10, 0, 0, 0], new TextEncoder().encode('abc'))), /BINUNICODE: the pickle ends early: 10 more bytes needed/],
    ['huge BINUNICODE8', torchZip(cat(P.proto(4), [0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])), /runs past the end of the pickle/],
    ['invalid UTF-8', torchZip(cat(P.proto(), [0x58, 2, 0, 0, 0, 0xc3, 0x28], P.stop)), /not valid UTF-8/],
    ['memo miss', z(P.binget(7)), /memo entry 7 was never stored/],
    ['MARK missing', z(P.none, P.tuple), /no MARK to pop to/],
    ['odd SETITEMS', z(P.emptyDict, P.mark, P.none, P.setitems), /odd number \(1\)/],
    ['tuple key in object mode', z(P.emptyDict, P.int(1), P.tuple1, P.none, P.setitem), /a dict key is a tuple of 1: only str and int keys .* { dicts: 'map' }/],
    ['int and str key clash', z(P.emptyDict, P.int(1), P.none, P.setitem, P.str('1'), P.none, P.setitem), /both the int 1 and the str "1"/],
    ['unhashable key', z(P.emptyDict, P.emptyList, P.none, P.setitem), /unhashable type: a list/],
    ['STRING (protocol 0)', z(cat([0x53], new TextEncoder().encode("'a'\n"))), /STRING \(protocol 0 escaped text\) is not supported/],
    ['out-of-band buffer', z([0x97]), /NEXT_BUFFER/],
    ['calling a storage class', z(P.global('torch', 'FloatStorage'), tupleOf(P.emptyList), P.reduce), /calling torch\.FloatStorage\(…\) is not supported/],
    ['calling a dtype', z(P.global('torch', 'float32'), P.emptyTuple, P.reduce), /calling torch\.float32/],
    ['BUILD on a tensor', torchZip(pickle(tensorBody(), P.emptyTuple, P.build), { 0: f32bytes(1, 2) }), /BUILD on a tensor/],
    ['bad torch.Size', z(P.global('torch', 'Size'), tupleOf(tupleOf(P.str('x'))), P.reduce), /torch\.Size: the str "x" is not an int/],
    ['bad OrderedDict arg', z(P.global('collections', 'OrderedDict'), tupleOf(P.int(3)), P.reduce), /OrderedDict\(the int 3\)/],
    ['OrderedDict BUILD with a list', z(P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, P.emptyList, P.build), /BUILD of an OrderedDict with a list of 0; expected a dict/],
    ['persistent id in a plain pickle', z(tupleOf(P.str('storage')), P.binpersid), /persistent id has 1 fields; the zip format writes 5/],
  ];
  for (const [what, b, re] of rows) {
    assert.throws(() => io.loadTorch(b), (e: Error) => {
      assert.ok(e instanceof TorchLoadError && !(e instanceof TorchUnsafePickleError), `${what}: got ${e.name}: ${e.message}`);
      assert.match(e.message, re, what);
      return true;
    });
  }
  // The same opcodes in a valid order load: OrderedDict BUILD with a dict, sets, DUP, POP, MEMOIZE, frames.
  const ok = io.loadTorch<Record<string, unknown>>(torchZip(cat(
    P.proto(4), [0x95, 0, 0, 0, 0, 0, 0, 0, 0], P.emptyDict, [0x94],
    P.str('od'), P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, P.emptyDict, P.build, P.setitem,
    P.str('set'), P.emptySet, P.mark, P.int(1), P.int(2), P.additems, P.setitem,
    P.str('dup'), P.int(5), P.dup, P.pop, P.setitem,
    P.str('text'), new TextEncoder().encode('I01\nL12345678901234567890L\nF-1.5e3\n'), P.tuple3, P.setitem,
    P.stop,
  )));
  assert.deepEqual(ok, { od: {}, set: new Set([1, 2]), dup: 5, text: [true, 12345678901234567890n, -1500] });
});

test('tensors that do not fit their storage, and inconsistent storages, are refused', () => {
  const rows: [string, Uint8Array, RegExp][] = [
    ['view past the end', one({ size: [2], stride: [1], offset: 1 }), /reaches element 2, but storage "0" has 2 elements \(the storage is too short for the view\)/],
    ['stride past the end', one({ size: [2, 2], stride: [1, 1], numel: 2 }), /reaches element 2/],
    ['storage entry too short', one({ numel: 3 }), /storage "0" needs 3 × 4 bytes but its entry "archive\/data\/0" holds 8 \(the storage is too short\)/],
    ['missing storage entry', torchZip(pickle(tensorBody())), /storage "0" has no "archive\/data\/0" entry/],
    ['size and stride lengths differ', one({ size: [2], stride: [1, 1] }), /size \[2\] has 1 dims but stride \[1,1\] has 2/],
    ['negative size', one({ size: [-1] }), /size\[0\] must be a non-negative int/],
    ['unknown storage type', one({ storageType: 'FooStorage' }), /"torch\.FooStorage" is not in the allow-list/],
    ['typed storage without dtype', torchZip(pickle(
      P.global('torch._utils', '_rebuild_tensor_v2'), P.mark,
      tupleOf(P.str('storage'), P.global('torch.storage', 'TypedStorage'), P.str('0'), P.str('cpu'), P.int(2)), P.binpersid,
      P.int(0), tupleOf(P.int(2)), tupleOf(P.int(1)), P.false, P.emptyDict, P.tuple, P.reduce), { 0: f32bytes(1, 2) }), /storage type torch\.storage\.TypedStorage has no dtype/],
    ['one key, two dtypes', torchZip(pickle(P.mark, tensorBody({ storageType: 'FloatStorage' }), tensorBody({ storageType: 'IntStorage' }), P.tuple), { 0: f32bytes(1, 2) }), /storage "0" is named as torch\.int32 × 2 but was loaded as torch\.float32 × 2; the file is inconsistent/],
    ['requires_grad on ints', one({ storageType: 'IntStorage', requiresGrad: true }), /requires_grad=True on a int32 tensor/],
    ['int64 beyond 2^53', one({ storageType: 'LongStorage', numel: 1, size: [1] }, new Uint8Array([1, 0, 0, 0, 0, 0, 0x40, 0])), /element 0 \(18014398509481985\) is beyond ±2\^53/],
    ['bool byte 2', one({ storageType: 'BoolStorage', numel: 2, size: [2] }, new Uint8Array([1, 2])), /element 1 is the byte 2, not 0 or 1/],
    ['wrong arity', torchZip(pickle(P.global('torch._utils', '_rebuild_tensor_v2'), tupleOf(P.none), P.reduce)), /_rebuild_tensor_v2 takes 6 or 7 arguments, got 1/],
  ];
  for (const [what, b, re] of rows) {
    assert.throws(() => io.loadTorch(b), (e: Error) => {
      assert.ok(e instanceof TorchLoadError, `${what}: got ${e.name}: ${e.message}`);
      assert.match(e.message, re, what);
      return true;
    });
  }
  // The accepted edge cases: empty tensors, stride 0, offsets, 0-d, a storage longer than needed.
  const v = io.loadTorch<Tensor[]>(torchZip(pickle(P.mark,
    tensorBody({ size: [0, 3], stride: [3, 1], offset: 5 }),
    tensorBody({ size: [4, 2], stride: [0, 1] }),
    tensorBody({ size: [], stride: [], offset: 1 }),
    P.tuple), { 0: f32bytes(1, 2, 3) }));
  assert.deepEqual(v.map((t) => t.shape), [[0, 3], [4, 2], []]);
  assert.deepEqual(v[1].toArray(), [[1, 2], [1, 2], [1, 2], [1, 2]]);
  assert.equal(v[2].item(), 2);
  assert.ok(v.every((t) => t.storage === v[0].storage));
});

test('zip archives that are truncated, inconsistent or not torch.save are refused', () => {
  const good = one({});
  const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const central = findSignatures(good, 0x02014b50);
  const locals = findSignatures(good, 0x04034b50);
  const mutate = (f: (b: Uint8Array) => void): Uint8Array => {
    const b = good.slice();
    f(b);
    return b;
  };
  const rows: [string, Uint8Array, RegExp][] = [
    ['truncated', good.subarray(0, good.length - 30), /no end-of-central-directory record|runs past/],
    ['cut in half', good.subarray(0, good.length >> 1), /no end-of-central-directory record/],
    ['tiny', good.subarray(0, 10), /too short for a zip end-of-central-directory record/],
    ['no folder', zip([['data.pkl', pickle(P.none)], ['version', '3\n']]), /the first entry "data\.pkl" is not in a folder/],
    ['no version', zip([['archive/data.pkl', pickle(P.none)]]), /no "archive\/version" entry/],
    ['version 11', torchZip(pickle(P.none), {}, { version: '11\n' }), /format version "11\\n" is not a number from 1 to 10/],
    ['version text', torchZip(pickle(P.none), {}, { version: 'three' }), /format version "three"/],
    ['no data.pkl', zip([['archive/version', '3\n'], ['archive/data/0', f32bytes(1)]]), /no "archive\/data\.pkl" entry/],
    ['TorchScript', zip([['m/version', '3\n'], ['m/constants.pkl', pickle(P.emptyTuple)], ['m/data.pkl.x', '']]), /TorchScript archive \(torch\.jit\.save\)/],
    ['bad byteorder', torchZip(pickle(P.none), {}, { extra: [['archive/byteorder', 'middle']] }), /byte order "middle"/],
    ['duplicate name', zip([['archive/data.pkl', pickle(P.none)], ['archive/data.pkl', pickle(P.none)], ['archive/version', '3']]), /appears twice/],
    ['CRC mismatch', mutate((b) => { const h = locals[1]; b[h + 30 + dv(b).getUint16(h + 26, true) + dv(b).getUint16(h + 28, true) + 1] ^= 1; }), /zip entry "archive\/data\/0": CRC-32 mismatch/],
    ['encrypted', mutate((b) => { b[central[0] + 8] |= 1; }), /is encrypted/],
    ['method 12', mutate((b) => { b[central[0] + 10] = 12; b[locals[0] + 8] = 12; }), /compression method 12; only stored \(0\) and deflate \(8\)/],
    ['local/central method differ', mutate((b) => { b[central[0] + 10] = 8; }), /says compression method 0, the central directory 8/],
    ['local name differs', mutate((b) => { b[locals[0] + 30] ^= 0x20; }), /names a different file than the central directory/],
    ['bad local signature', mutate((b) => { b[locals[1]] = 0; }), /no local header signature/],
    ['local header past directory', mutate((b) => { dv(b).setUint32(central[1] + 42, central[0], true); }), /not before the central directory/],
    ['local and central sizes differ', mutate((b) => { dv(b).setUint32(central[1] + 20, 1e6, true); dv(b).setUint32(central[1] + 24, 1e6, true); }), /local header at file offset \d+ disagrees with the central directory/],
    ['size past directory', mutate((b) => { for (const [o, at] of [[central[1], 20], [central[1], 24], [locals[1], 18], [locals[1], 22]]) dv(b).setUint32(o + at, 1e6, true); }), /run past the start of the central directory/],
    ['stored sizes differ', mutate((b) => { dv(b).setUint32(central[1] + 24, 9, true); dv(b).setUint32(locals[1] + 22, 9, true); }), /is stored \(not compressed\) but its sizes differ/],
    ['bad central signature', mutate((b) => { b[central[1]] = 0; }), /central directory entry 1: bad signature/],
    ['entry count too big', mutate((b) => { const e = findSignatures(b, 0x06054b50)[0]; dv(b).setUint16(e + 10, 999, true); dv(b).setUint16(e + 8, 999, true); }), /says entry count 999, the ZIP64 record/],
    ['directory past end', mutate((b) => { const e = findSignatures(b, 0x06064b50)[0]; dv(b).setBigUint64(e + 40, 10n ** 6n, true); }), /runs past the end record|says central directory size/],
  ];
  for (const [what, b, re] of rows) {
    assert.throws(() => io.loadTorch(b), (e: Error) => {
      assert.ok(e instanceof TorchLoadError, `${what}: got ${e.name}: ${e.message}`);
      assert.match(e.message, re, what);
      return true;
    });
  }
  // With { checkCrc: false } the corrupted byte is loaded as it is.
  const corrupted = rows.find(([w]) => w === 'CRC mismatch')![1];
  const t = io.loadTorch<Tensor>(corrupted, { checkCrc: false });
  assert.notDeepEqual(t.toArray(), [1, 2]);
});

test('big-endian storages (byteorder "big"), ZIP64 fields and deflated entries of every kind load', () => {
  // byteorder big: the storage bytes are big-endian.
  const be = new Uint8Array(8);
  new DataView(be.buffer).setFloat32(0, 1.5, false);
  new DataView(be.buffer).setFloat32(4, -2, false);
  assert.deepEqual(io.loadTorch<Tensor>(torchZip(pickle(tensorBody()), { 0: be }, { extra: [['archive/byteorder', 'big']] })).toArray(), [1.5, -2]);
  // ZIP64 extra fields for sizes and offsets.
  const z64 = zip([['archive/data.pkl', pickle(tensorBody())], ['archive/data/0', f32bytes(3, 4)], ['archive/version', '3\n']], { forceZip64: true });
  assert.deepEqual(io.loadTorch<Tensor>(z64).toArray(), [3, 4]);
  // Deflate: stored blocks, fixed and dynamic Huffman codes, long matches, via Node's zlib.
  const data = new Float32Array(5000);
  for (let i = 0; i < data.length; i++) data[i] = i % 7 === 0 ? Math.sin(i) : i % 13;
  const raw = new Uint8Array(data.buffer);
  const body = pickle(tensorBody({ numel: data.length, size: [data.length] }));
  for (const [what, o] of [['level 0', { level: 0 }], ['fixed', { strategy: zlib.constants.Z_FIXED }], ['dynamic', { level: 9 }], ['huffman only', { strategy: zlib.constants.Z_HUFFMAN_ONLY }]] as const) {
    const file = deflated(torchZip(body, { 0: raw }), (b) => zlib.deflateRawSync(b, o));
    const t = io.loadTorch<Tensor>(file);
    assert.deepEqual(Array.from(t.toFlat()), Array.from(data), what);
  }
  // Corrupt deflate data: a typed error, never a hang or a wrong answer.
  const good = deflated(torchZip(body, { 0: raw }), (b) => zlib.deflateRawSync(b, { level: 9 }));
  let errors = 0;
  for (let i = 0; i < 200; i++) {
    const b = good.slice();
    const at = 64 + Math.floor((i / 200) * (b.length - 200));
    b[at] ^= 1 << (i % 8);
    try {
      io.loadTorch(b);
    } catch (e) {
      assert.ok(e instanceof TorchLoadError, `flip at ${at}: ${(e as Error).name} ${(e as Error).message}`);
      errors++;
    }
  }
  assert.ok(errors > 150, `${errors} of 200 corrupted deflate files rejected`);
});

/** Rebuilds a zip with every entry deflated by `deflate` (method 8). */
function deflated(file: Uint8Array, deflate: (b: Uint8Array) => Uint8Array): Uint8Array {
  const entries = readEntries(file);
  const out: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let at = 0;
  const enc = new TextEncoder();
  for (const [name, data] of entries) {
    const comp = deflate(data);
    const n = enc.encode(name);
    const h = new Uint8Array(30 + n.length), hv = new DataView(h.buffer);
    hv.setUint32(0, 0x04034b50, true); hv.setUint16(4, 20, true); hv.setUint16(8, 8, true);
    hv.setUint32(14, crc(data), true); hv.setUint32(18, comp.length, true); hv.setUint32(22, data.length, true); hv.setUint16(26, n.length, true);
    h.set(n, 30);
    const c = new Uint8Array(46 + n.length), cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true); cv.setUint16(6, 20, true); cv.setUint16(10, 8, true);
    cv.setUint32(16, crc(data), true); cv.setUint32(20, comp.length, true); cv.setUint32(24, data.length, true); cv.setUint16(28, n.length, true); cv.setUint32(42, at, true);
    c.set(n, 46);
    out.push(h, comp);
    central.push(c);
    at += h.length + comp.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22), ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, entries.length, true); ev.setUint16(10, entries.length, true); ev.setUint32(12, cdSize, true); ev.setUint32(16, at, true);
  return cat(...out, ...central, end);
}

function readEntries(file: Uint8Array): [string, Uint8Array][] {
  const r = new ZipReader(bytesSource(file));
  return r.order.map((e) => [e.name, r.read(e).slice()]);
}

test('CRC-32 agrees with the bitwise definition (and zlib where Node has it)', () => {
  for (const n of [0, 1, 7, 8, 9, 1000, 65537]) {
    const b = new Uint8Array(n).map((_, i) => (i * 2654435761) >>> 24);
    assert.equal(crc(b), crcSlow(b), `n = ${n}`);
    if (typeof (zlib as { crc32?: unknown }).crc32 === 'function') assert.equal(crc(b), (zlib as unknown as { crc32(b: Uint8Array): number }).crc32(b));
  }
});

function crcSlow(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

test('the legacy format: truncated or inconsistent storage sections are refused', () => {
  const good = fixture('dtypes-legacy.pt');
  assert.ok(io.loadTorch(good));
  const rows: [string, Uint8Array, RegExp][] = [
    ['truncated data', good.subarray(0, good.length - 3), /needs \d+ bytes at file offset \d+, but the file ends at \d+; truncated/],
    ['truncated size', good.subarray(0, good.length - 3 - 3 * 1 - 8 - 5), /truncated|ends at/],
    ['truncated pickle', good.subarray(0, 300), /ends early|without a STOP/],
  ];
  // A wrong element count in the storage section.
  const b = good.slice();
  const keysEnd = lastStop(b);
  new DataView(b.buffer).setBigInt64(keysEnd, 999n, true);
  rows.push(['wrong numel', b, /has 999 elements, but the pickle says/]);
  // The magic number and protocol version.
  const wrongMagic = good.slice();
  wrongMagic[4] ^= 1;
  rows.push(['magic', wrongMagic, /not torch's magic number/]);
  const wrongProto = good.slice();
  wrongProto[18] = 0xe8; // 1001 → 1000
  rows.push(['protocol version', wrongProto, /protocol version the int 1000/]);
  for (const [what, bytes, re] of rows) {
    assert.throws(() => io.loadTorch(bytes), (e: Error) => {
      assert.ok(e instanceof TorchLoadError, `${what}: ${e.name}: ${e.message}`);
      assert.match(e.message, re, what);
      return true;
    });
  }
});

/** Offset just after the storage-key list pickle of a legacy file (where the first storage's size is). */
function lastStop(b: Uint8Array): number {
  // The key list is the fifth pickle: find its end by loading with the library's unpickler.
  let p = 0;
  for (let i = 0; i < 5; i++) p = unpickle(b, p, { where: 'x', fileOffset: 0, dicts: 'map', persistentLoad: () => new TorchStorage('k', 'float32', 'float32', new Storage(new Float32Array(0)), 2 ** 40) }).end;
  return p;
}
