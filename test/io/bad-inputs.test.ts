/**
 * The bad-input list of DESIGN.md ("Checkpoints and interop") as a table: one row per way a file
 * can be wrong, each run through `load` (bytes in memory) and `loadFile` (the same bytes on
 * disk), each asserting a SafetensorsError whose message names the tensor, the field and the byte
 * offset. Then the save-side refusals, and the inputs that must be accepted, with their values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { io, tensor, randn, zeros, SafetensorsError } from '../../src/index.js';
import { checkTensorSize, type HeaderEntry } from '../../src/io/safetensors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { fileBytes, writeRaw, type RawEntry } from './st-build.js';
import { referenceVerdict } from './reference-reader.js';
import { PYTHON, hasTorch } from '../helpers/torch.js';
import { spawnSync } from 'node:child_process';

const f32 = (...v: number[]): Uint8Array => new Uint8Array(new Float32Array(v).buffer);
const cat = (...parts: (Uint8Array | number[])[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** A valid entry "w": F32 [2] at [0, 8). */
const W = (over: Partial<RawEntry> = {}): RawEntry => ({ name: 'w', dtype: 'F32', shape: [2], data_offsets: [0, 8], ...over });
/** A one-tensor file whose entry "w" is changed by `over`; its key sits at header byte 9. */
const oneTensor = (over: Partial<RawEntry>, data = f32(1, 2)): Uint8Array => writeRaw({ entries: [W(over)], data });
/** Byte offset of `needle` in the header of a file (ASCII headers). */
const at = (bytes: Uint8Array, needle: string): number => 8 + Buffer.from(bytes.subarray(8)).indexOf(needle);

interface BadFile { what: string; bytes: Uint8Array; expect: (RegExp | ((b: Uint8Array) => RegExp))[] }

const two = (a: number[], b: number[], data: Uint8Array): Uint8Array => writeRaw({
  entries: [W({ name: 'a', data_offsets: a }), W({ name: 'b', data_offsets: b })], data,
});

const BAD_FILES: BadFile[] = [
  // --- the length prefix
  { what: 'header shorter than 8 bytes', bytes: new Uint8Array([1, 0, 0]), expect: [/file is 3 bytes, shorter than the 8-byte header length at offset 0/] },
  { what: 'empty file', bytes: new Uint8Array(0), expect: [/file is 0 bytes, shorter than the 8-byte header length at offset 0/] },
  { what: 'N > 100,000,000', bytes: fileBytes('{}', undefined, 100_000_001n), expect: [/header length 100000001 at offset 0 exceeds the limit of 100000000 bytes/] },
  { what: 'N = 2^64 − 1 (must not try to allocate)', bytes: fileBytes('{}', undefined, 2n ** 64n - 1n), expect: [/header length 18446744073709551615 at offset 0 exceeds/] },
  { what: 'N past the end of the file', bytes: fileBytes('{}', undefined, 50n), expect: [/header length 50 at offset 0 runs past the end of the 10-byte file/] },
  // --- the header text
  { what: 'invalid UTF-8 (a lone 0xff)', bytes: fileBytes(cat(utf8('{"w'), [0xff], utf8('":{}}'))), expect: [/header .* is not valid UTF-8: byte 0xff at offset 11/] },
  { what: 'invalid UTF-8 (overlong "/")', bytes: fileBytes(cat(utf8('{"'), [0xc0, 0xaf], utf8('":{}}'))), expect: [/not valid UTF-8: byte 0xc0 at offset 10/] },
  { what: 'invalid UTF-8 (an encoded surrogate)', bytes: fileBytes(cat(utf8('{"'), [0xed, 0xa0, 0x80], utf8('":{}}'))), expect: [/not valid UTF-8: byte 0xed at offset 10/] },
  { what: 'invalid UTF-8 (truncated sequence at the end)', bytes: fileBytes(cat(utf8('{}  '), [0xe2, 0x82])), expect: [/not valid UTF-8: byte 0xe2 at offset 12/] },
  { what: 'invalid JSON (trailing comma in an entry)', bytes: fileBytes('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],}}', f32(1, 2)), expect: [/invalid JSON header at byte 61 \(inside the entry "w"\): expected a string/] },
  { what: 'invalid JSON (unterminated)', bytes: fileBytes('{"w":{"dtype":"F32"'), expect: [/invalid JSON header at byte 27 \(inside the entry "w"\): expected ',' or '}'/] },
  { what: 'invalid JSON (a UTF-8 byte-order mark first)', bytes: fileBytes('\ufeff{}'), expect: [/invalid JSON header at byte 8: expected a value/] },
  { what: 'invalid JSON (nesting deeper than 64)', bytes: fileBytes(`{"w":${'['.repeat(70)}${']'.repeat(70)}}`), expect: [/nesting deeper than 64/, /inside the entry "w"/, /at byte \d+/] },
  { what: 'header is a JSON array, not an object', bytes: fileBytes('[]'), expect: [/header at offset 8 is a JSON array, not an object/] },
  { what: 'duplicate tensor keys', bytes: fileBytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2)), expect: [/invalid JSON header at byte 62: duplicate key "w"/] },
  { what: 'duplicate field inside an entry', bytes: fileBytes('{"w":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}}', f32(1, 2)), expect: [/at byte 28 \(inside the entry "w"\): duplicate key "dtype"/] },
  { what: 'duplicate metadata keys', bytes: fileBytes('{"__metadata__":{"k":"a","k":"b"}}'), expect: [/at byte 33 \(inside the entry "__metadata__"\): duplicate key "k"/] },
  // --- one entry
  { what: 'unknown dtype', bytes: oneTensor({ dtype: 'F8' }), expect: [/tensor "w" \(header byte 9\): dtype "F8" is not one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL/] },
  { what: 'dtype is not a string', bytes: oneTensor({ dtype: 4 }), expect: [/tensor "w" \(header byte 9\): dtype 4 is not one of/] },
  { what: 'dtype spelled in lower case', bytes: oneTensor({ dtype: 'f32' }), expect: [/tensor "w" \(header byte 9\): dtype "f32"/] },
  { what: 'shape with a negative value', bytes: oneTensor({ shape: [2, -1] }), expect: [/tensor "w" \(header byte 9\): shape \[2,-1\] must be an array of integers/] },
  { what: 'shape with a fraction', bytes: oneTensor({ shape: [1.5] }), expect: [/invalid JSON header at byte 37 \(inside the entry "w"\): the number 1\.5 is not an integer written as digits/] },
  // --- numbers and strings the reference reader (serde_json into usize / String) refuses
  ...([
    ['shape written 2.0', '"shape":[2.0]', 37, '2.0'],
    ['shape written 2e0', '"shape":[2e0]', 37, '2e0'],
    ['shape written 0.2E+1', '"shape":[0.2E+1]', 37, '0.2E+1'],
    ['shape with -0', '"shape":[2,-0]', 39, '-0'],
    ['data_offsets written 8.0', '"shape":[2],"data_offsets":[0,8.0]', 58, '8.0'],
    ['data_offsets written 1.2e1', '"shape":[3],"data_offsets":[0,1.2e1]', 58, '1.2e1'],
  ] as const).map(([what, fields, byte, num]): BadFile => ({
    what,
    bytes: fileBytes(`{"w":{"dtype":"F32",${fields.includes('data_offsets') ? fields : `${fields},"data_offsets":[0,8]`}}}`, f32(1, 2, 3).subarray(0, fields.includes('[3]') ? 12 : 8)),
    expect: [new RegExp(`invalid JSON header at byte ${byte} \\(inside the entry "w"\\): the number ${num.replace(/[.+]/g, '\\$&')} is not an integer written as digits; .*refuses 3\\.0, 1\\.2e1 and -0`)],
  })),
  { what: 'a lone high surrogate escaped in a tensor name', bytes: fileBytes('{"w\\ud800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32(1, 2)), expect: [/invalid JSON header at byte 9: the string "w\\ud800" holds a lone UTF-16 surrogate \(\\ud800 escape\), which is not Unicode text; the reference reader refuses it/] },
  { what: 'a lone low surrogate escaped in a tensor name', bytes: fileBytes('{"\\udc00x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32(1, 2)), expect: [/the string "\\udc00x" holds a lone UTF-16 surrogate \(\\udc00 escape\)/] },
  { what: 'a high surrogate followed by a non-surrogate escape', bytes: fileBytes('{"\\ud800\\u0041":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32(1, 2)), expect: [/holds a lone UTF-16 surrogate \(\\ud800 escape\)/] },
  { what: 'a lone surrogate in a metadata key', bytes: fileBytes('{"__metadata__":{"k\\udbff":"v"}}'), expect: [/invalid JSON header at byte 25 \(inside the entry "__metadata__"\): the string "k\\udbff" holds a lone UTF-16 surrogate/] },
  { what: 'a lone surrogate in a metadata value', bytes: fileBytes('{"__metadata__":{"k":"\\udfff"}}'), expect: [/\(inside the entry "__metadata__"\): the string "\\udfff" holds a lone UTF-16 surrogate/] },
  { what: 'an empty tensor with a dimension of 2^60 (the reference reader accepts it; qkv cannot hold the size)', bytes: oneTensor({ shape: [0, 2 ** 60], data_offsets: [0, 0] }, new Uint8Array(0)), expect: [/tensor "w" \(header byte 9\): shape \[0,1152921504606847000\] has a dimension ≥ 2\^53, which qkv cannot hold exactly .*the reference reader accepts it because the tensor is empty, qkv does not/] },
  // --- not safetensors at all: say what the file is (the magic bytes)
  { what: 'a torch.save zip file', bytes: cat(utf8('PK\x03\x04'), new Uint8Array(22), [16, 0, 0, 0], utf8('archive/data.pklFB'), new Uint8Array(40)), expect: [/^safetensors: this is a PyTorch torch\.save file \(a zip archive holding archive\/data\.pkl\), not safetensors: use io\.loadTorch/] },
  { what: 'a legacy torch.save file', bytes: new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02]), expect: [/^safetensors: this is a PyTorch torch\.save file in the legacy \(pre-1\.6\) format, not safetensors: use io\.loadTorch/] },
  { what: 'a Python pickle', bytes: new Uint8Array([0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0x94, 0x2e]), expect: [/^safetensors: this is a Python pickle \(protocol 4\), not safetensors; if torch\.save wrote it, use io\.loadTorch/] },
  { what: 'another zip archive', bytes: cat(utf8('PK\x03\x04'), new Uint8Array(22), [9, 0, 0, 0], utf8('model.bin'), new Uint8Array(8)), expect: [/^safetensors: this is a zip archive \(first entry "model\.bin"\), not safetensors/] },
  { what: 'a GGUF file', bytes: cat(utf8('GGUF'), [3, 0, 0, 0], new Uint8Array(16)), expect: [/^safetensors: this is a GGUF file \(llama\.cpp\), not safetensors/] },
  { what: 'a NumPy .npy file', bytes: cat([0x93], utf8('NUMPY'), [1, 0, 0x76, 0], utf8("{'descr': '<f8'}")), expect: [/^safetensors: this is a NumPy \.npy file/] },
  { what: 'an HTML page saved instead of the file', bytes: utf8('<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>'), expect: [/^safetensors: this is an HTML or XML page, not safetensors \(a download that saved a web page instead of the file\?\)/] },
  { what: 'a JSON file (a sharded checkpoint index)', bytes: utf8('{\n  "metadata": {"total_size": 10},\n  "weight_map": {"w": "model-00001-of-00002.safetensors"}\n}\n'), expect: [/^safetensors: this is a sharded checkpoint index \(model\.safetensors\.index\.json\): load the shards it lists, not safetensors/] },
  { what: 'a Git LFS pointer', bytes: utf8('version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 548105171\n'), expect: [/^safetensors: this is a Git LFS pointer file, not the weights: fetch the real file \(git lfs pull\)/] },
  { what: 'gzip-compressed data', bytes: new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]), expect: [/^safetensors: this is gzip-compressed data, not safetensors: decompress it first/] },
  { what: 'a text file', bytes: utf8('It was the best of times, it was the worst of times\n'), expect: [/^safetensors: this is a text file \(it starts "It was the best of times, it was the wor"\), not safetensors/] },
  { what: 'shape with a string', bytes: oneTensor({ shape: ['2'] }), expect: [/tensor "w" \(header byte 9\): shape \["2"\] must be/] },
  { what: 'shape beyond 2^53', bytes: oneTensor({ shape: [2 ** 60] }), expect: [/tensor "w" \(header byte 9\): shape \[1152921504606847000\] must be an array of integers in \[0, 2\^53\)/] },
  { what: 'shape is not an array', bytes: oneTensor({ shape: 2 }), expect: [/tensor "w" \(header byte 9\): shape 2 must be an array/] },
  { what: 'shape × element size overflows', bytes: oneTensor({ shape: [2 ** 26, 2 ** 26, 4], data_offsets: [0, 8] }), expect: [/tensor "w" \(header byte 9\): shape \[67108864,67108864,4\] × 4 bytes per F32 element overflows 2\^53/] },
  { what: 'data_offsets not two numbers', bytes: oneTensor({ data_offsets: [0] }), expect: [/tensor "w" \(header byte 9\): data_offsets \[0\] must be two integers/] },
  { what: 'data_offsets negative', bytes: oneTensor({ data_offsets: [-8, 0] }), expect: [/tensor "w" \(header byte 9\): data_offsets \[-8,0\] must be two integers/] },
  { what: 'data_offsets end before begin', bytes: oneTensor({ data_offsets: [8, 0] }), expect: [/tensor "w" \(header byte 9\): data_offsets \[8, 0\] end before they begin/] },
  { what: 'END − BEGIN ≠ byte size', bytes: oneTensor({ data_offsets: [0, 4] }), expect: [/tensor "w" \(header byte 9\): data_offsets \[0, 4\] span 4 bytes but F32 \[2\] needs 8/] },
  { what: 'entry is not an object', bytes: fileBytes('{"w":[1,2]}'), expect: [/tensor "w" \(header byte 9\) is an array, not an object with dtype, shape and data_offsets/] },
  { what: 'entry misses a field', bytes: fileBytes('{"w":{"dtype":"F32","shape":[0]}}'), expect: [/tensor "w" \(header byte 9\) is missing the field "data_offsets"/] },
  { what: 'entry has an unknown field', bytes: oneTensor({ extra: { offsets: [0, 8] } }), expect: [/tensor "w" \(header byte 9\) has an unknown field "offsets"/] },
  { what: 'unknown dtype on a tensor with a 10,000-character name (the message is cut)', bytes: oneTensor({ name: 'n'.repeat(10_000), dtype: 'F8' }), expect: [/^safetensors: tensor "n{99}…\(10002 characters\) \(header byte 9\): dtype "F8" is not one of [A-Z0-9, ]+( \[[^\]]+\])?$/] },
  // --- tiling of the data section
  { what: 'offsets leave a gap', bytes: two([0, 8], [12, 20], new Uint8Array(20)), expect: [(b) => new RegExp(`tensor "b" \\(header byte ${at(b, '"b"')}\\): data_offsets begin at 12 \\(file offset \\d+\\), which leaves a gap of 4 bytes after tensor "a"`)] },
  { what: 'offsets leave a gap at the start', bytes: oneTensor({ data_offsets: [4, 12] }, new Uint8Array(12)), expect: [/tensor "w" \(header byte 9\): data_offsets begin at 4 \(file offset 67\), which leaves a gap of 4 bytes after the header/] },
  { what: 'offsets overlap', bytes: two([0, 8], [4, 12], new Uint8Array(12)), expect: [(b) => new RegExp(`tensor "b" \\(header byte ${at(b, '"b"')}\\): data_offsets begin at 4 .* overlaps tensor "a" \\(which ends at 8\\)`)] },
  { what: 'two tensors claim the same bytes', bytes: two([0, 8], [0, 8], new Uint8Array(8)), expect: [/tensor "b" .*data_offsets begin at 0 .* overlaps tensor "a"/] },
  { what: 'data past the end of the file (truncated data)', bytes: oneTensor({}, new Uint8Array(5)), expect: [/tensor "w" \(header byte 9\): data_offsets end at 8 \(file offset 70\), past the end of the 67-byte file/] },
  { what: 'huge data_offsets claim, 2^51 bytes (must not try to allocate)', bytes: oneTensor({ shape: [2 ** 29, 2 ** 20], data_offsets: [0, 2 ** 51] }), expect: [/tensor "w" \(header byte 9\): data_offsets end at 2251799813685248 .* past the end of the 101-byte file/] },
  { what: 'trailing bytes', bytes: cat(oneTensor({}), [1, 2, 3]), expect: [/3 trailing bytes after the last tensor "w", at file offset 70/] },
  { what: 'data but no tensors', bytes: fileBytes('{}', new Uint8Array(4)), expect: [/4 trailing bytes after the header \(which lists no tensors\), at file offset 10/] },
  // --- metadata
  { what: 'non-string metadata value', bytes: fileBytes('{"__metadata__":{"k":1}}'), expect: [/__metadata__ \(header byte 9\): the value for "k" is a number \(1\), not a string/] },
  { what: 'metadata is not an object', bytes: fileBytes('{"__metadata__":"v"}'), expect: [/__metadata__ \(header byte 9\) must be an object of strings, got a string/] },
  // --- values that qkv cannot hold
  { what: 'I64 beyond 2^53', bytes: writeRaw({ entries: [{ name: 'i', dtype: 'I64', shape: [2], data_offsets: [0, 16] }], data: cat(new Uint8Array(8), new Uint8Array(new BigInt64Array([2n ** 53n + 1n]).buffer)) }), expect: [(b) => new RegExp(`tensor "i" \\(header byte 9\\): I64 element 1 at file offset ${b.length - 8} \\(9007199254740993\\) is beyond ±2\\^53`)] },
  { what: 'BOOL byte that is not 0 or 1', bytes: writeRaw({ entries: [{ name: 'm', dtype: 'BOOL', shape: [3], data_offsets: [0, 3] }], data: new Uint8Array([1, 0, 2]) }), expect: [(b) => new RegExp(`tensor "m" \\(header byte 9\\): BOOL element 2 at file offset ${b.length - 1} is 2, not 0 or 1`)] },
  // --- declared ties (metadata qkv.ties)
  ...([
    ['tie target missing', '{"lm":"wte"}', /tie "lm" → "wte": the target is not a tensor in the file/],
    ['tie chain', '{"lm":"x","x":"w"}', /tie "lm" → "x": the target is itself an alias \(chains and cycles are not allowed\)/],
    ['tie cycle', '{"a":"b","b":"a"}', /tie "a" → "b": the target is itself an alias/],
    ['tie alias also stored as a tensor', '{"w":"w2"}', /tie alias "w" is also stored as a tensor/],
    ['tie to itself', '{"lm":"lm"}', /tie "lm" names itself as its target/],
    ['tie declaration is not JSON', '{lm:"w"}', /is not a JSON object \{alias: target\}: invalid JSON at UTF-8 byte 1: expected a string/],
    ['tie declaration is an array', '["w"]', /must be an object \{alias: target\}, got an array/],
    ['tie target is not a string', '{"lm":1}', /the target of tie "lm" is number, not a tensor name/],
    ['tie declaration with duplicate aliases', '{"lm":"w","lm":"w"}', /duplicate key "lm"/],
    ['tie alias named __metadata__', '{"__metadata__":"w"}', /a tie alias may not be named "__metadata__"/],
  ] as const).map(([what, ties, re]): BadFile => ({
    what,
    bytes: writeRaw({ metadata: { 'qkv.ties': ties }, entries: [W(), W({ name: 'w2', data_offsets: [8, 16] })], data: f32(1, 2, 3, 4) }),
    expect: [/__metadata__\["qkv.ties"\] \(header byte 9\)/, re],
  })),
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-bad-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

for (const [i, c] of BAD_FILES.entries()) {
  test(`rejects: ${c.what}`, () => {
    const patterns = c.expect.map((e) => (typeof e === 'function' ? e(c.bytes) : e));
    const check = (run: () => unknown, via: string, suffix: string): string => {
      let message = '';
      assert.throws(run, (err: unknown) => {
        assert.ok(err instanceof SafetensorsError, `${via}: expected a SafetensorsError, got ${String(err)}`);
        message = err.message;
        for (const p of patterns) assert.match(err.message, p, via);
        assert.ok(err.message.endsWith(suffix), `${via}: message ends with ${JSON.stringify(suffix)}: ${err.message}`);
        return true;
      });
      return message;
    };
    const inMemory = check(() => io.load(c.bytes), 'load', '');
    const file = path.join(dir, `case-${i}.safetensors`);
    fs.writeFileSync(file, c.bytes);
    const onDisk = check(() => io.loadFile(file), 'loadFile', ` [${file}]`);
    assert.equal(onDisk, `${inMemory} [${file}]`, 'load and loadFile report the same error');
  });
}

test('the reference reader (test/io/reference-reader.ts, checked against the official one in fuzz 6) agrees on the number, string and size rows', () => {
  const rows = BAD_FILES.filter((c) => /fraction|written|-0|surrogate/.test(c.what));
  assert.ok(rows.length >= 11);
  for (const c of rows) assert.equal(referenceVerdict(c.bytes).ok, false, `the reference refuses: ${c.what}`);
  // The one documented case where qkv is stricter than the reference: an empty tensor with a dimension ≥ 2^53.
  const huge = BAD_FILES.find((c) => c.what.startsWith('an empty tensor with a dimension of 2^60'))!;
  assert.equal(referenceVerdict(huge.bytes).ok, true);
  // …and `"__metadata__": null`, which both accept.
  assert.equal(referenceVerdict(fileBytes('{"__metadata__":null}')).ok, true);
});

// ------------------------------------------------------------------------------------------------
// Save-side refusals

test('rejects on save: a tensor named __metadata__ (save and saveFile, old file untouched)', () => {
  assert.throws(() => io.save({ __metadata__: zeros([1]) }), (e: unknown) => e instanceof SafetensorsError && /a tensor may not be named "__metadata__"/.test(e.message));
  const file = path.join(dir, 'keep.safetensors');
  io.saveFile(file, { w: tensor([1, 2]) });
  assert.throws(() => io.saveFile(file, { __metadata__: zeros([1]) }), SafetensorsError);
  assert.deepEqual(io.loadFile(file).tensors.w.toArray(), [1, 2]);
});

const SAVE_REFUSALS: { what: string; run: () => unknown; expect: RegExp }[] = [
  { what: 'non-string metadata', run: () => io.save({}, { k: 1 as unknown as string }), expect: /save: metadata value for "k" must be a string, got number/ },
  { what: 'metadata that is not an object', run: () => io.save({}, null as unknown as Record<string, string>), expect: /save: metadata must be an object of strings, got null/ },
  { what: 'a value that is not a Tensor', run: () => io.save({ w: [1, 2] as unknown as Tensor }), expect: /save: "w" is not a Tensor/ },
  { what: 'aliased tensors without a declared tie', run: () => { const w = randn([4, 4]); return io.save({ a: w, b: w }); }, expect: /tensors "a" and "b" share memory; declare the tie/ },
  { what: 'overlapping views of one storage', run: () => { const w = randn([4, 4]); return io.save({ a: w.narrow(0, 0, 3), b: w.narrow(0, 2, 2) }); }, expect: /tensors "a" and "b" share memory/ },
  { what: 'a tie whose alias is a different view', run: () => { const w = randn([4, 4]); return io.save({ a: w, b: w.t() }, {}, { ties: { b: 'a' } }); }, expect: /tie "b" → "a": "b" \(float32 \[4,4\]\) is not the same tensor as "a"/ },
  { what: 'a tie whose alias is an equal copy', run: () => { const w = randn([2]); return io.save({ a: w, b: w.clone() }, {}, { ties: { b: 'a' } }); }, expect: /tie "b" → "a": "b" .* is not the same tensor as "a"/ },
  { what: 'a tie whose target is not saved', run: () => io.save({ a: zeros([1]) }, {}, { ties: { b: 'c' } }), expect: /tie "b" → "c": the target is not among the tensors being saved/ },
  { what: 'a tie chain', run: () => { const w = zeros([1]); return io.save({ a: w, b: w, c: w }, {}, { ties: { b: 'a', c: 'b' } }); }, expect: /tie "c" → "b": the target is itself an alias/ },
  { what: 'a tie to itself', run: () => io.save({ a: zeros([1]) }, {}, { ties: { a: 'a' } }), expect: /tie "a" names itself as its target/ },
  { what: 'ties option and metadata that disagree', run: () => { const w = zeros([1]); return io.save({ a: w, b: w, c: w }, { 'qkv.ties': '{"b":"a"}' }, { ties: { c: 'a' } }); }, expect: /metadata\["qkv.ties"\] = \{"b":"a"\} disagrees with the ties option \{"c":"a"\}/ },
  { what: 'malformed qkv.ties metadata', run: () => io.save({ a: zeros([1]) }, { 'qkv.ties': 'a->b' }), expect: /save: metadata\["qkv.ties"\] is not a JSON object/ },
  { what: 'a tensor name with a lone surrogate', run: () => io.save({ 'w\ud800': zeros([1]) }), expect: /save: tensor name "w\\ud800" holds a lone UTF-16 surrogate \(\\ud800 at index 1\), which is not Unicode text; safetensors readers \(qkv's and the reference\) refuse such a file/ },
  { what: 'a metadata key with a lone surrogate', run: () => io.save({}, { '\udc00': 'v' }), expect: /save: metadata key "\\udc00" holds a lone UTF-16 surrogate/ },
  { what: 'a metadata value with a lone surrogate', run: () => io.save({}, { k: 'ok\ud800' }), expect: /save: metadata value for "k" holds a lone UTF-16 surrogate \(\\ud800 at index 2\)/ },
  { what: 'a tie alias with a lone surrogate', run: () => { const w = zeros([1]); return io.save({ w }, {}, { ties: { 'lm\ud800': 'w' } }); }, expect: /save: ties: tie "lm\\ud800" → "w": "lm\\ud800" holds a lone UTF-16 surrogate/ },
  { what: 'an int64 value that is not an integer', run: () => { const t = tensor([1, 2], { dtype: 'int64' }); t.storage.data[1] = 2.5; return io.save({ idx: t }); }, expect: /save: tensor "idx": int64 element 1 is 2.5, not an integer within ±2\^53/ },
];

for (const c of SAVE_REFUSALS) {
  test(`rejects on save: ${c.what}`, () => {
    assert.throws(c.run, (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, `expected a SafetensorsError, got ${String(e)}`);
      assert.match(e.message, c.expect);
      return true;
    });
  });
}

test('a save that fails mid-write (int64 check) leaves the old file and no temporary file', () => {
  const sub = fs.mkdtempSync(path.join(dir, 'mid-'));
  const file = path.join(sub, 'm.safetensors');
  io.saveFile(file, { w: tensor([7]) });
  const bad = tensor([1, 2], { dtype: 'int64' });
  bad.storage.data[0] = NaN;
  assert.throws(() => io.saveFile(file, { big: randn([1000]), bad }), /int64 element 0 is NaN/);
  assert.deepEqual(fs.readdirSync(sub), ['m.safetensors']);
  assert.deepEqual(io.loadFile(file).tensors.w.toArray(), [7]);
});

test('the allocation guard refuses a tensor larger than one typed array before allocating', () => {
  const e: HeaderEntry = { name: 'huge', dtype: 'U8', shape: [2 ** 52], begin: 0, end: 2 ** 52, at: 9 };
  assert.throws(() => checkTensorSize(e), /tensor "huge" \(header byte 9\): 4503599627370496 elements \(U8 \[4503599627370496\]\) need 18014398509481984 bytes, more than the \d+-byte limit of one typed array/);
});

// ------------------------------------------------------------------------------------------------
// Inputs that must be accepted

test('accepts: misaligned offsets (copied), every file dtype, F64 kept or cast', () => {
  // BOOL [1] at 0 pushes everything after it off alignment: F64 at 1, F32 at 9, I64 at 13, …
  const parts: [string, string, number[], Uint8Array][] = [
    ['b', 'BOOL', [3], new Uint8Array([1, 0, 1])],
    ['d', 'F64', [2], new Uint8Array(new Float64Array([0.1, -1e300]).buffer)],
    ['f', 'F32', [2], f32(1.5, -0)],
    ['l', 'I64', [3], new Uint8Array(new BigInt64Array([-(2n ** 53n), 2n ** 53n, -1n]).buffer)],
    ['h', 'F16', [5], new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000]).buffer)],
    ['bf', 'BF16', [2], new Uint8Array(new Uint16Array([0x3f80, 0xc2f7]).buffer)],
    ['i', 'I32', [2], new Uint8Array(new Int32Array([-(2 ** 31), 2 ** 31 - 1]).buffer)],
    ['s', 'I16', [2], new Uint8Array(new Int16Array([-32768, 32767]).buffer)],
    ['c', 'I8', [2], new Uint8Array(new Int8Array([-128, 127]).buffer)],
    ['u', 'U8', [2], new Uint8Array([0, 255])],
  ];
  let off = 0;
  const entries = parts.map(([name, dtype, shape, bytes]) => ({ name, dtype, shape, data_offsets: [off, (off += bytes.length)] }));
  const bytes = writeRaw({ entries, data: cat(...parts.map((p) => p[3])) });
  const { tensors: t } = io.load(bytes);
  const want: Record<string, [string, unknown[]]> = {
    b: ['bool', [1, 0, 1]], d: ['float64', [0.1, -1e300]], f: ['float32', [1.5, -0]],
    l: ['int64', [-(2 ** 53), 2 ** 53, -1]], h: ['float32', [1, -2, 65504, 2 ** -24, -0]], bf: ['float32', [1, -123.5]],
    i: ['int32', [-(2 ** 31), 2 ** 31 - 1]], s: ['int32', [-32768, 32767]], c: ['int32', [-128, 127]], u: ['int32', [0, 255]],
  };
  for (const [name, [dtype, values]] of Object.entries(want)) {
    assert.equal(t[name].dtype, dtype, name);
    assert.deepEqual(t[name].toArray(), values, name);
  }
  const cast = io.load(bytes, { castFloats: 'float32' }).tensors;
  assert.equal(cast.d.dtype, 'float32');
  assert.deepEqual(cast.d.toArray(), [Math.fround(0.1), -Infinity]);
  assert.equal(cast.l.dtype, 'int64', 'castFloats leaves integers alone');
});

test('accepts: empty and 0-d tensors anywhere in the layout, and files with no tensors', () => {
  const bytes = writeRaw({
    entries: [
      { name: 'e0', dtype: 'F32', shape: [0], data_offsets: [0, 0] },
      { name: 'scalar', dtype: 'F64', shape: [], data_offsets: [0, 8] },
      { name: 'e1', dtype: 'I64', shape: [3, 0, 2], data_offsets: [8, 8] },
      { name: 'x', dtype: 'U8', shape: [1, 1], data_offsets: [8, 9] },
      { name: 'e2', dtype: 'BOOL', shape: [0, 2 ** 40], data_offsets: [9, 9] },
    ],
    data: cat(new Uint8Array(new Float64Array([-2.5]).buffer), [7]),
  });
  const t = io.load(bytes).tensors;
  assert.deepEqual(t.scalar.shape, []);
  assert.equal(t.scalar.item(), -2.5);
  assert.deepEqual([t.e0.shape, t.e1.shape, t.e2.shape], [[0], [3, 0, 2], [0, 2 ** 40]]);
  assert.deepEqual([t.e0.numel(), t.e1.numel(), t.e2.numel()], [0, 0, 0]);
  assert.deepEqual(t.x.toArray(), [[7]]);
  assert.deepEqual(io.load(fileBytes('{}')), { tensors: {}, metadata: {} });
  assert.deepEqual(io.load(fileBytes('{"__metadata__":{}}')).metadata, {});
});

test('accepts: "__metadata__": null (no metadata, as the reference reader reads it) and escaped surrogate pairs', () => {
  const r = io.load(fileBytes('{"__metadata__":null,"w\\ud83d\\ude00":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32(1, 2)));
  assert.deepEqual(r.metadata, {});
  assert.deepEqual(Object.keys(r.tensors), ['w😀']);
  assert.deepEqual(io.load(fileBytes('{"__metadata__":null}')), { tensors: {}, metadata: {} });
  // Integers may be as large as the file allows and written with JSON whitespace around them.
  assert.deepEqual(io.load(fileBytes('{"w":{"dtype":"F32","shape":[ 2 ],"data_offsets":[ 0 , 8 ]}}', f32(1, 2))).tensors.w.toArray(), [1, 2]);
});

test('accepts: NaN and ±Inf in every float dtype', () => {
  const bytes = writeRaw({
    entries: [
      { name: 'f', dtype: 'F32', shape: [3], data_offsets: [0, 12] },
      { name: 'd', dtype: 'F64', shape: [3], data_offsets: [12, 36] },
      { name: 'h', dtype: 'F16', shape: [3], data_offsets: [36, 42] },
      { name: 'bf', dtype: 'BF16', shape: [3], data_offsets: [42, 48] },
    ],
    data: cat(
      f32(NaN, Infinity, -Infinity),
      new Uint8Array(new Float64Array([NaN, Infinity, -Infinity]).buffer),
      new Uint8Array(new Uint16Array([0x7e00, 0x7c00, 0xfc00]).buffer),
      new Uint8Array(new Uint16Array([0x7fc0, 0x7f80, 0xff80]).buffer),
    ),
  });
  for (const [name, t] of Object.entries(io.load(bytes).tensors)) assert.deepEqual(t.toArray(), [NaN, Infinity, -Infinity], name);
});

test('accepts: whitespace-padded headers (spaces, tabs, newlines, before and after)', () => {
  for (const [lead, trail] of [['', '       '], [' \t\n\r', ''], ['\n', '\n\t  \r\n']]) {
    const bytes = writeRaw({ entries: [W()], data: f32(3, 4), lead, trail, metadata: { k: 'v' } });
    const r = io.load(bytes);
    assert.deepEqual(r.tensors.w.toArray(), [3, 4], JSON.stringify(lead + trail));
    assert.deepEqual(r.metadata, { k: 'v' });
  }
});

test('accepts: any tensor or metadata name, __proto__ and unicode included', () => {
  const names = ['__proto__', 'constructor', '', 'ü.ß.😀', '\ud83d\ude00', 'a"b\\c', '0', 'toString', '\u0000\u001f'];
  const entries = names.map((name, i) => ({ name, dtype: 'F32', shape: [1], data_offsets: [4 * i, 4 * i + 4] }));
  const r = io.load(writeRaw({ entries, data: f32(...names.map((_, i) => i)), metadata: { __proto__x: 'y', ['__proto__']: 'p' } }));
  assert.deepEqual(Object.keys(r.tensors).sort(), [...names].sort());
  names.forEach((name, i) => assert.equal(r.tensors[name].item(), i, JSON.stringify(name)));
  assert.equal(Object.getPrototypeOf(r.tensors), Object.prototype, 'the result is a plain object');
  assert.equal(Object.getPrototypeOf(r.metadata), Object.prototype);
  // The same names survive save → load.
  const back = io.load(io.save(r.tensors, r.metadata));
  assert.deepEqual(Object.keys(back.tensors).sort(), [...names].sort());
  assert.deepEqual(Object.entries(back.metadata).sort(), Object.entries(r.metadata).sort());
});

test('accepts: a declared tie, loaded as a view sharing the target storage; round-trips', () => {
  const bytes = writeRaw({ metadata: { 'qkv.ties': '{"lm_head.weight":"wte.weight"}', other: 'x' }, entries: [W({ name: 'wte.weight' })], data: f32(5, 6) });
  const r = io.load(bytes);
  assert.deepEqual(Object.keys(r.tensors), ['wte.weight', 'lm_head.weight']);
  assert.equal(r.tensors['lm_head.weight'].storage, r.tensors['wte.weight'].storage);
  assert.deepEqual(r.tensors['lm_head.weight'].toArray(), [5, 6]);
  r.tensors['wte.weight'].storage.data[0] = 9;
  assert.equal((r.tensors['lm_head.weight'].toArray() as number[])[0], 9, 'writes through the target show in the alias');
  // save(load(x)) keeps the tie (the metadata carries it) and writes the data once.
  const again = io.save(r.tensors, r.metadata);
  const header = JSON.parse(Buffer.from(again.subarray(8, 8 + Number(new DataView(again.buffer).getBigUint64(0, true)))).toString());
  assert.deepEqual(Object.keys(header).sort(), ['__metadata__', 'wte.weight']);
  assert.equal(header.__metadata__['qkv.ties'], '{"lm_head.weight":"wte.weight"}');
});

test('a real torch.save file (zip and legacy) is named as such, not "header length … exceeds the limit"', { skip: !hasTorch() && 'python3-torch is not installed' }, () => {
  const sub = fs.mkdtempSync(path.join(dir, 'torch-'));
  const script = "import sys, torch\nsd = {'w': torch.zeros(2, 3)}\ntorch.save(sd, sys.argv[1])\ntorch.save(sd, sys.argv[2], _use_new_zipfile_serialization=False)";
  const zip = path.join(sub, 'ckpt.pt'), legacy = path.join(sub, 'legacy.pt');
  const r = spawnSync(PYTHON, ['-c', script, zip, legacy], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.throws(() => io.loadFile(zip), /^SafetensorsError: safetensors: this is a PyTorch torch\.save file \(a zip archive holding ckpt\/data\.pkl\), not safetensors: use io\.loadTorch \[/);
  assert.throws(() => io.load(fs.readFileSync(legacy)), /this is a PyTorch torch\.save file in the legacy \(pre-1\.6\) format, not safetensors: use io\.loadTorch$/);
});
