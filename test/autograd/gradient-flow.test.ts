/**
 * Backward's buffer reuse (autograd/engine.ts GradientFlow, tensor/storage.ts pool): sums written
 * in place into buffers backward allocated, slices of one packed tensor added into one gradient,
 * consumed gradients recycled — and none of it visible: aliasing, retained grads, leaf grads and
 * every tensor a user holds keep their values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, randn, tensor, type Tensor } from '../../src/index.js';
import { storagePoolStats } from '../../src/tensor/allocator.js';

const close = (a: Tensor, b: Tensor, tol = 1e-6): void => {
  const x = a.toFlat(), y = b.toFlat();
  assert.equal(x.length, y.length);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= tol * (1 + Math.abs(y[i])), `element ${i}: ${x[i]} vs ${y[i]}`);
};

test('a gradient passed through unchanged to two inputs is not summed into itself', () => {
  const a = tensor([1, 2, 3], { requiresGrad: true });
  const y = a.mul(2);
  y.add(y).sum().backward(); // AddBackward hands the same gradient to y twice
  assert.deepEqual(a.grad!.toArray(), [4, 4, 4]);
  const b = tensor([1, 2, 3], { requiresGrad: true });
  const z = b.mul(1);
  z.add(z).add(z).mul(tensor([1, 10, 100])).sum().backward();
  assert.deepEqual(b.grad!.toArray(), [3, 30, 300]);
});

test('a retained gradient is not changed by sums that happen after it was handed out, in either order', () => {
  for (const order of ['view first', 'view last']) {
    const a = tensor([1, 2, 3, 4], { requiresGrad: true });
    const x = a.mul(1).reshape([2, 2]);
    const r = x.view([4]); // ViewBackward passes r's gradient to x as a view of the same buffer
    r.retainGrad();
    const c = tensor([1, 2, 3, 4]), d = tensor([[10, 20], [30, 40]]);
    const viaR = r.mul(c).sum(), viaX = x.mul(d).sum();
    (order === 'view first' ? viaR.add(viaX) : viaX.add(viaR)).backward();
    assert.deepEqual(r.grad!.toArray(), [1, 2, 3, 4], order);
    assert.deepEqual(a.grad!.toArray(), [11, 22, 33, 44], order);
  }
});

test('q, k, v slices of one packed tensor: gradients added into one buffer equal the composed sums', () => {
  manualSeed(3);
  const w = randn([24, 40], { requiresGrad: true });
  const x = randn([5, 24]);
  const qkv = x.matmul(w); // (5, 40), non-leaf: its slices' gradients meet in the engine
  const [q, k, v] = qkv.split([8, 16, 16], 1);
  const cq = randn([5, 8]), ck = randn([5, 16]), cv = randn([5, 16]);
  q.mul(cq).sum().add(k.mul(ck).sum()).add(v.square().mul(cv).sum()).backward();
  // d/dqkv is [cq | ck | 2·v·cv]; d/dw = xᵀ · that
  const gqkv = tensor([...Array(5).keys()].flatMap((i) => [
    ...(cq.select(0, i).toArray() as number[]),
    ...(ck.select(0, i).toArray() as number[]),
    ...(v.select(0, i).mul(2).mul(cv.select(0, i)).toArray() as number[]),
  ]), { shape: [5, 40] });
  close(w.grad!, x.t().matmul(gqkv), 1e-5);
  // Slices that overlap (a slice used twice, a slice of a slice) still sum correctly.
  const b = tensor([1, 2, 3, 4, 5, 6], { requiresGrad: true });
  const h = b.mul(1);
  h.narrow(0, 0, 4).sum().add(h.narrow(0, 2, 4).mul(10).sum()).add(h.narrow(0, 1, 4).narrow(0, 1, 2).mul(100).sum()).backward();
  assert.deepEqual(b.grad!.toArray(), [1, 1, 111, 111, 10, 10]);
});

test('backward recycles its consumed buffers: tensors the user holds keep their values, later steps reuse memory', () => {
  manualSeed(4);
  const w1 = randn([64, 64], { requiresGrad: true }), w2 = randn([64, 64], { requiresGrad: true });
  const x = randn([32, 64]);
  const step = () => {
    const h = x.matmul(w1).tanh();
    const [p, q] = h.split(32, 1);
    const out = p.mul(q).matmul(w2.narrow(0, 0, 32)).square().mean();
    return { h, out };
  };
  const first = step();
  const hBefore = first.h.toFlat().slice();
  first.out.backward();
  const g1 = w1.grad!.toFlat().slice(), g2 = w2.grad!.toFlat().slice();
  const before = storagePoolStats().reused;
  w1.grad = null;
  w2.grad = null;
  const second = step();
  second.out.backward();
  assert.ok(storagePoolStats().reused > before, 'the second backward reused recycled buffers');
  // Same inputs, same gradients; the first forward's activations are untouched.
  assert.deepEqual(w1.grad!.toFlat(), Float32Array.from(g1));
  assert.deepEqual(w2.grad!.toFlat(), Float32Array.from(g2));
  assert.deepEqual(first.h.toFlat(), Float32Array.from(hBefore));
  // A leaf's .grad may be backward's own buffer; accumulating later writes into it, as in PyTorch.
  const held = w1.grad!;
  step().out.backward();
  assert.equal(w1.grad, held);
  close(held, tensor(Array.from(g1, (v) => 2 * v), { shape: [64, 64] }), 1e-6);
});

test('a gradient passed to backward() and a leaf root keep their own buffers', () => {
  const a = randn([40, 40], { requiresGrad: true });
  const g = randn([40, 40]);
  const gCopy = g.toFlat().slice();
  a.mul(2).backward(g);
  assert.deepEqual(g.toFlat(), gCopy);
  const leaf = randn([40, 40], { requiresGrad: true });
  leaf.backward(g);
  assert.notEqual(leaf.grad!.storage, g.storage);
  assert.deepEqual(leaf.grad!.toFlat(), gCopy);
});
