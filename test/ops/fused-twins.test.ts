/**
 * Each fused kernel against its composed twin (built from primitives), forward and backward,
 * on contiguous and non-contiguous inputs, in float64 so disagreement means a real bug.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, randn, randint, tensor } from '../../src/index.js';
import { softmax, logSoftmax, softmaxComposed, logSoftmaxComposed } from '../../src/ops/softmax.js';
import { layerNorm, layerNormComposed } from '../../src/ops/normalization.js';
import { crossEntropy, crossEntropyComposed } from '../../src/ops/loss.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/assert.js';

/** Runs f and g on fresh leaf copies of the inputs; compares outputs and input gradients. */
function agree(f: (...x: Tensor[]) => Tensor, g: (...x: Tensor[]) => Tensor, inputs: Tensor[], label: string): void {
  const run = (fn: (...x: Tensor[]) => Tensor) => {
    const leaves = inputs.map((x) => (x.isFloatingPoint() ? x.detach().clone().requiresGrad_(true) : x));
    const out = fn(...leaves);
    const gy = randn(out.shape, { dtype: 'float64' });
    out.backward(gy);
    return { out, grads: leaves.map((l) => l.grad) };
  };
  manualSeed(11);
  const a = run(f);
  manualSeed(11);
  const b = run(g);
  assertClose(a.out, b.out, { rtol: 1e-12, atol: 1e-12 }, `${label} forward`);
  a.grads.forEach((ga, i) => {
    if (ga) assertClose(ga, b.grads[i]!, { rtol: 1e-10, atol: 1e-12 }, `${label} grad ${i}`);
  });
}

test('softmax / logSoftmax fused vs composed, every dim, permuted input, -inf entries', () => {
  manualSeed(0);
  const x = randn([3, 4, 5], { dtype: 'float64' });
  for (const d of [0, 1, 2, -1]) {
    agree((t) => softmax(t, d), (t) => softmaxComposed(t, d), [x], `softmax dim ${d}`);
    agree((t) => logSoftmax(t, d), (t) => logSoftmaxComposed(t, d), [x], `logSoftmax dim ${d}`);
  }
  agree((t) => softmax(t.permute([2, 0, 1]), -1), (t) => softmaxComposed(t.permute([2, 0, 1]), -1), [x], 'softmax permuted');
  const masked = (t: Tensor) => t.maskedFill(tensor([[false, true, false, true, false]]).bool(), -Infinity);
  agree((t) => softmax(masked(t), -1), (t) => softmaxComposed(masked(t), -1), [x], 'softmax with -inf');
});

test('layerNorm fused vs composed, with and without affine, over 1 and 2 dims', () => {
  manualSeed(1);
  const x = randn([4, 3, 6], { dtype: 'float64' });
  const w = randn([6], { dtype: 'float64' }), b = randn([6], { dtype: 'float64' });
  agree((t, ww, bb) => layerNorm(t, [6], ww, bb), (t, ww, bb) => layerNormComposed(t, [6], ww, bb), [x, w, b], 'layerNorm affine');
  agree((t) => layerNorm(t, [6]), (t) => layerNormComposed(t, [6]), [x], 'layerNorm plain');
  const w2 = randn([3, 6], { dtype: 'float64' });
  agree((t, ww) => layerNorm(t, [3, 6], ww, null, 1e-3), (t, ww) => layerNormComposed(t, [3, 6], ww, null, 1e-3), [x, w2], 'layerNorm 2 dims');
  agree((t) => layerNorm(t.transpose(0, 2), [4]), (t) => layerNormComposed(t.transpose(0, 2), [4]), [x], 'layerNorm transposed');
});

test('crossEntropy fused vs composed: ignoreIndex, label smoothing, every reduction', () => {
  manualSeed(2);
  const x = randn([9, 7], { dtype: 'float64' });
  const t = randint(7, [9]);
  const tIgnore = t.maskedFill(t.lt(2), -100);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    for (const labelSmoothing of [0, 0.2]) {
      for (const [name, target] of [['plain', t], ['ignore', tIgnore]] as const) {
        const opts = { reduction, labelSmoothing };
        agree((l) => crossEntropy(l, target, opts), (l) => crossEntropyComposed(l, target, opts), [x], `crossEntropy ${name} ${reduction} ε=${labelSmoothing}`);
      }
    }
  }
});

test('crossEntropy rejects bad targets with the position and the class count', () => {
  const x = randn([3, 4]);
  assert.throws(() => crossEntropy(x, tensor([0, 4, 1], { dtype: 'int64' })), /crossEntropy: target 4 at position 1 is out of range for 4 classes/);
  assert.throws(() => crossEntropy(x, tensor([0, 1, 2])), /crossEntropy: probability targets must have the input's shape \[3,4\], got \[3\]/);
  assert.throws(() => crossEntropy(x, tensor([0, 1], { dtype: 'int64' })), /crossEntropy: target has shape \[2\]; for input \[3,4\] it must be \[3\]/);
  assert.ok(Number.isNaN(crossEntropy(x, tensor([-100, -100, -100], { dtype: 'int64' })).item()));
});

test('softmax and crossEntropy stay finite for huge logits', () => {
  const x = tensor([[1000, 0, -1000], [-1e30, 1e30, 0]]);
  assert.deepEqual(softmax(x, -1).toArray(), [[1, 0, 0], [0, 1, 0]]);
  const l = crossEntropy(x, tensor([1, 0], { dtype: 'int64' }), { reduction: 'none' }).toArray() as number[];
  assert.ok(Math.abs(l[0] - 1000) < 1e-3 && Math.abs(l[1] - 2e30) / 2e30 < 1e-6);
});
