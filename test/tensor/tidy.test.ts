/** tidy(): tensors made inside a scope are released when it ends, except returned and kept ones. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tidy, keep, storagePoolStats, randn, zeros, tensor, nn, optim, manualSeed, AllocationError, noGrad, models, randint } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';

test('intermediates are released, returned tensors survive, a leaked one is a clear error', () => {
  let leaked: Tensor | null = null;
  const out = tidy(() => {
    const a = randn([64, 64]);
    leaked = a.mul(2);
    return a.add(1);
  });
  assert.deepEqual(out.shape, [64, 64]);
  assert.ok(Number.isFinite(out.sum().item()));
  assert.throws(() => leaked!.sum(), (e: Error) => e instanceof AllocationError && /used after its memory was released at the end of a tidy\(\) scope; return it from the scope, or keep\(t\) it/.test(e.message));
  assert.throws(() => leaked!.item(), AllocationError);
  assert.throws(() => leaked!.toArray(), AllocationError);
});

test('views of a returned tensor, arrays and objects of tensors, nested scopes, keep', () => {
  let inner: Tensor | null = null;
  const { a, list } = tidy(() => {
    const t = zeros([3, 3]);
    const kept = keep(zeros([2]));
    inner = tidy(() => t.add(1)); // returned from the inner scope: owned by the outer one now
    return { a: t.index(0), list: [kept, inner.mul(3)] };
  });
  assert.deepEqual(a.toArray(), [0, 0, 0]);
  assert.deepEqual(list[0].toArray(), [0, 0]);
  assert.deepEqual(list[1].toArray(), [[3, 3, 3], [3, 3, 3], [3, 3, 3]]);
  assert.throws(() => inner!.sum(), AllocationError, 'the outer scope released what the inner returned');
});

test('an exception releases the scope too; a Promise is refused', () => {
  let made: Tensor | null = null;
  assert.throws(() => tidy(() => { made = zeros([8]); throw new Error('boom'); }), /boom/);
  assert.throws(() => made!.sum(), AllocationError);
  assert.throws(() => tidy(() => Promise.resolve(1) as unknown as number), /returned a Promise/);
});

test('training steps in scopes: parameters, gradients and optimizer state survive; memory is recycled', () => {
  manualSeed(0);
  const model = new nn.Sequential(new nn.Linear(32, 64), new nn.ReLU(), new nn.Linear(64, 1));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  const x = randn([128, 32]), y = randn([128, 1]);
  const losses: number[] = [];
  const before = storagePoolStats().reused;
  for (let i = 0; i < 30; i++) {
    losses.push(tidy(() => {
      opt.zeroGrad();
      const loss = model.forward(x).sub(y).square().mean();
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  assert.ok(losses[29] < losses[0] * 0.8, `loss ${losses[0]} → ${losses[29]}`);
  for (const p of model.parameters()) assert.ok(p.grad!.isfinite().all(), 'the last .grad is readable after its scope');
  assert.ok(storagePoolStats().reused - before > 30, 'activations were reused through the pool');
});

test('a model built and a generation run inside a scope stay usable', () => {
  manualSeed(1);
  const gpt = tidy(() => new models.GPT({ vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8 }));
  const idx = randint(11, [1, 3]);
  const a = gpt.generate(idx, 10, { temperature: 0 });
  const b = tidy(() => gpt.generate(idx, 10, { temperature: 0, useCache: false }));
  assert.deepEqual(a.toArray(), b.toArray());
  noGrad(() => assert.ok(gpt.forward(idx).logits.isfinite().all()));
  assert.deepEqual(tensor([1, 2]).add(tidy(() => tensor([3, 4]))).toArray(), [4, 6]);
});
