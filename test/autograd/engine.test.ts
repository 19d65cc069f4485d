/** The autograd engine: accumulation, freed graphs, non-scalar outputs, grad mode, in-place safety. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutogradError, F, noGrad, enableGrad, isGradEnabled, randn, tensor, ones, manualSeed } from '../../src/index.js';

test('a leaf used twice receives the sum of both gradients (what makes weight tying correct)', () => {
  const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
  const x = tensor([[1, 0], [0, 1]]);
  // Two uses of w, as an embedding table (rows) and as an output projection (x @ wᵀ).
  const y = w.select(0, 1).sum().add(x.matmul(w.t()).sum());
  y.backward();
  // d/dw of w[1].sum() is [[0,0],[1,1]]; of (x wᵀ).sum() with x = I is ones.
  assert.deepEqual(w.grad!.toArray(), [[1, 1], [2, 2]]);
  const a = tensor([3], { requiresGrad: true });
  a.mul(a).backward();
  assert.deepEqual(a.grad!.toArray(), [6]);
});

test('.grad accumulates across backward calls until cleared', () => {
  const w = tensor([1, 2], { requiresGrad: true });
  w.mul(3).sum().backward();
  w.mul(3).sum().backward();
  assert.deepEqual(w.grad!.toArray(), [6, 6]);
  w.grad = null;
  w.mul(3).sum().backward();
  assert.deepEqual(w.grad!.toArray(), [3, 3]);
});

test('backward through a freed graph is a clear error; retainGraph allows it', () => {
  const w = tensor([1, 2], { requiresGrad: true });
  const y = w.exp().sum();
  y.backward();
  assert.throws(() => y.backward(), (e: Error) => e instanceof AutogradError && /backward through the graph a second time.*retainGraph/.test(e.message));
  const z = w.exp().sum();
  z.backward(null, { retainGraph: true });
  z.backward();
  assert.ok(Math.abs(w.grad!.toFlat()[0] - 3 * Math.E) < 1e-5);
});

test('backward on a non-scalar needs a gradient of its shape', () => {
  const w = tensor([1, 2, 3], { requiresGrad: true });
  const y = w.mul(2);
  assert.throws(() => y.backward(), /a gradient can be created implicitly only for a scalar output; this output has shape \[3\]/);
  assert.throws(() => y.backward(ones([2])), /backward: gradient has shape \[2\] but the output has shape \[3\]/);
  y.backward(tensor([1, 10, 100]));
  assert.deepEqual(w.grad!.toArray(), [2, 20, 200]);
  assert.throws(() => tensor([1]).backward(), /does not require grad/);
});

test('noGrad records nothing, nests, restores, and refuses async functions', () => {
  const w = tensor([1], { requiresGrad: true });
  const y = noGrad(() => w.mul(2));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradFn, null);
  noGrad(() => {
    assert.equal(isGradEnabled(), false);
    const z = enableGrad(() => w.mul(2));
    assert.ok(z.requiresGrad);
  });
  assert.equal(isGradEnabled(), true);
  assert.throws(() => noGrad(async () => 1), /noGrad: the function returned a Promise/);
  assert.equal(isGradEnabled(), true);
});

test('detach cuts the graph and shares storage', () => {
  const w = tensor([1, 2], { requiresGrad: true });
  const d = w.mul(2).detach();
  assert.equal(d.requiresGrad, false);
  const e = w.detach();
  assert.equal(e.storage, w.storage);
});

test('in-place ops: refused on a leaf that requires grad, allowed inside noGrad', () => {
  const w = tensor([1, 2], { requiresGrad: true });
  assert.throws(() => w.add_(1), /add_: a leaf tensor that requires grad \(shape \[2\]\) is used in an in-place operation; do it inside noGrad/);
  noGrad(() => w.add_(1));
  assert.deepEqual(w.toArray(), [2, 3]);
  const y = w.mul(2);
  assert.throws(() => y.mul_(2), /mul_: in-place operations on a tensor that is part of a graph/);
});

test('modifying a tensor saved for backward is caught at backward time', () => {
  const w = tensor([1, 2], { requiresGrad: true });
  const x = tensor([3, 4]);
  const y = w.mul(x).sum(); // saves x
  x.mul_(10);
  assert.throws(() => y.backward(), /saved by MulBackward was modified by an in-place operation \(version 1, expected 0\)/);
  // An optimizer step between forward and backward is the classic case.
  const p = tensor([1, 2], { requiresGrad: true });
  const loss = p.exp().sum(); // saves the output, not p
  const loss2 = p.mul(p).sum(); // saves p
  noGrad(() => p.sub_(0.1));
  loss.backward();
  assert.throws(() => loss2.backward(), /modified by an in-place operation/);
});

test('retainGrad keeps the gradient of an intermediate', () => {
  const w = tensor([1, 2], { requiresGrad: true });
  const h = w.mul(3).retainGrad();
  h.square().sum().backward();
  assert.deepEqual(h.grad!.toArray(), [6, 12]);
  assert.deepEqual(w.grad!.toArray(), [18, 36]);
});

test('gradient flows only to inputs that require it', () => {
  manualSeed(1);
  const x = randn([4, 3]);
  const w = randn([2, 3], { requiresGrad: true });
  F.linear(x, w).sum().backward();
  assert.equal(x.grad, null);
  assert.deepEqual(w.grad!.shape, [2, 3]);
});
