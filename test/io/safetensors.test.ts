/** safetensors: round trips of every dtype, files written by PyTorch, atomic file writes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { io, tensor, randn, zeros, SafetensorsError } from '../../src/index.js';
import { assertEqual, loadFixture } from '../helpers/assert.js';

test('every dtype round-trips with metadata, including 0-D, empty and non-contiguous tensors', () => {
  const tensors = {
    f32: randn([3, 4]),
    f64: randn([2], { dtype: 'float64' }),
    i64: tensor([-3, 0, 2 ** 40], { dtype: 'int64' }),
    i32: tensor([[1, -2]], { dtype: 'int32' }),
    b: tensor([true, false, true]),
    scalar: tensor(1.5),
    empty: zeros([0, 3]),
    transposed: randn([3, 5]).t(),
    special: tensor([NaN, Infinity, -Infinity, -0]),
  };
  const bytes = io.save(tensors, { format: 'pt', note: 'héllo' });
  const { tensors: back, metadata } = io.load(bytes);
  assert.deepEqual(metadata, { format: 'pt', note: 'héllo' });
  assert.deepEqual(Object.keys(back), Object.keys(tensors));
  for (const [k, t] of Object.entries(tensors)) {
    assert.equal(back[k].dtype, t.dtype, k);
    assertEqual(back[k], t, k);
  }
  assert.equal((8 + new DataView(bytes.buffer).getUint32(0, true)) % 8, 0, 'data section is 8-byte aligned');
});

test('files written by the PyTorch fixture script load', () => {
  const { tensors, metadata } = loadFixture('qkv-layout.safetensors');
  assert.match(metadata.torch, /^1\./);
  assert.deepEqual(tensors.qkv.shape, [2, 5, 96]);
});

test('saveFile writes atomically and loadFile reads it back', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-st-'));
  const file = path.join(dir, 'model.safetensors');
  const a = { w: randn([4, 4]) };
  io.saveFile(file, a);
  assertEqual(io.loadFile(file).tensors.w, a.w);
  // A failing save (a reserved name) leaves the previous file untouched and no temporary behind.
  assert.throws(() => io.saveFile(file, { __metadata__: zeros([1]) }), SafetensorsError);
  assertEqual(io.loadFile(file).tensors.w, a.w);
  assert.deepEqual(fs.readdirSync(dir), ['model.safetensors']);
  fs.rmSync(dir, { recursive: true });
});

test('aliased tensors are refused; a short file names the offset', () => {
  const w = randn([4, 4]);
  assert.throws(() => io.save({ a: w, b: w.t() }), /tensors "a" and "b" share memory/);
  assert.throws(() => io.load(new Uint8Array(5)), /file is 5 bytes, shorter than the 8-byte header length at offset 0/);
});
