/** Module.registerFullBackwardHook (PyTorch's register_full_backward_hook). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nn, tensor, randn, manualSeed, AutogradError } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';

test('a Linear: gradInput is dL/dx, gradOutput is dL/dy; returning gradients replaces them', () => {
  manualSeed(0);
  const lin = new nn.Linear(3, 2);
  const x = randn([4, 3], { requiresGrad: true });
  const g = randn([4, 2]);
  const seen: { gin: (Tensor | null)[]; gout: (Tensor | null)[] }[] = [];
  const h = lin.registerFullBackwardHook((m, gin, gout) => {
    assert.equal(m, lin);
    seen.push({ gin, gout });
  });
  lin.forward(x).backward(g);
  assert.equal(seen.length, 1);
  assert.ok(seen[0].gout[0]!.allclose(g));
  assert.ok(seen[0].gin[0]!.allclose(g.matmul(lin.weight)));
  assert.ok(x.grad!.allclose(g.matmul(lin.weight)));
  h.remove();
  x.grad = null;
  lin.registerFullBackwardHook((_m, gin) => gin.map((t) => t && t.mul(0)));
  lin.forward(x).backward(g);
  assert.ok(x.grad!.abs().max().item() === 0, 'the replaced gradient reached x');
  assert.ok(lin.weight.grad!.abs().max().item() > 0, 'parameter gradients are not affected');
});

class Pair extends nn.Module {
  override forward(a: Tensor, scale: number, b: Tensor): [Tensor, Tensor] {
    return [a.mul(b).mul(scale), a.add(b)];
  }
}

test('several tensor inputs and outputs: one call with every gradient; non-tensors are skipped', () => {
  const m = new Pair();
  const a = tensor([1, 2], { requiresGrad: true }), b = tensor([3, 4], { requiresGrad: true });
  const calls: { gin: (Tensor | null)[]; gout: (Tensor | null)[] }[] = [];
  m.registerFullBackwardHook((_m, gin, gout) => void calls.push({ gin, gout }));
  const [p, s] = m.forward(a, 2, b);
  p.sum().add(s.mul(10).sum()).backward();
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].gout.map((t) => t!.toArray()), [[1, 1], [10, 10]]);
  assert.deepEqual(calls[0].gin.map((t) => t!.toArray()), [[16, 18], [12, 14]]); // d/da = 2b + 10, d/db = 2a + 10
  assert.deepEqual(a.grad!.toArray(), [16, 18]);
  assert.deepEqual(b.grad!.toArray(), [12, 14]);
});

test('an input that needs no gradient is null; inputs that need none still get gradOutput', () => {
  const lin = new nn.Linear(2, 2);
  const calls: (Tensor | null)[][] = [];
  lin.registerFullBackwardHook((_m, gin, gout) => void calls.push([...gin, ...gout]));
  lin.forward(tensor([[1, 2]])).sum().backward(); // x does not require grad
  assert.equal(calls.length, 1);
  assert.equal(calls[0][0], null);
  assert.deepEqual(calls[0][1]!.toArray(), [[1, 1]]);
});

test('hooks in a model: fire in backward order, and a wrong return is an error', () => {
  const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 1));
  const order: string[] = [];
  model[0].registerFullBackwardHook(() => void order.push('first'));
  model[2].registerFullBackwardHook(() => void order.push('last'));
  model.forward(randn([2, 3], { requiresGrad: true })).sum().backward();
  assert.deepEqual(order, ['last', 'first']);
  const bad = new nn.Linear(2, 2);
  bad.registerFullBackwardHook(() => [tensor([1, 2, 3])]);
  assert.throws(() => bad.forward(randn([1, 2], { requiresGrad: true })).sum().backward(),
    (e: Error) => e instanceof AutogradError && /returned a gradient of shape \[3\] for input 0, expected shape \[1,2\]/.test(e.message));
});
