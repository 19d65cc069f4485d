/** Sizes are checked where they are computed: typed errors naming the op, the shape and the bytes (issue 13). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randn, zeros, arange, ones, tensor, matmul, AllocationError, ShapeError, Tensor } from '../../src/index.js';

test('tensors too large for a typed array are an AllocationError naming the op, shape and bytes', () => {
  assert.throws(() => randn([1e6, 1e6]), (e: Error) => e instanceof AllocationError && /^randn: a tensor of shape \[1000000,1000000\] \(1,000,000,000,000 elements of float32, 4,000,000,000,000 bytes\) is larger than the largest array/.test(e.message));
  assert.throws(() => zeros([1e10]), (e: Error) => e instanceof AllocationError && /^zeros: .*40,000,000,000 bytes/.test(e.message));
  assert.throws(() => arange(1e12), (e: Error) => e instanceof AllocationError && /^arange: a tensor of shape \[1000000000000\]/.test(e.message));
  const a = Tensor.empty([1e5, 1], 'float32'), b = Tensor.empty([1, 1e5], 'float32');
  assert.throws(() => matmul(a, b), (e: Error) => e instanceof AllocationError && /^matmul: a tensor of shape \[100000,100000\] .* 40,000,000,000 bytes/.test(e.message));
  assert.throws(() => ones([2, -1]), (e: Error) => e instanceof ShapeError && /ones: invalid shape \[2,-1\]/.test(e.message));
  assert.throws(() => Tensor.empty([5, -1]), (e: Error) => e instanceof ShapeError && /invalid shape \[5,-1\]/.test(e.message));
});

test('a tensor with 10,000 dims prints and converts without overflowing the stack', () => {
  const t = ones(new Array(10000).fill(1));
  assert.match(t.toString(), /^tensor\(<10000-dim tensor of 1 elements>, size=\(1, 1, 1, 1, 1, 1, …, 1, 1, 1, 1, 1, 1\), dtype=float32\)$/);
  let a = t.toArray();
  let depth = 0;
  while (Array.isArray(a)) { a = a[0]; depth++; }
  assert.equal(depth, 10000);
  assert.equal(a, 1);
  assert.deepEqual(tensor([[1, 2], [3, 4]]).toArray(), [[1, 2], [3, 4]]);
  assert.deepEqual(zeros(2, 0, 3).toArray(), [[], []]);
});
