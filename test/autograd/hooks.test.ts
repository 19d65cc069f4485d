/** Tensor hooks (torch.Tensor.register_hook): observe and replace gradients, removable. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, randn, manualSeed, AutogradError } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';

test('a hook on a non-leaf sees its gradient and can replace it', () => {
  const x = tensor([1, 2, 3], { requiresGrad: true });
  const y = x.mul(2);
  const seen: Tensor[] = [];
  y.registerHook((g) => void seen.push(g));
  const h = y.registerHook((g) => g.mul(10));
  y.pow(2).sum().backward();
  assert.deepEqual(seen[0].toArray(), [4, 8, 12]); // d/dy Σy² = 2y
  assert.deepEqual(x.grad!.toArray(), [80, 160, 240]); // replaced gradient ×10, then ×2 for x
  h.remove();
  x.grad = null;
  x.mul(2).pow(2).sum().backward(); // a new graph: the hooks belonged to the old y
  assert.deepEqual(x.grad!.toArray(), [8, 16, 24]);
});

test('a hook on a leaf runs before accumulation into .grad; removing it stops it', () => {
  const w = tensor([1, -1], { requiresGrad: true });
  let calls = 0;
  const h = w.registerHook((g) => { calls++; return g.clamp(-0.5, 0.5); });
  w.mul(3).sum().backward();
  assert.deepEqual(w.grad!.toArray(), [0.5, 0.5]);
  h.remove();
  w.mul(3).sum().backward();
  assert.deepEqual(w.grad!.toArray(), [3.5, 3.5]);
  assert.equal(calls, 1);
});

test('a gradient kept by a hook is not overwritten by later backward work (buffers escape)', () => {
  manualSeed(0);
  const a = randn([64, 64], { requiresGrad: true });
  const kept: Tensor[] = [];
  const b = a.mul(2);
  b.registerHook((g) => void kept.push(g));
  b.add(b).sum().backward(); // b's gradient is a sum written in place by backward
  const snapshot = kept[0].toArray();
  a.mul(3).exp().sum().backward(); // more backward work that recycles buffers
  assert.deepEqual(kept[0].toArray(), snapshot);
});

test('bad hooks are errors', () => {
  const x = tensor([1, 2], { requiresGrad: true });
  assert.throws(() => tensor([1]).registerHook((g) => g), /doesn't require gradient/);
  const y = x.mul(1);
  y.registerHook(() => tensor([1, 2, 3]));
  assert.throws(() => y.sum().backward(), (e: Error) => e instanceof AutogradError && /returned a float32 tensor of shape \[3\]; it must return undefined or a float32 tensor of shape \[2\]/.test(e.message));
});
