/**
 * In-place ops on overlapping memory (issue 13): an input that overlaps the destination is read
 * through a temporary (the result equals the out-of-place op), a destination whose elements
 * share memory is PyTorch's error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tensor, zeros, arange, ArgumentError, Tensor } from '../../src/index.js';

const long = (v: number[]) => tensor(v, { dtype: 'int64' });

test('the reproductions: x.add_(x.t()) is right, expand().add_ is an error', () => {
  const x = tensor([[0, 1], [2, 3]]);
  x.add_(x.t());
  assert.deepEqual(x.toArray(), [[0, 3], [3, 6]]);
  assert.throws(() => zeros([1]).expand([3]).add_(1),
    (e: Error) => e instanceof ArgumentError && /more than one element of the written-to tensor .* refers to a single memory location/.test(e.message));
  // As PyTorch: filling an expanded tensor with one value is fine; copying a tensor into it is not.
  assert.deepEqual(zeros([1]).expand([3]).fill_(2).toArray(), [2, 2, 2]);
  assert.throws(() => zeros([1]).expand([3]).copy_(tensor([1, 2, 3])), /single memory location/);
  assert.throws(() => zeros([1]).expand([3]).uniform_(), /single memory location/);
  assert.throws(() => zeros([1]).expand([3]).exp_(), /single memory location/);
  assert.throws(() => zeros([1]).expand([3]).clamp_(0, 1), /single memory location/);
  assert.throws(() => zeros([1]).expand([3]).maskedFill_(tensor([true, false, true]), 1), /single memory location/);
  assert.throws(() => zeros([1]).expand([3]).indexPut_([long([0])], 1), /single memory location/);
  // Shifted views of one buffer, a row broadcast over its own matrix, a permutation onto itself.
  const y = arange(5).float();
  y.narrow(0, 1, 4).mul_(y.narrow(0, 0, 4));
  assert.deepEqual(y.toArray(), [0, 0, 2, 6, 12]);
  const m = tensor([[1, 2], [3, 4]]);
  m.add_(m.index(0));
  assert.deepEqual(m.toArray(), [[2, 4], [4, 6]]);
  const p = tensor([10, 20, 30]);
  p.indexPut_([long([2, 0, 1])], p);
  assert.deepEqual(p.toArray(), [20, 30, 10]);
  const q = tensor([10, 20, 30]);
  q.scatter_(0, long([2, 0, 1]), q);
  assert.deepEqual(q.toArray(), [20, 30, 10]);
  // x.add_(x) is the same view: no copy needed, still right.
  const z = tensor([1, 2]);
  z.add_(z);
  assert.deepEqual(z.toArray(), [2, 4]);
});

/** A random strided window on a 40-element buffer: shape, strides (0 allowed), offset. */
const viewArb = (allowZeroStride: boolean) => fc.integer({ min: 1, max: 3 }).chain((r) => fc.record({
  shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: r, maxLength: r }),
  strides: fc.array(fc.integer({ min: allowZeroStride ? 0 : 1, max: 6 }), { minLength: r, maxLength: r }),
  offset: fc.integer({ min: 0, max: 12 }),
})).filter((v) => v.offset + v.shape.reduce((a, s, i) => a + (s - 1) * v.strides[i], 0) < 40);

type V = { shape: number[]; strides: number[]; offset: number };
function addresses(v: V): number[] {
  const out: number[] = [];
  const walk = (d: number, at: number): void => {
    if (d === v.shape.length) return void out.push(at);
    for (let i = 0; i < v.shape[d]; i++) walk(d + 1, at + i * v.strides[d]);
  };
  walk(0, v.offset);
  return out;
}

const OPS: Record<string, { run: (d: Tensor, s: Tensor) => void; f: (a: number, b: number) => number }> = {
  add_: { run: (d, s) => d.add_(s), f: (a, b) => a + b },
  sub_: { run: (d, s) => d.sub_(s), f: (a, b) => a - b },
  mul_: { run: (d, s) => d.mul_(s), f: (a, b) => a * b },
  maximum: { run: (d, s) => d.copy_(d.maximum(s)), f: (a, b) => Math.max(a, b) },
  copy_: { run: (d, s) => d.copy_(s), f: (_a, b) => b },
};

test('property: in-place on random overlapping views equals the out-of-place result, or is the internal-overlap error', () => {
  fc.assert(fc.property(viewArb(true), viewArb(true), fc.constantFrom(...Object.keys(OPS)), (dv, sv, opName) => {
    // The source broadcasts to the destination: give it the destination's shape, stride 0 kept.
    const src: V = { shape: dv.shape, strides: dv.shape.map((_, i) => sv.strides[i] ?? 0), offset: sv.offset };
    if (src.offset + src.shape.reduce((a, s, i) => a + (s - 1) * src.strides[i], 0) >= 40) return;
    const base = Float32Array.from({ length: 40 }, (_, i) => (i * 7) % 11 - 5);
    const buf = Tensor.fromTypedArray(base.slice(), [40], 'float32');
    const d = buf.asStrided(dv.shape, dv.strides, dv.offset);
    const s = buf.asStrided(src.shape, src.strides, src.offset);
    const op = OPS[opName];
    const da = addresses(dv), sa = addresses(src);
    if (new Set(da).size < da.length) {
      assert.throws(() => op.run(d, s), /single memory location/);
      assert.deepEqual(Array.from(buf.storage.data), Array.from(base), 'nothing written before the error');
      return;
    }
    const expected = base.slice();
    da.forEach((a, i) => (expected[a] = op.f(base[a], base[sa[i]])));
    op.run(d, s);
    assert.deepEqual(Array.from(buf.storage.data), Array.from(expected));
  }), { numRuns: 2000, seed: 42 });
});
