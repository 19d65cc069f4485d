/** Views share storage where PyTorch's do, copy where they must, and fail like PyTorch's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, cat, stack, tensor, zeros, ShapeError } from '../../src/index.js';

const grid = () => arange(12, undefined, 1, { dtype: 'float32' }).reshape([3, 4]);

test('view, permute, transpose, narrow, select, expand, split, chunk share storage', () => {
  const x = grid();
  const views = [
    x.view([4, 3]), x.permute([1, 0]), x.transpose(0, 1), x.t(), x.narrow(1, 1, 2), x.select(0, 2),
    x.unsqueeze(0), x.slice(1, 0, undefined, 2), x.index(1, [1, 3]), x.split(2, 1)[1], x.chunk(3, 0)[0],
    x.select(0, 0).unsqueeze(0).expand([5, 4]), x.contiguous(),
  ];
  for (const v of views) assert.equal(v.storage, x.storage);
  x.narrow(1, 1, 2).fill_(-1);
  assert.deepEqual(x.toArray(), [[0, -1, -1, 3], [4, -1, -1, 7], [8, -1, -1, 11]]);
  assert.deepEqual(x.t().select(0, 3).toArray(), [3, 7, 11]);
});

test('view fails on a non-contiguous layout, naming the shapes; reshape copies only then', () => {
  const x = grid();
  const xt = x.t(); // [4,3] with strides [1,4]
  assert.throws(() => xt.view([12]), (e: Error) => {
    assert.ok(e instanceof ShapeError);
    assert.match(e.message, /^view: cannot view a tensor of shape \[4,3\] and strides \[1,4\] as \[12\].*reshape/);
    return true;
  });
  const copied = xt.reshape([12]);
  assert.notEqual(copied.storage, x.storage);
  assert.deepEqual(copied.toArray(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  // A layout that merges without a copy: split a dim of a transposed tensor.
  const y = zeros([2, 3, 4]).permute([1, 0, 2]); // [3,2,4], strides [4,12,1]
  assert.equal(y.reshape([3, 2, 2, 2]).storage, y.storage);
  assert.throws(() => y.view([3, 8]), ShapeError);
  assert.notEqual(y.reshape([3, 8]).storage, y.storage);
});

test('view infers -1 and rejects impossible shapes', () => {
  const x = grid();
  assert.deepEqual(x.view([-1, 6]).shape, [2, 6]);
  assert.deepEqual(x.view([2, -1, 3]).shape, [2, 2, 3]);
  assert.throws(() => x.view([5, -1]), /view: shape \[5,-1\] is invalid for input of shape \[3,4\] \(12 elements\)/);
  assert.throws(() => x.view([-1, -1]), /only one dimension can be inferred/);
  assert.throws(() => x.reshape([7]), /reshape: shape \[7\] is invalid for input of shape \[3,4\]/);
});

test('contiguous of a contiguous tensor is the same tensor; of a view a copy', () => {
  const x = grid();
  assert.equal(x.contiguous(), x);
  const c = x.t().contiguous();
  assert.ok(c.isContiguous());
  assert.notEqual(c.storage, x.storage);
  assert.deepEqual(c.shape, [4, 3]);
});

test('split, chunk, cat, stack follow torch', () => {
  const x = arange(10, undefined, 1, { dtype: 'float32' });
  assert.deepEqual(x.split(4).map((p) => p.shape[0]), [4, 4, 2]);
  assert.deepEqual(x.split([3, 7]).map((p) => p.shape[0]), [3, 7]);
  assert.deepEqual(x.chunk(3).map((p) => p.shape[0]), [4, 4, 2]);
  assert.deepEqual(arange(6).chunk(4).map((p) => p.shape[0]), [2, 2, 2]); // like torch: 3 chunks, not 4
  assert.deepEqual(cat(x.split(3).reverse()).toArray(), [9, 6, 7, 8, 3, 4, 5, 0, 1, 2]);
  const s = stack([tensor([1, 2]), tensor([3, 4])], 1);
  assert.deepEqual(s.toArray(), [[1, 3], [2, 4]]);
  assert.throws(() => x.split([3, 3]), /split: sizes \[3,3\] must be non-negative and sum to 10/);
  assert.throws(() => cat([zeros([2, 3]), zeros([2, 4])], 0), /cat: tensor 1 has shape \[2,4\]; expected \[2,3\] except in dim 0/);
  assert.throws(() => stack([zeros([2]), zeros([3])]), /stack: all tensors must have the same shape/);
});

test('expand broadcasts size-1 dims with stride 0 and rejects the rest', () => {
  const col = tensor([[1], [2]]);
  const e = col.expand([2, 3]);
  assert.deepEqual(e.strides, [1, 0]);
  assert.deepEqual(e.toArray(), [[1, 1, 1], [2, 2, 2]]);
  assert.deepEqual(col.expand([4, -1, 3]).shape, [4, 2, 3]);
  assert.throws(() => col.expand([3, 3]), /expand: the size of dim 0 \(3\) must match the existing size \(2\)/);
});

test('index and slice behave like Python indexing', () => {
  const x = grid();
  assert.deepEqual(x.index(null, [1, 3]).toArray(), [[1, 2], [5, 6], [9, 10]]);
  assert.deepEqual(x.index(-1).toArray(), [8, 9, 10, 11]);
  assert.deepEqual(x.slice(1, -2).toArray(), [[2, 3], [6, 7], [10, 11]]);
  assert.deepEqual(x.slice(0, 1, 100).shape, [2, 4]);
  assert.throws(() => x.select(0, 3), /select: index 3 is out of range for dim 0 of size 3 \(shape \[3,4\]\)/);
  assert.throws(() => x.narrow(1, 2, 3), /narrow: start 2 and length 3 are out of range for dim 1 of size 4/);
});

test('squeeze, unsqueeze, flatten, unflatten, movedim', () => {
  const x = zeros([1, 3, 1, 2]);
  assert.deepEqual(x.squeeze().shape, [3, 2]);
  assert.deepEqual(x.squeeze(2).shape, [1, 3, 2]);
  assert.deepEqual(x.squeeze(1).shape, [1, 3, 1, 2]);
  assert.deepEqual(x.unsqueeze(-1).shape, [1, 3, 1, 2, 1]);
  assert.deepEqual(x.flatten().shape, [6]);
  assert.deepEqual(x.flatten(1, 2).shape, [1, 3, 2]);
  assert.deepEqual(zeros([2, 12]).unflatten(1, [3, -1]).shape, [2, 3, 4]);
  assert.deepEqual(zeros([2, 3, 4]).movedim(0, -1).shape, [3, 4, 2]);
});

test('bad dims name the op, the dim and the rank', () => {
  const x = grid();
  assert.throws(() => x.sum(2), /sum: dim 2 is out of range for a tensor of rank 2 \(expected a dim in \[-2, 1\]\)/);
  assert.throws(() => x.softmax(-3), /softmax: dim -3 is out of range/);
  assert.throws(() => x.permute([0]), /permute: got 1 dims \[0\] for a tensor of rank 2/);
  assert.throws(() => x.transpose(0, 5), /transpose: dim 5 is out of range/);
});
