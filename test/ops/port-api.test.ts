/**
 * The PyTorch call forms and the error side of the port ops: each former silent failure is now
 * PyTorch's behaviour or a clear error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  tensor, zeros, ones, empty, randn, rand, arange, eye, manualSeed, multinomial, einsum, rearrange, reduce, repeat,
  Generator, ArgumentError, ShapeError, DTypeError, AutogradError, F, noGrad,
} from '../../src/index.js';
import type { NestedArray } from '../../src/index.js';

const long = (v: NestedArray) => tensor(v, { dtype: 'int64' });

test('shapes and dims as PyTorch writes them: view(3, 2), reshape(3, -1), permute(0, 2, 1), expand(2, -1), randn(2, 3)', () => {
  const x = arange(6).float();
  assert.deepEqual(x.view(3, 2).shape, [3, 2]);
  assert.deepEqual(x.view([3, 2]).shape, [3, 2]);
  assert.deepEqual(x.reshape(3, -1).shape, [3, 2]);
  const y = randn(2, 3, 4);
  assert.deepEqual(y.shape, [2, 3, 4]);
  assert.deepEqual(y.permute(0, 2, 1).shape, [2, 4, 3]);
  assert.deepEqual(y.permute([2, 0, 1]).shape, [4, 2, 3]);
  assert.deepEqual(ones(1, 3).expand(2, -1).shape, [2, 3]);
  assert.deepEqual(y.sum(-1, true).shape, [2, 3, 1]);
  assert.deepEqual(zeros(2, 3, { dtype: 'int64' }).dtype, 'int64');
  assert.deepEqual(rand([2, 2], { dtype: 'float64' }).dtype, 'float64');
  assert.deepEqual(empty(4).shape, [4]);
  assert.deepEqual(arange(5, { dtype: 'float32' }).dtype, 'float32');
  assert.deepEqual(eye(3, { dtype: 'int64' }).dtype, 'int64');
  assert.throws(() => x.view(3, [2] as unknown as number), /view: expected sizes as numbers/);
  assert.throws(() => zeros('3' as unknown as number), /zeros: expected sizes as numbers/);
});

test('creation options are strict: requires_grad, dtypes misspelled', () => {
  assert.throws(() => randn([2], { requires_grad: true } as never), (e: Error) => e instanceof ArgumentError && /did you mean requiresGrad\?/.test(e.message));
  assert.throws(() => tensor([1], { dtyp: 'int64' } as never), /did you mean dtype\?/);
  assert.throws(() => zeros(2, { device: 'cpu' } as never), /unknown option "device"/);
});

test('x.index(intTensor) and x.index(boolMask) pick elements (they returned x unchanged before)', () => {
  const x = tensor([[0, 1], [2, 3], [4, 5]]);
  assert.deepEqual(x.index(long([2, 0])).toArray(), [[4, 5], [0, 1]]);
  assert.deepEqual(x.index(x.gt(2)).toArray(), [3, 4, 5]);
  assert.deepEqual(x.index(':', long([1])).toArray(), [[1], [3], [5]]);
  assert.deepEqual(x.index('None').shape, [1, 3, 2]);
  assert.deepEqual(x.index('...', 0).toArray(), [0, 2, 4]);
  assert.deepEqual(x.index('::2').toArray(), [[0, 1], [4, 5]]);
  assert.deepEqual(x.index(long([-1])).toArray(), [[4, 5]]);
  // A view for basic indexing, a copy for advanced: as in PyTorch.
  assert.equal(x.index(0).storage, x.storage);
  assert.notEqual(x.index(long([0])).storage, x.storage);
});

test('every unsupported index kind is an error, never ignored', () => {
  const x = zeros(3, 4);
  assert.throws(() => x.index(tensor([0.5])), (e: Error) => e instanceof DTypeError && /integer .* or bool/.test(e.message));
  assert.throws(() => x.index({ start: 1 } as never), /unsupported index/);
  assert.throws(() => x.index('1' as never), /unsupported index string/);
  assert.throws(() => x.index(0, 0, 0), /too many indices/);
  assert.throws(() => x.index('...', '...'), /single ellipsis/);
  assert.throws(() => x.index(long([3])), /index 3 .* out of range for dim 0 of size 3/);
  assert.throws(() => x.index(ones(2, 2, { dtype: 'bool' })), (e: Error) => e instanceof ShapeError && /shape of the mask/.test(e.message));
  assert.throws(() => x.index([0, 2, -1]), /step must be positive/);
  assert.throws(() => x.index(1.5), /not an integer/);
});

test('indexPut_ and masked assignment write in place; indexPut keeps the graph', () => {
  const x = zeros(3, 2);
  x.indexPut_([long([2, 0])], tensor([[1, 2], [3, 4]]));
  assert.deepEqual(x.toArray(), [[3, 4], [0, 0], [1, 2]]);
  x.indexPut_([x.gt(2)], -1);
  assert.deepEqual(x.toArray(), [[-1, -1], [0, 0], [1, 2]]);
  x.indexPut_([long([1, 1])], tensor([5, 5]), true); // x[[1, 1]] += 5 accumulates both
  assert.deepEqual(x.toArray(), [[-1, -1], [10, 10], [1, 2]]);
  x.indexPut_([0, ':'], 7); // basic: x[0, :] = 7
  assert.deepEqual((x.toArray() as number[][])[0], [7, 7]);
  const w = ones(2, 2, { requiresGrad: true });
  assert.throws(() => w.indexPut_([0], 1), AutogradError);
  const y = w.indexPut([long([0])], 0);
  y.sum().backward();
  assert.deepEqual(w.grad!.toArray(), [[0, 0], [1, 1]]);
  // Values that alias the destination are read before any write.
  const z = arange(4).float();
  z.indexPut_([long([1, 2, 3])], z.index('0:3'));
  assert.deepEqual(z.toArray(), [0, 0, 1, 2]);
});

test('scatter_ / scatterAdd_ in place; gather checks its index', () => {
  const x = zeros(2, 3);
  x.scatter_(1, long([[2], [0]]), 5);
  assert.deepEqual(x.toArray(), [[0, 0, 5], [5, 0, 0]]);
  x.scatterAdd_(0, long([[1, 1, 1]]), ones(1, 3));
  assert.deepEqual(x.toArray(), [[0, 0, 5], [6, 1, 1]]);
  assert.throws(() => x.gather(1, long([[3]]).expand(2, 1)), /index 3 .* out of range for dim 1 of size 3/);
  assert.throws(() => x.gather(1, long([-1]).view(1, 1)), /negative indices are not allowed/);
  assert.throws(() => x.gather(1, long([0, 1])), /as many dims as the input/);
});

test('sort and topk: NaN counts as the largest, ties keep their order, bad k is an error', () => {
  const x = tensor([1, NaN, 3, 1]);
  const [v, i] = x.sort();
  assert.deepEqual(Array.from(v.toFlat()).map((a) => (Number.isNaN(a) ? 'nan' : a)), [1, 1, 3, 'nan']);
  assert.deepEqual(i.toArray(), [0, 3, 2, 1]);
  assert.deepEqual(x.topk(1)[1].toArray(), [1]);
  assert.deepEqual(x.sort(-1, true)[1].toArray(), [1, 2, 0, 3]);
  assert.throws(() => x.topk(5), /k \(5\) is out of range/);
  const big = randn(2, 1000);
  const [tv] = big.topk(40);
  const [sv] = big.sort(-1, true);
  assert.ok(tv.allclose(sv.index(':', '0:40')), 'partial selection agrees with a full sort');
});

test('multinomial: seeded, with and without replacement, frequencies match the weights', () => {
  const p = tensor([[0.1, 0.2, 0.7], [1, 0, 0]]);
  const a = multinomial(p, 4, true, new Generator(5)), b = p.multinomial(4, true, new Generator(5));
  assert.deepEqual(a.toArray(), b.toArray());
  assert.deepEqual(a.shape, [2, 4]);
  assert.deepEqual((a.toArray() as number[][])[1], [0, 0, 0, 0]);
  const draws = multinomial(tensor([0.1, 0.2, 0.7]), 20000, true, new Generator(1)).toFlat();
  const freq = [0, 0, 0];
  for (const d of draws) freq[d]++;
  freq.forEach((f, j) => assert.ok(Math.abs(f / 20000 - [0.1, 0.2, 0.7][j]) < 0.015, `category ${j}: ${f / 20000}`));
  const w = multinomial(tensor([5, 1, 1, 1]), 4, false, new Generator(2)).toFlat();
  assert.deepEqual([...w].sort(), [0, 1, 2, 3], 'without replacement every category once');
  // Without replacement, the heavy category comes first most of the time.
  let first = 0;
  const g = new Generator(3);
  for (let t = 0; t < 2000; t++) if (multinomial(tensor([5, 1, 1, 1]), 2, false, g).toFlat()[0] === 0) first++;
  assert.ok(Math.abs(first / 2000 - 5 / 8) < 0.03, `P(first = 0) ${first / 2000}`);
  assert.throws(() => multinomial(tensor([1, 0, 0]), 2), /1 non-zero weights, fewer than the 2 samples/);
  assert.throws(() => multinomial(tensor([1, -1])), /finite and non-negative/);
});

test('einsum and einops: errors name the equation or pattern', () => {
  manualSeed(0);
  const a = randn(2, 3), b = randn(4, 5);
  assert.throws(() => einsum('ij,jk->ik', a, b), /label j has size 3 in one operand and 4/);
  assert.throws(() => einsum('ij->ik', a), /output label k does not appear/);
  assert.throws(() => einsum('ij,jk', a), /names 2 operands but 1/);
  assert.throws(() => einsum('i$', a), /invalid character/);
  const x = randn(2, 5, 12);
  assert.deepEqual(rearrange(x, 'b n (h d) -> b h n d', { h: 3 }).shape, [2, 3, 5, 4]);
  assert.throws(() => rearrange(x, 'b n (h d) -> b h n d'), /cannot infer the sizes of h and d/);
  assert.throws(() => rearrange(x, 'b n d -> b n'), /same axes on both sides/);
  assert.throws(() => rearrange(x, 'b n (h d) -> b h n d', { h: 5 }), /cannot be split/);
  assert.throws(() => reduce(x, 'b n d -> b n', 'median' as never), /unknown reduction/);
  assert.throws(() => repeat(x, 'b n d -> b n d c'), /size of new axis c .* is unknown/);
  assert.deepEqual(reduce(x, 'b n d -> b d', 'prod').shape, [2, 12]);
  assert.ok(reduce(x, 'b n d -> b d', 'prod').allclose(x.cumprod(1).index(':', -1)));
  assert.deepEqual(repeat(randn(3), 'd -> b d', { b: 2 }).shape, [2, 3]);
});

test('F.scaledDotProductAttention: PyTorch 2 positional form, options form, and both together refused', () => {
  manualSeed(1);
  const q = randn(2, 3, 4), k = randn(2, 5, 4), v = randn(2, 5, 6);
  const a = F.scaledDotProductAttention(q, k, v, null, 0, false, 0.5);
  const b = F.scaledDotProductAttention(q, k, v, { scale: 0.5 });
  assert.ok(a.allclose(b));
  assert.throws(() => F.scaledDotProductAttention(q, k, v, { is_causal: true } as never), /did you mean isCausal\?/);
  assert.throws(() => F.scaledDotProductAttention(q, k, v, ones(3, 5, { dtype: 'bool' }), 0, true), /either attnMask or isCausal/);
  assert.deepEqual(F.oneHot(long([0, 2])).toArray(), [[1, 0, 0], [0, 0, 1]]);
  noGrad(() => assert.deepEqual(a.shape, [2, 3, 6]));
});
