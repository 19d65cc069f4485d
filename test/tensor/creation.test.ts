/** tensor() and friends: shapes, dtypes, promotion, conversion, printing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, eye, full, linspace, ones, tensor, zeros, randint, ShapeError, DTypeError } from '../../src/index.js';

test('tensor() takes nested arrays, flat arrays with a shape, and typed arrays', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray(), [[1, 2], [3, 4]]);
  const f = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
  assert.deepEqual(f.shape, [3, 2]);
  assert.equal(tensor(new Float64Array(2)).dtype, 'float64');
  assert.equal(tensor(new Int32Array(2)).dtype, 'int32');
  assert.equal(tensor([true, false]).dtype, 'bool');
  assert.equal(tensor([1.7, -1.7], { dtype: 'int64' }).toArray().toString(), '1,-1');
  assert.equal(tensor(3.5).item(), 3.5);
  assert.deepEqual(tensor(3.5).shape, []);
  assert.ok(tensor([1, 2], { requiresGrad: true }).requiresGrad);
});

test('tensor() rejects ragged arrays, wrong shapes and unknown dtypes', () => {
  assert.throws(() => tensor([[1, 2], [3]]), /tensor: ragged nested array: expected length 2 at data\[1\], got 1/);
  assert.throws(() => tensor([1, 2, 3], { shape: [2, 2] }), ShapeError);
  assert.throws(() => tensor([1], { dtype: 'float16' as never }), DTypeError);
  assert.throws(() => tensor([1, 2], { dtype: 'int64', requiresGrad: true }), /only floating point tensors can require gradients/);
});

test('creation functions', () => {
  assert.deepEqual(zeros([2, 2]).toArray(), [[0, 0], [0, 0]]);
  assert.deepEqual(ones([3]).toArray(), [1, 1, 1]);
  assert.deepEqual(full([2], 7).toArray(), [7, 7]);
  assert.deepEqual(arange(2, 8, 2).toArray(), [2, 4, 6]);
  assert.equal(arange(5).dtype, 'int64');
  assert.equal(arange(0, 1, 0.25).dtype, 'float32');
  assert.deepEqual(arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
  assert.deepEqual(linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(eye(2, 3).toArray(), [[1, 0, 0], [0, 1, 0]]);
  assert.throws(() => zeros([2, -1]), /zeros: invalid shape \[2,-1\]/);
  assert.throws(() => randint(5, 5, [2]), /randint: need integers low < high/);
});

test('type promotion follows PyTorch', () => {
  const i = tensor([1, 2, 3], { dtype: 'int64' });
  const f = tensor([1, 2, 3]);
  const d = tensor([1, 2, 3], { dtype: 'float64' });
  assert.equal(i.add(1).dtype, 'int64');
  assert.equal(i.add(1.5).dtype, 'float32');
  assert.equal(i.div(2).dtype, 'float32'); // true division
  assert.deepEqual(i.div(2).toArray(), [0.5, 1, 1.5]);
  assert.equal(f.add(d).dtype, 'float64');
  assert.equal(f.add(tensor(1, { dtype: 'float64' })).dtype, 'float32'); // a 0-D tensor does not widen within float
  assert.equal(i.add(tensor(1.5)).dtype, 'float32'); // but lifts int to float
  assert.equal(f.gt(2).dtype, 'bool');
  assert.equal(i.exp().dtype, 'float32');
  assert.equal(i.sum().dtype, 'int64');
  assert.equal(tensor([true, true]).sum().item(), 2);
  assert.throws(() => i.add_(1.5), /add_: result type float32 can't be cast to the output dtype int64/);
});

test('conversion: item, toArray, to, toString', () => {
  const x = tensor([[1.5, -2], [3, 4]]);
  assert.throws(() => x.item(), /item: a tensor with 4 elements \(shape \[2,2\]\) cannot be converted to a number/);
  assert.deepEqual(x.to('int64').toArray(), [[1, -2], [3, 4]]);
  assert.deepEqual(x.gt(0).toArray(), [[1, 0], [1, 1]]);
  assert.equal(x.toString(), 'tensor([[ 1.5000, -2.0000],\n        [ 3.0000,  4.0000]])');
  assert.equal(tensor([1, 2]).toString(), 'tensor([1., 2.])');
  assert.equal(tensor([1, 2], { dtype: 'int64' }).toString(), 'tensor([1, 2])');
  assert.equal(tensor([true, false]).toString(), 'tensor([ True, False])');
  assert.match(tensor([1], { requiresGrad: true }).mul(2).toString(), /grad_fn=<MulBackward>/);
  assert.match(zeros([2000]).toString(), /\.\.\./);
});

test('broadcasting errors name the op and both shapes', () => {
  assert.throws(() => zeros([2, 3]).add(zeros([4])), /add: shapes \[2,3\] and \[4\] cannot be broadcast \(dim -1: 3 vs 4\)/);
  assert.throws(() => zeros([2, 3]).matmul(zeros([4, 5])), /^ShapeError: matmul: inner dimensions differ: a is \[2,3\], b is \[4,5\]$/);
  assert.throws(() => zeros([2, 3]).maskedFill(zeros([2, 3]), 0), /maskedFill: mask must be a bool tensor, got float32/);
});
