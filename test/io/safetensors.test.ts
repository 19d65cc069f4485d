/** safetensors: round trips of every dtype, files written by PyTorch, atomic file writes, partial I/O, declared ties. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire, syncBuiltinESMExports } from 'node:module';
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

test('saveFile and loadFile finish when the OS moves only a few bytes per call (partial writes and reads)', () => {
  const require = createRequire(import.meta.url);
  const fsc = require('node:fs') as typeof fs;
  const { writeSync, readSync } = fsc;
  let writes = 0, reads = 0;
  fsc.writeSync = ((fd: number, buf: Uint8Array, off?: number, len?: number) => {
    writes++;
    return (writeSync as (...a: unknown[]) => number)(fd, buf, off ?? 0, Math.min(len ?? buf.length - (off ?? 0), 3));
  }) as typeof fs.writeSync;
  fsc.readSync = ((fd: number, buf: Uint8Array, off: number, len: number, pos: number) => {
    reads++;
    return (readSync as (...a: unknown[]) => number)(fd, buf, off, Math.min(len, 5), pos);
  }) as typeof fs.readSync;
  syncBuiltinESMExports();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-st-'));
  try {
    const tensors = { w: randn([7, 5]), i: tensor([1, -2, 3], { dtype: 'int64' }), m: tensor([true, false]) };
    const file = path.join(dir, 'p.safetensors');
    io.saveFile(file, tensors, { note: 'partial' });
    const size = fs.statSync(file).size;
    assert.ok(writes >= size / 3, `${writes} write calls for ${size} bytes: every write was partial`);
    const back = io.loadFile(file);
    assert.ok(reads >= size / 5, `${reads} read calls for ${size} bytes`);
    assert.deepEqual(back.metadata, { note: 'partial' });
    for (const [k, t] of Object.entries(tensors)) assertEqual(back.tensors[k], t, k);
    assert.equal(Buffer.compare(fs.readFileSync(file), io.save(tensors, { note: 'partial' })), 0, 'same bytes as save');
  } finally {
    fsc.writeSync = writeSync;
    fsc.readSync = readSync;
    syncBuiltinESMExports();
    fs.rmSync(dir, { recursive: true });
  }
});

test('declared ties: written once, loaded as views sharing storage, through files too', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-st-'));
  const wte = randn([10, 4]);
  const tensors = { 'transformer.wte.weight': wte, 'lm_head.weight': wte, 'ln.bias': zeros([4]) };
  assert.throws(() => io.save(tensors), /tensors "transformer.wte.weight" and "lm_head.weight" share memory/);
  const file = path.join(dir, 'tied.safetensors');
  io.saveFile(file, tensors, { arch: 'gpt' }, { ties: { 'lm_head.weight': 'transformer.wte.weight' } });
  assert.equal(fs.statSync(file).size < 8 + 1000 + (40 + 4) * 4 + 40 * 4, true, 'the tied weight is stored once');
  const { tensors: back, metadata } = io.loadFile(file);
  assert.deepEqual(metadata, { arch: 'gpt', [io.TIES_METADATA_KEY]: '{"lm_head.weight":"transformer.wte.weight"}' });
  assert.equal(back['lm_head.weight'].storage, back['transformer.wte.weight'].storage);
  assertEqual(back['lm_head.weight'], wte);
  // The alias may also be left out of `tensors`: the tie is recorded all the same.
  const { tensors: again } = io.load(io.save({ 'transformer.wte.weight': wte }, {}, { ties: { 'lm_head.weight': 'transformer.wte.weight' } }));
  assert.equal(again['lm_head.weight'].storage, again['transformer.wte.weight'].storage);
  fs.rmSync(dir, { recursive: true });
});
