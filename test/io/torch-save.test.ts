/**
 * io.saveTorch / io.saveTorchBytes: round trips through io.loadTorch (every qkv dtype, shared
 * storages and views, tuples, Maps, big ints, floats), the values it refuses, the atomic file
 * write, and — when python3-torch is installed — that PyTorch 1.13 reads the files with
 * weights_only=True: same values, shapes, strides, offsets and storage sharing; a qkv GPT saved
 * as a nanoGPT checkpoint gives PyTorch's model qkv's logits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { io, models, optim, tensor, randn, randint, manualSeed, TorchSaveError } from '../../src/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { TorchGlobal } from '../../src/io/torch/values.js';
import { FIXTURES } from '../helpers/assert.js';
import { hasTorch, PYTHON } from '../helpers/torch.js';
import { cat } from './torch-build.js';
import { ZipReader, bytesSource, zipPieces } from '../../src/io/torch/zip.js';

const SCRIPTS = path.join(FIXTURES, '..', '..', 'scripts', 'fixtures');

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-torch-save-'));
}

function python(code: string, ...args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  assert.equal(r.status, 0, `python failed:\n${r.stderr}`);
  return r.stdout;
}

/** Tensors of every qkv dtype, views of one storage, and plain data (no floats: PyTorch 1.13's weights_only has no float opcode). */
function sample(): Record<string, unknown> {
  manualSeed(5);
  const base = randn([3, 4]);
  const ints = tensor([[1, -2, 3], [2 ** 53, -(2 ** 53), 0]], { dtype: 'int64' });
  return {
    base,
    t: base.t(),
    narrow: base.narrow(1, 1, 2),
    row: base.select(0, 2),
    expanded: tensor([1, 2, 3]).expand([2, 3]),
    f64: tensor([0.1, -1e300, NaN, Infinity], { dtype: 'float64' }),
    i64: ints,
    i64_col: ints.select(1, 1),
    i32: tensor([-(2 ** 31), 2 ** 31 - 1], { dtype: 'int32' }),
    bool: tensor([true, false, true], { dtype: 'bool' }),
    scalar: tensor(7),
    empty: tensor([], { dtype: 'float32' }).reshape([0, 3]),
    grad: randn([2], { requiresGrad: true }),
    same: [base, base],
    tuple: Object.freeze([1, Object.freeze(['a', null]), true]),
    map: new Map<unknown, unknown>([[0, 'zero'], ['0', 'str zero'], [true, 'yes'], [null, 'none'], [Object.freeze([1, 2]), 'pair'], [2n ** 80n, 'big']]),
    big: [2n ** 70n, -(2n ** 63n), 2n ** 60n, -5],
    text: ['ü日本 🎉', '\ud800x', ''],
    dtype: TorchGlobal.of('torch', 'float16', { kind: 'dtype', dtype: 'float16' }),
    nested: { a: { b: { c: [[], {}] } } },
  };
}

test('save → load round-trips values, views, sharing and Python types', () => {
  const obj = sample();
  const { map, ...withoutMap } = obj; // map has both 0 and '0' as keys: only { dicts: 'map' } can load it
  assert.throws(() => io.loadTorch(io.saveTorchBytes(obj)), /both the int 0 and the str "0"/);
  const back = io.loadTorch<Record<string, any>>(io.saveTorchBytes(withoutMap));
  for (const k of ['base', 't', 'narrow', 'row', 'expanded', 'f64', 'i64', 'i64_col', 'i32', 'bool', 'scalar', 'empty', 'grad']) {
    const a = obj[k] as Tensor, b = back[k] as Tensor;
    assert.equal(b.dtype, a.dtype, k);
    assert.deepEqual(b.shape, a.shape, k);
    assert.deepEqual(b.strides, a.strides, k);
    assert.equal(b.offset, a.offset, k);
    assert.equal(b.requiresGrad, a.requiresGrad, k);
    assert.deepEqual(Array.from(b.toFlat() as ArrayLike<number>).map(String), Array.from(a.toFlat() as ArrayLike<number>).map(String), k);
  }
  for (const k of ['t', 'narrow', 'row', 'same']) assert.equal((k === 'same' ? back.same[0] : back[k]).storage, back.base.storage, `${k} shares base's storage`);
  assert.equal(back.i64_col.storage, back.i64.storage);
  assert.notEqual(back.f64.storage, back.base.storage);
  assert.equal(back.same[0], back.same[1], 'one tensor object twice stays one object');
  assert.deepEqual(back.tuple, [1, ['a', null], true]);
  assert.ok(Object.isFrozen(back.tuple) && Object.isFrozen(back.tuple[1]), 'frozen arrays come back as tuples');
  assert.deepEqual(back.big, [2n ** 70n, -(2n ** 63n), 2n ** 60n, -5]);
  assert.deepEqual(back.text, ['ü日本 🎉', '\ud800x', '']);
  assert.equal(back.dtype, obj.dtype);
  assert.deepEqual(back.nested, { a: { b: { c: [[], {}] } } });
  const m = io.loadTorch<Map<string, Map<unknown, unknown>>>(io.saveTorchBytes({ map }), { dicts: 'map' }).get('map')!;
  assert.deepEqual([...m.entries()].map(([k, v]) => [k, v]), [[0, 'zero'], ['0', 'str zero'], [true, 'yes'], [null, 'none'], [[1, 2], 'pair'], [2n ** 80n, 'big']]);
  // Floats, including the ones JSON cannot hold, and −0.
  const floats = io.loadTorch<number[]>(io.saveTorchBytes([0.5, -0, NaN, Infinity, -Infinity, 1e-310, 2 ** 53 + 2, 1e300]));
  assert.ok(Object.is(floats[1], -0) && Number.isNaN(floats[2]));
  assert.deepEqual(floats.slice(3), [Infinity, -Infinity, 1e-310, 2 ** 53 + 2, 1e300]);
  // Cycles in lists and dicts survive (pickle's memo).
  const cyc: unknown[] = [1];
  cyc.push(cyc);
  const c = io.loadTorch<unknown[]>(io.saveTorchBytes(cyc));
  assert.equal(c[1], c);
});

test('values a torch.save file cannot hold are TorchSaveErrors naming their path', () => {
  const recursive: unknown[] = [];
  recursive.push(recursive);
  Object.freeze(recursive);
  const rows: [unknown, RegExp][] = [
    [{ a: undefined }, /obj\.a is undefined; use null/],
    [{ f: () => 1 }, /obj\.f is a function/],
    [[Symbol('s')], /obj\[0\] is a symbol/],
    [{ s: new Set([1]) }, /obj\.s is a Set/],
    [{ x: new Float32Array(2) }, /obj\.x is a typed array \(wrap it in a Tensor\)/],
    [{ 'odd key': new Date(0) }, /obj\["odd key"\] is an instance of Date/],
    [new Map([[[1], 2]]), /a Map key of type array \(a list is unhashable/],
    [recursive, /a frozen array \(a tuple\) that contains itself/],
  ];
  for (const [v, re] of rows) assert.throws(() => io.saveTorchBytes(v), (e: Error) => e instanceof TorchSaveError && re.test(e.message), String(re));
  const bad = tensor([1, 2], { dtype: 'int64' });
  bad.storage.data[1] = 1.5;
  assert.throws(() => io.saveTorchBytes({ w: bad }), /obj\.w: int64 storage element 1 is 1\.5, not an integer/);
  assert.throws(() => io.saveTorchBytes({}, { archiveName: 'a/b' }), /archiveName must be a non-empty string without slashes/);
  assert.throws(() => io.saveTorchBytes({}, { archive_name: 'x' } as never), /did you mean archiveName/);
});

test('saveTorch writes atomically, names the zip folder after the file, and leaves no temporary file on failure', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'ckpt.pt');
  io.saveTorch(f, { w: tensor([1, 2]) });
  const raw = fs.readFileSync(f);
  assert.equal(raw.subarray(30, 30 + 'ckpt/data.pkl'.length).toString(), 'ckpt/data.pkl');
  assert.deepEqual(io.loadTorch<{ w: Tensor }>(f).w.toArray(), [1, 2]);
  assert.throws(() => io.saveTorch(f, { w: tensor([1]), bad: undefined }), TorchSaveError);
  assert.deepEqual(fs.readdirSync(dir), ['ckpt.pt'], 'no temporary file left behind');
  assert.deepEqual(fs.readFileSync(f), raw, 'the old file is intact');
  fs.rmSync(dir, { recursive: true });
});

test('an optimizer state dict keeps int parameter ids; a nanoGPT checkpoint written by qkv loads back', () => {
  manualSeed(1);
  const gpt = new models.GPT({ vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8, bias: false });
  const opt = new optim.AdamW(gpt.weightDecayGroups(0.1), { lr: 1e-3 });
  const idx = randint(11, [2, 8]);
  gpt.forward(idx, idx).loss!.backward();
  opt.step();
  const ckpt = {
    model: gpt.stateDict(), optimizer: opt.stateDict(), iter_num: 1, best_val_loss: tensor(2.5),
    model_args: { n_layer: 1, n_head: 2, n_embd: 8, block_size: 8, bias: false, vocab_size: 11, dropout: 0 },
    config: { dataset: 'x', compile: false },
  };
  const bytes = io.saveTorchBytes(ckpt);
  const back = io.loadTorch<any>(bytes, { dicts: 'map' });
  assert.deepEqual([...back.get('optimizer').get('state').keys()], [...Object.keys(ckpt.optimizer.state)].map(Number), 'state keys are ints');
  const g2 = models.loadNanoGPT(bytes);
  assert.equal(g2.lm_head.weight, g2.wte.weight, 'the shared storage becomes a tie');
  assert.deepEqual(g2.forward(idx).logits.toArray(), gpt.forward(idx).logits.toArray());
  const opt2 = new optim.AdamW(g2.weightDecayGroups(0.1), { lr: 1e-3 });
  opt2.loadStateDict(io.loadTorch<any>(bytes).optimizer);
});

test('PyTorch reads qkv-written files with weights_only=True: values, strides, offsets, sharing', (t) => {
  if (!hasTorch()) return t.skip('python3-torch not installed');
  const dir = tmpDir();
  const f = path.join(dir, 'sample.pt');
  const obj = sample();
  delete obj.f64; // floats inside tensors are fine; Python floats are not (1.13's weights_only has no BINFLOAT)
  io.saveTorch(f, obj);
  // ZIP64 records everywhere (what files over 4 GB need) must be read by PyTorch's reader too.
  const z = path.join(dir, 'zip64.pt');
  fs.writeFileSync(z, cat(...zipPieces(entriesOf(io.saveTorchBytes({ w: tensor([1.5, 2.5]) })), { forceZip64: true })));
  const out = python(`
import sys, json, torch
o = torch.load(sys.argv[1], weights_only=True)
res = {}
for k, v in o.items():
    if isinstance(v, torch.Tensor):
        res[k] = dict(dtype=str(v.dtype), shape=list(v.shape), stride=list(v.stride()), offset=v.storage_offset(),
                      rg=v.requires_grad, values=[repr(x) for x in v.reshape(-1).tolist()], ptr=v.storage().data_ptr())
res['same'] = o['same'][0] is o['same'][1]
res['tuple'] = repr(o['tuple'])
res['map'] = repr(o['map'])
res['big'] = repr(o['big'])
res['text'] = [ascii(s) for s in o['text']]
res['dtype'] = repr(o['dtype'])
res['nested'] = repr(o['nested'])
res['zip64'] = torch.load(sys.argv[2], weights_only=True)['w'].tolist()
print(json.dumps(res))
`, f, z);
  const py = JSON.parse(out);
  const want: Record<string, string> = { float32: 'torch.float32', int64: 'torch.int64', int32: 'torch.int32', bool: 'torch.bool' };
  for (const [k, v] of Object.entries(obj)) {
    if (!(v instanceof Tensor)) continue;
    const p = py[k];
    assert.equal(p.dtype, want[v.dtype], k);
    assert.deepEqual(p.shape, v.shape, k);
    if (v.numel() > 0) {
      assert.deepEqual(p.stride, v.strides, k);
      assert.equal(p.offset, v.offset, k);
    }
    assert.equal(p.rg, v.requiresGrad, k);
    const mine = Array.from(v.toFlat() as ArrayLike<number>);
    assert.deepEqual(p.values.map((s: string) => (s === 'True' ? 1 : s === 'False' ? 0 : Number(s))), mine, k);
  }
  for (const k of ['t', 'narrow', 'row']) assert.equal(py[k].ptr, py.base.ptr, `${k} shares base's storage in PyTorch`);
  assert.equal(py.i64_col.ptr, py.i64.ptr);
  assert.equal(py.same, true);
  assert.equal(py.tuple, "(1, ('a', None), True)");
  assert.equal(py.map, "{0: 'zero', '0': 'str zero', True: 'yes', None: 'none', (1, 2): 'pair', 1208925819614629174706176: 'big'}");
  assert.equal(py.big, '[1180591620717411303424, -9223372036854775808, 1152921504606846976, -5]');
  assert.deepEqual(py.text, ["'\\xfc\\u65e5\\u672c \\U0001f389'", "'\\ud800x'", "''"]);
  assert.equal(py.dtype, 'torch.float16');
  assert.equal(py.nested, "{'a': {'b': {'c': [[], {}]}}}");
  assert.deepEqual(py.zip64, [1.5, 2.5]);
  fs.rmSync(dir, { recursive: true });
});

/** The entries of a zip, for re-writing them with other options. */
function entriesOf(b: Uint8Array): { name: string; data: Uint8Array }[] {
  const r = new ZipReader(bytesSource(b));
  return r.order.map((e) => ({ name: e.name, data: r.read(e).slice() }));
}

test('a qkv GPT saved as a nanoGPT checkpoint gives the same logits in PyTorch; a re-saved fixture matches the original in PyTorch', (t) => {
  if (!hasTorch()) return t.skip('python3-torch not installed');
  const dir = tmpDir();
  manualSeed(3);
  const args = { n_layer: 2, n_head: 2, n_embd: 8, block_size: 8, bias: true, vocab_size: 13, dropout: 0 };
  const gpt = new models.GPT({ vocabSize: 13, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8 });
  const idx = randint(13, [2, 8]);
  const f = path.join(dir, 'ckpt.pt');
  io.saveTorch(f, { model: gpt.stateDict(), model_args: args, iter_num: 0 });
  // And a torch-written fixture loaded and saved again by qkv, compared with the original in PyTorch.
  const again = path.join(dir, 'shared-again.pt');
  io.saveTorch(again, io.loadTorch(path.join(FIXTURES, 'torch', 'shared.pt')));
  const out = python(`
import sys, json, torch
sys.path.insert(0, sys.argv[2])
import torch_save
ck = torch.load(sys.argv[1], weights_only=True)
m = torch_save.GPT(ck['model_args'], mask_buffer=False)
m.load_state_dict(ck['model'])
assert m.lm_head.weight.data_ptr() == m.transformer.wte.weight.data_ptr()
idx = torch.tensor(json.loads(sys.argv[3]))
with torch.no_grad():
    logits = m(idx)[0].tolist()
a = torch.load(sys.argv[4])
b = torch.load(sys.argv[5])
def kind(v):
    for t in (torch.Tensor, dict, tuple, list):
        if isinstance(v, t):
            return t
    return type(v)
def walk(x, y, path):
    assert kind(x) == kind(y), (path, type(x), type(y))
    if isinstance(x, torch.Tensor):
        assert x.dtype == y.dtype and x.shape == y.shape and x.stride() == y.stride() and x.storage_offset() == y.storage_offset(), path
        assert torch.equal(x, y), path
    elif isinstance(x, dict):
        assert list(map(str, x.keys())) == list(map(str, y.keys())), path
        for k in x: walk(x[k], y[k] if k in y else y[str(k)], path + '.' + str(k))
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y), path
        for i, (p, q) in enumerate(zip(x, y)): walk(p, q, path + f'[{i}]')
ta = {k: v for k, v in a.items() if k not in ('storage', 'int_keys')}
tb = {k: v for k, v in b.items() if k not in ('storage', 'int_keys')}
walk(ta, tb, 'obj')
assert b['tied']['emb.weight'].data_ptr() == b['tied']['head.weight'].data_ptr()
assert b['narrow'].storage().data_ptr() == b['base'].storage().data_ptr()
assert b['storage'].tolist() == a['storage'].tolist()
print(json.dumps({'logits': logits, 'same': True}))
`, f, SCRIPTS, JSON.stringify(idx.toArray()), path.join(FIXTURES, 'torch', 'shared.pt'), again);
  const py = JSON.parse(out);
  const mine = gpt.forward(idx).logits;
  assert.ok(mine.sub(tensor(py.logits)).abs().max().item() < 1e-5, 'PyTorch logits of the qkv-written checkpoint');
  assert.equal(py.same, true, 'the re-saved fixture equals the original in PyTorch');
  fs.rmSync(dir, { recursive: true });
});
