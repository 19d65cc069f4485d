/**
 * io.loadTorch against files torch 1.13 wrote (scripts/fixtures/torch_save.py): every dtype, tied
 * and non-contiguous tensors, zip (protocol 2 and 4), deflated and legacy formats, nanoGPT's
 * meta.pkl; then the options, and every refused or malformed input as a typed error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { io, nn, models, ArgumentError, TorchLoadError, TorchUnsafePickleError } from '../../src/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { TorchGlobal, TorchStorage } from '../../src/io/torch/values.js';
import { FIXTURES } from '../helpers/assert.js';

const DIR = path.join(FIXTURES, 'torch');
const file = (name: string): string => path.join(DIR, name);
const bytes = (name: string): Uint8Array => new Uint8Array(fs.readFileSync(file(name)));

interface Expected {
  dtype: string;
  shape: number[];
  stride: number[];
  offset: number;
  requires_grad: boolean;
  group: number;
  values: (string | boolean)[];
}

const QKV_DTYPE: Record<string, string> = {
  float32: 'float32', float64: 'float64', float16: 'float32', bfloat16: 'float32', int64: 'int64', int32: 'int32',
  int16: 'int32', int8: 'int32', uint8: 'int32', bool: 'bool',
};

const parseValue = (v: string | boolean): number => {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  if (v === '-0') return -0;
  return Number(v);
};

function checkTensor(t: unknown, e: Expected, label: string): asserts t is Tensor {
  assert.ok(t instanceof Tensor, `${label}: a Tensor`);
  assert.equal(t.dtype, QKV_DTYPE[e.dtype], `${label}: dtype`);
  assert.deepEqual(t.shape, e.shape, `${label}: shape`);
  if (t.numel() > 0) {
    assert.deepEqual(t.strides, e.stride, `${label}: strides`);
    assert.equal(t.offset, e.offset, `${label}: storage offset`);
  }
  assert.equal(t.requiresGrad, e.requires_grad, `${label}: requiresGrad`);
  const got = Array.from(t.toFlat() as ArrayLike<number>);
  const want = e.values.map(parseValue);
  assert.equal(got.length, want.length, `${label}: element count`);
  got.forEach((g, i) => assert.ok(Object.is(g, want[i]) || (Number.isNaN(g) && Number.isNaN(want[i])), `${label}[${i}]: ${g} vs ${want[i]}`));
}

function get(obj: unknown, dotted: string): unknown {
  const [head, ...rest] = dotted.split('.');
  const v = (obj as Record<string, unknown>)[head];
  if (rest.length === 0) return v;
  if (Array.isArray(v)) return v[Number(rest.join('.'))];
  return (v as Record<string, unknown>)[rest.join('.')];
}

test('every dtype loads with its value, shape and strides, in the zip and the legacy format', () => {
  const expected = JSON.parse(fs.readFileSync(file('dtypes.json'), 'utf8')) as Record<string, Expected>;
  for (const name of ['dtypes.pt', 'dtypes-legacy.pt']) {
    const sd = io.loadTorch<Record<string, Tensor>>(file(name));
    assert.deepEqual(Object.keys(sd), Object.keys(expected), `${name}: keys in file order`);
    for (const [k, e] of Object.entries(expected)) checkTensor(sd[k], e, `${name} ${k}`);
  }
  // Widening keeps every value: the bf16 subnormal and float16's extremes survive exactly.
  const sd = io.loadTorch<Record<string, Tensor>>(bytes('dtypes.pt'));
  assert.equal(sd.float16.toArray().toString(), '1,-2,65504,5.960464477539063e-8,Infinity,NaN,0.3330078125');
  assert.deepEqual(sd.int64.toArray(), [0, -1, 2 ** 53, -(2 ** 53), 123456789012345]);
});

test('{ widen: false } refuses the dtypes qkv would widen; { castFloats } narrows float64', () => {
  assert.throws(() => io.loadTorch(file('dtypes.pt'), { widen: false }), (e: Error) => e instanceof TorchLoadError && /torch\.float16, which qkv does not have; it would load widened to float32/.test(e.message));
  const onlyExact = io.loadTorch<Record<string, Tensor>>(file('shared.pt'), { widen: false });
  assert.equal(onlyExact.base.dtype, 'float32');
  const cast = io.loadTorch<Record<string, Tensor>>(file('dtypes.pt'), { castFloats: 'float32' });
  assert.equal(cast.float64.dtype, 'float32');
  assert.equal(cast.float64.toArray().toString(), [0.1, -2.5e-308, 1e308, NaN, -0, 5e-324].map(Math.fround).toString());
  assert.throws(() => io.loadTorch(file('dtypes.pt'), { cast_floats: 'float32' } as never), (e: Error) => e instanceof ArgumentError && /did you mean castFloats/.test(e.message));
  assert.throws(() => io.loadTorch(file('dtypes.pt'), { dicts: 'json' } as never), (e: Error) => e instanceof ArgumentError && /dicts must be 'object' or 'map'/.test(e.message));
  assert.throws(() => io.loadTorch(file('dtypes.pt'), { widen: 1 } as never), ArgumentError);
});

const SHARED = ['shared.pt', 'shared-p4.pt', 'shared-legacy.pt', 'deflated.pt'];

test('tied and non-contiguous tensors keep their storage sharing, offsets and strides (zip p2/p4, legacy, deflated)', () => {
  const { tensors, storage } = JSON.parse(fs.readFileSync(file('shared.json'), 'utf8')) as { tensors: Record<string, Expected>; storage: { numel: number; group: number; values: string[] } };
  for (const name of SHARED) {
    const obj = io.loadTorch<Record<string, unknown>>(file(name));
    const loaded = new Map<string, Tensor>();
    for (const [k, e] of Object.entries(tensors)) {
      const t = get(obj, k);
      checkTensor(t, e, `${name} ${k}`);
      loaded.set(k, t);
    }
    // Same storage in qkv exactly when PyTorch had the same storage.
    const keys = [...loaded.keys()];
    for (const a of keys) {
      for (const b of keys) {
        assert.equal(loaded.get(a)!.storage === loaded.get(b)!.storage, tensors[a].group === tensors[b].group, `${name}: ${a} / ${b} sharing`);
      }
    }
    assert.equal(obj.same_twice && (obj.same_twice as Tensor[])[0], (obj.same_twice as Tensor[])[1], `${name}: one tensor pickled twice is one object`);
    const tied = obj.tied as Record<string, Tensor>;
    assert.deepEqual(Object.keys(tied), ['emb.weight', 'head.weight']);
    // A storage on its own, sharing memory with a view of it.
    const st = obj.storage as TorchStorage;
    assert.ok(st instanceof TorchStorage);
    assert.equal(st.numel, storage.numel);
    assert.equal(st.torchDtype, 'float64');
    assert.deepEqual(Array.from(st.tensor().toFlat()), storage.values.map(Number));
    assert.equal(st.storage, (obj.storage_view as Tensor).storage);
    // Plain data.
    assert.deepEqual(obj.size, [2, 3]);
    assert.ok(Object.isFrozen(obj.size), 'torch.Size is a tuple');
    assert.deepEqual(obj.int_keys, { 0: 'a', 1: 'b', 10: 'c' });
    assert.deepEqual(obj.nested, [1, 2.5, 'ü', null, true, false, [1, [2, 3]], [], {}, 2n ** 70n, -(2n ** 63n), -5, 1e300, -1.5e-300]);
    const nested = obj.nested as unknown[];
    assert.ok(Object.isFrozen(nested[6]) && Object.isFrozen((nested[6] as unknown[])[1]) && !Object.isFrozen(nested[7]), 'tuples frozen, lists not');
    assert.ok(obj.dtype instanceof TorchGlobal && obj.dtype.qualifiedName === 'torch.float16');
    assert.equal(obj.surrogate, '\ud800x', 'a lone surrogate survives (surrogatepass)');
    assert.equal(obj.unicode, '日本語 🎉');
    // Writing through one view is seen by the others, as in PyTorch.
    const base = obj.base as Tensor;
    (obj.narrow as Tensor).storage.data[8] = 100;
    assert.equal((base.toArray() as number[][])[1][2], 100);
  }
});

test("{ dicts: 'map' } keeps key types and order", () => {
  const obj = io.loadTorch<Map<unknown, unknown>>(file('shared.pt'), { dicts: 'map' });
  assert.ok(obj instanceof Map);
  assert.deepEqual([...(obj.get('int_keys') as Map<unknown, unknown>).keys()], [0, 1, 10]);
  assert.ok((obj.get('tied') as Map<string, Tensor>).get('emb.weight') instanceof Tensor);
});

test('two keys sharing a storage become one Parameter in a module (loadTorchModule)', () => {
  class Tied extends nn.Module {
    declare emb: nn.Embedding;
    declare head: nn.Linear;
    constructor() {
      super();
      this.registerModule('emb', new nn.Embedding(5, 3));
      this.registerModule('head', new nn.Linear(3, 5, { bias: false }));
    }
  }
  const m = new Tied();
  assert.notEqual(m.emb.weight, m.head.weight);
  const sd = io.loadTorch<{ tied: Record<string, Tensor> }>(file('shared.pt')).tied;
  const r = models.loadTorchModule(m, sd);
  assert.deepEqual(r.retied, ['head.weight → emb.weight']);
  assert.equal(m.emb.weight, m.head.weight);
  assert.equal(m.numParameters(), 15);
  assert.deepEqual(m.emb.weight.toArray(), sd['emb.weight'].toArray());
  // From the file directly, strict: a missing key is an error.
  class Half extends nn.Module {
    constructor() {
      super();
      this.registerModule('emb', new nn.Embedding(5, 3));
    }
  }
  assert.throws(() => models.loadTorchModule(new Half(), file('dtypes.pt')), /unexpected key/);
  assert.throws(() => models.loadTorchModule(new Tied(), file('nanogpt-ckpt.pt')), /not a tensor; a state dict maps names to tensors/);
});

test('complex, sparse and quantized tensors are refused with a typed error naming them', () => {
  assert.throws(() => io.loadTorch(file('complex.pt')), (e: Error) => e instanceof TorchLoadError && /torch\.complex64, which qkv cannot represent/.test(e.message) && e.message.endsWith(`[${file('complex.pt')}]`));
  assert.throws(() => io.loadTorch(file('sparse.pt')), (e: Error) => e instanceof TorchLoadError && !(e instanceof TorchUnsafePickleError) && /sparse/.test(e.message));
  assert.throws(() => io.loadTorch(file('quantized.pt')), (e: Error) => e instanceof TorchUnsafePickleError && /torch\._utils\._rebuild_qtensor/.test(e.message));
});

test("nanoGPT's meta.pkl (a plain pickle, protocol 4) reads with loadPickle", () => {
  const meta = io.loadPickle<{ vocab_size: number; itos: Record<string, string>; stoi: Record<string, number> }>(bytes('meta.pkl'));
  assert.equal(meta.vocab_size, 13);
  for (const [i, ch] of Object.entries(meta.itos)) assert.equal(meta.stoi[ch], Number(i));
  assert.equal(Object.values(meta.itos).join(''), ' !,abcdehlorw');
  const asMap = io.loadPickle<Map<string, unknown>>(bytes('meta.pkl'), { dicts: 'map' });
  assert.deepEqual([...(asMap.get('itos') as Map<number, string>).keys()], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.throws(() => io.loadPickle(bytes('shared.pt').subarray(0, 10)), TorchLoadError);
  assert.throws(() => io.loadPickle(bytes('meta.pkl'), { dict: 'map' } as never), /did you mean dicts/);
});

test('isTorchSaveFile / sniffTorchFormat recognise both formats from the first bytes only', () => {
  for (const f of fs.readdirSync(DIR).filter((n) => n.endsWith('.pt'))) {
    const b = bytes(f);
    assert.ok(io.isTorchSaveFile(b.subarray(0, 64)), f);
    assert.equal(io.sniffTorchFormat(b), f.includes('legacy') ? 'legacy' : 'zip', f);
  }
  assert.equal(io.isTorchSaveFile(new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'gpt.safetensors')))), false);
  assert.equal(io.isTorchSaveFile(bytes('meta.pkl')), false);
  assert.equal(io.isTorchSaveFile(new Uint8Array(0)), false);
  assert.equal(io.isTorchSaveFile(new Uint8Array([0x50, 0x4b, 0x03, 0x04])), true);
});

test('files that are not torch.save files say what they are', () => {
  const st = new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'gpt.safetensors')));
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /the file is empty/],
    ['safetensors', st, /looks like a safetensors file .*use io\.load/],
    ['random', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), /not a torch\.save file: it starts with 01 02 03 04/],
    ['preview', new TextEncoder().encode('PYTORCH1 and then some'), /PYTORCH1/],
    ['tar', (() => { const b = new Uint8Array(1024); b.set(new TextEncoder().encode('ustar'), 257); return b; })(), /tar archive/],
    ['plain pickle', bytes('meta.pkl'), /not torch's magic number/],
  ];
  for (const [what, b, re] of cases) {
    assert.throws(() => io.loadTorch(b), (e: Error) => e instanceof TorchLoadError && re.test(e.message), what);
  }
  assert.throws(() => io.loadTorch(42 as never), ArgumentError);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-torch-'));
  const f = path.join(tmp, 'model.safetensors');
  fs.writeFileSync(f, st);
  assert.throws(() => io.loadTorch(f), (e: Error) => e instanceof TorchLoadError && e.message.endsWith(`[${f}]`));
  assert.throws(() => io.loadTorch(path.join(tmp, 'missing.pt')), /ENOENT/);
  fs.rmSync(tmp, { recursive: true });
});
