/**
 * Each fused kernel against its composed twin (built from primitives), forward and backward,
 * on contiguous and non-contiguous inputs, on every available backend: in float64 so
 * disagreement means a real bug, and for the kernels the native backend runs in float32, in
 * float32 too (tolerances of float32 arithmetic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, randn, randint, tensor, noGrad } from '../../src/index.js';
import { attention, attentionComposed, scaledDotProductAttention } from '../../src/ops/attention.js';
import { adamUpdate, adamUpdateComposed } from '../../src/ops/optim.js';
import { linear, linearComposed } from '../../src/ops/matmul.js';
import type { AdamHyper } from '../../src/backend/backend.js';
import { availableBackends } from '../../src/backend/index.js';
import { AutogradError } from '../../src/errors.js';
import { withBackend } from '../backend/util.js';
import { softmax, logSoftmax, softmaxComposed, logSoftmaxComposed } from '../../src/ops/softmax.js';
import { layerNorm, layerNormComposed } from '../../src/ops/normalization.js';
import { crossEntropy, crossEntropyComposed } from '../../src/ops/loss.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/assert.js';

const F64 = { fwd: { rtol: 1e-12, atol: 1e-12 }, grad: { rtol: 1e-10, atol: 1e-12 } };
const F32 = { fwd: { rtol: 2e-5, atol: 2e-6 }, grad: { rtol: 1e-4, atol: 1e-5 } };

/** Runs f and g on fresh leaf copies of the inputs; compares outputs and input gradients. */
function agree(
  f: (...x: Tensor[]) => Tensor, g: (...x: Tensor[]) => Tensor, inputs: Tensor[], label: string,
  tol = inputs[0].dtype === 'float32' ? F32 : F64,
): void {
  const run = (fn: (...x: Tensor[]) => Tensor) => {
    const leaves = inputs.map((x) => (x.isFloatingPoint() ? x.detach().clone().requiresGrad_(true) : x));
    const out = fn(...leaves);
    const gy = randn(out.shape, { dtype: out.dtype });
    out.backward(gy);
    return { out, grads: leaves.map((l) => l.grad) };
  };
  manualSeed(11);
  const a = run(f);
  manualSeed(11);
  const b = run(g);
  assertClose(a.out, b.out, tol.fwd, `${label} forward`);
  a.grads.forEach((ga, i) => {
    if (ga) assertClose(ga, b.grads[i]!, tol.grad, `${label} grad ${i}`);
  });
}

/** One test per available backend, with that backend selected. */
function eachBackend(name: string, fn: () => void): void {
  for (const b of availableBackends()) test(`[${b}] ${name}`, () => withBackend(b, fn));
}

eachBackend('softmax / logSoftmax fused vs composed, every dim, permuted input, -inf entries', () => {
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

eachBackend('layerNorm fused vs composed, with and without affine, over 1 and 2 dims', () => {
  manualSeed(1);
  const x = randn([4, 3, 6], { dtype: 'float64' });
  const w = randn([6], { dtype: 'float64' }), b = randn([6], { dtype: 'float64' });
  agree((t, ww, bb) => layerNorm(t, [6], ww, bb), (t, ww, bb) => layerNormComposed(t, [6], ww, bb), [x, w, b], 'layerNorm affine');
  agree((t) => layerNorm(t, [6]), (t) => layerNormComposed(t, [6]), [x], 'layerNorm plain');
  const w2 = randn([3, 6], { dtype: 'float64' });
  agree((t, ww) => layerNorm(t, [3, 6], ww, null, 1e-3), (t, ww) => layerNormComposed(t, [3, 6], ww, null, 1e-3), [x, w2], 'layerNorm 2 dims');
  agree((t) => layerNorm(t.transpose(0, 2), [4]), (t) => layerNormComposed(t.transpose(0, 2), [4]), [x], 'layerNorm transposed');
});

eachBackend('crossEntropy fused vs composed: ignoreIndex, label smoothing, every reduction', () => {
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

eachBackend('crossEntropy rejects bad targets with the position and the class count', () => {
  const x = randn([3, 4]);
  assert.throws(() => crossEntropy(x, tensor([0, 4, 1], { dtype: 'int64' })), /crossEntropy: target 4 at position 1 is out of range for 4 classes/);
  assert.throws(() => crossEntropy(x, tensor([0, 1, 2])), /crossEntropy: probability targets must have the input's shape \[3,4\], got \[3\]/);
  assert.throws(() => crossEntropy(x, tensor([0, 1], { dtype: 'int64' })), /crossEntropy: target has shape \[2\]; for input \[3,4\] it must be \[3\]/);
  assert.ok(Number.isNaN(crossEntropy(x, tensor([-100, -100, -100], { dtype: 'int64' })).item()));
});

eachBackend('softmax and crossEntropy stay finite for huge logits', () => {
  const x = tensor([[1000, 0, -1000], [-1e30, 1e30, 0]]);
  assert.deepEqual(softmax(x, -1).toArray(), [[1, 0, 0], [0, 1, 0]]);
  const l = crossEntropy(x, tensor([1, 0], { dtype: 'int64' }), { reduction: 'none' }).toArray() as number[];
  assert.ok(Math.abs(l[0] - 1000) < 1e-3 && Math.abs(l[1] - 2e30) / 2e30 < 1e-6);
});

eachBackend('softmax, layerNorm, crossEntropy fused vs composed in float32', () => {
  manualSeed(3);
  const x = randn([7, 65]);
  agree((t) => softmax(t, -1), (t) => softmaxComposed(t, -1), [x], 'softmax f32');
  agree((t) => logSoftmax(t.t(), 0), (t) => logSoftmaxComposed(t.t(), 0), [x], 'logSoftmax f32 transposed');
  const w = randn([65]), b = randn([65]);
  agree((t, ww, bb) => layerNorm(t, [65], ww, bb), (t, ww, bb) => layerNormComposed(t, [65], ww, bb), [x, w, b], 'layerNorm f32');
  const target = randint(65, [7]);
  agree((l) => crossEntropy(l, target, { labelSmoothing: 0.1 }), (l) => crossEntropyComposed(l, target, { labelSmoothing: 0.1 }), [x], 'crossEntropy f32');
});

// GELU: the fused map and its fused derivative product against the formulas from primitives.
const SQRT1_2 = Math.SQRT1_2;
const geluComposed = (x: Tensor) => x.mul(x.mul(SQRT1_2).erf().add(1)).mul(0.5);
const geluTanhComposed = (x: Tensor) => x.mul(x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI)).tanh().add(1)).mul(0.5);

eachBackend('GELU (exact and tanh) fused vs composed, forward and backward, float64 and float32', () => {
  manualSeed(5);
  for (const dtype of ['float64', 'float32'] as const) {
    const x = randn([17, 63], { dtype }).mul(2.5);
    const tol = dtype === 'float64' ? { fwd: { rtol: 1e-10, atol: 1e-12 }, grad: { rtol: 1e-9, atol: 1e-12 } } : { fwd: { rtol: 1e-5, atol: 1e-6 }, grad: { rtol: 1e-5, atol: 5e-6 } };
    agree((t) => t.gelu(), geluComposed, [x], `gelu ${dtype}`, tol);
    agree((t) => t.gelu('tanh'), geluTanhComposed, [x], `gelu tanh ${dtype}`, tol);
    agree((t) => t.t().gelu(), (t) => geluComposed(t.t()), [x], `gelu ${dtype} transposed`, tol);
  }
});

// Adam / AdamW: the fused step against the composed one (PyTorch's single-tensor algorithm).
eachBackend('Adam/AdamW fused step vs composed: weight decay, decoupled, AMSGrad, maximize; float64 and float32', () => {
  const variants: [string, Partial<AdamHyper>, boolean][] = [
    ['adam', {}, false], ['adam L2', { weightDecay: 0.1 }, false], ['adamw', { decoupled: true, weightDecay: 0.05 }, false],
    ['amsgrad', {}, true], ['maximize', { maximize: true, weightDecay: 0.01 }, false],
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    for (const [name, h, ams] of variants) {
      manualSeed(9);
      const p0 = randn([7, 65], { dtype });
      const make = () => ({ p: p0.clone(), m: p0.zerosLike(), v: p0.zerosLike(), vm: ams ? p0.zerosLike() : null });
      const a = make(), b = make();
      for (let step = 1; step <= 3; step++) {
        const g = randn([7, 65], { dtype });
        const hp: AdamHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step, maximize: false, ...h };
        noGrad(() => {
          adamUpdate(a.p, g, a.m, a.v, a.vm, hp);
          adamUpdateComposed(b.p, g, b.m, b.v, b.vm, hp);
        });
      }
      const tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-14 } : { rtol: 1e-5, atol: 1e-7 };
      assertClose(a.p, b.p, tol, `${name} ${dtype} param`);
      assertClose(a.m, b.m, tol, `${name} ${dtype} exp_avg`);
      assertClose(a.v, b.v, tol, `${name} ${dtype} exp_avg_sq`);
      if (a.vm) assertClose(a.vm, b.vm!, tol, `${name} ${dtype} max_exp_avg_sq`);
    }
  }
});

// Attention: the fused kernel (with its gradient rule) against the composed twin.
// The fused path of attention(); F.scaledDotProductAttention refuses mask + isCausal together, as PyTorch does.
const sdpa = (opts: Parameters<typeof attention>[3]) => (q: Tensor, k: Tensor, v: Tensor) => attention(q, k, v, opts).out;
const sdpaComposed = (opts: Parameters<typeof attention>[3]) => (q: Tensor, k: Tensor, v: Tensor) => attentionComposed(q, k, v, opts).out;

eachBackend('attention fused vs composed: plain, causal, bool and float masks, scale, batch broadcast, non-contiguous; float64 and float32', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    manualSeed(13);
    const q = randn([2, 3, 5, 4], { dtype }), k = randn([2, 3, 7, 4], { dtype }), v = randn([2, 3, 7, 6], { dtype });
    const allowed = randn([5, 7]).gt(-0.8); // bool, true = may attend
    const floatMask = randn([2, 1, 5, 7], { dtype }).mul(0.5);
    const cases: [string, Parameters<typeof attention>[3]][] = [
      ['plain', {}], ['causal', { isCausal: true }], ['bool mask', { attnMask: allowed }], ['float mask', { attnMask: floatMask }],
      ['scale + causal + mask', { scale: 0.3, isCausal: true, attnMask: floatMask }],
    ];
    for (const [name, opts] of cases) agree(sdpa(opts), sdpaComposed(opts), [q, k, v], `${name} ${dtype}`);
    // k and v shared across heads (batch broadcast), q transposed in memory, L ≠ S with causal.
    const k1 = randn([2, 1, 9, 4], { dtype }), v1 = randn([2, 1, 9, 3], { dtype });
    const qT = randn([2, 3, 4, 6], { dtype }).transpose(-1, -2);
    agree(sdpa({ isCausal: true }), sdpaComposed({ isCausal: true }), [qT, k1, v1], `broadcast k/v, transposed q, causal ${dtype}`);
    // Heads of one packed projection, as nn.Attention and MultiheadAttention build them.
    const packed = randn([2, 6, 3 * 2 * 8], { dtype });
    const heads = (t: Tensor) => t.view([2, 6, 2, 8]).transpose(1, 2);
    agree(
      (p) => { const [a, b, c] = p.chunk(3, -1).map(heads); return scaledDotProductAttention(a, b, c, { isCausal: true }); },
      (p) => { const [a, b, c] = p.chunk(3, -1).map(heads); return attentionComposed(a, b, c, { isCausal: true }).out; },
      [packed], `packed heads ${dtype}`,
    );
  }
});

eachBackend('attention: a fully masked row is NaN in both; weights are the composed softmax; lazy weights refuse modified inputs', () => {
  manualSeed(17);
  const q = randn([1, 3, 4]), k = randn([1, 5, 4]), v = randn([1, 5, 2]);
  const mask = tensor([[true, true, false, false, false], [false, false, false, false, false], [true, true, true, true, true]]);
  const fused = attention(q, k, v, { attnMask: mask }), composed = attentionComposed(q, k, v, { attnMask: mask });
  assert.ok(Number.isNaN((fused.out.toArray() as number[][][])[0][1][0]), 'row 1 has no allowed key');
  assertClose(fused.out, composed.out, F32.fwd, 'masked out');
  assertClose(fused.weights, composed.weights, F32.fwd, 'weights');
  const r = attention(q, k, v);
  noGrad(() => q.mul_(2));
  assert.throws(() => r.weights, AutogradError);
  assert.throws(() => r.weights, /attention: the weights were read after q, k or the mask was modified in place/);
});

eachBackend('attention falls back to the composed path for dropout in training and for a mask that needs a gradient', () => {
  manualSeed(19);
  const q = randn([2, 4, 3]), k = randn([2, 5, 3]), v = randn([2, 5, 3]);
  manualSeed(1);
  const a = scaledDotProductAttention(q, k, v, { dropoutP: 0.5 });
  manualSeed(1);
  const b = attentionComposed(q, k, v, { dropoutP: 0.5 }).out;
  assert.deepEqual(a.toArray(), b.toArray(), 'dropout: the same composed computation and mask');
  const m = randn([4, 5]).requiresGrad_(true);
  const y = scaledDotProductAttention(q, k, v, { attnMask: m });
  y.sum().backward();
  assert.ok(m.grad !== null && m.grad.abs().sum().item() > 0, 'the float mask received a gradient');
  assert.throws(() => scaledDotProductAttention(q, randn([2, 5, 4]), v), /scaledDotProductAttention: q \[2,4,3\], k \[2,5,4\], v \[2,5,3\] do not fit/);
  assert.throws(() => scaledDotProductAttention(q, k, v, { attnMask: randn([3, 5]) }), /attnMask/);
});

eachBackend('linear (bias fused into the product, direct weight gradient) vs composed matmul + add', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    manualSeed(23);
    const w = randn([9, 17], { dtype }), b = randn([9], { dtype });
    for (const [name, x] of [['3-D', randn([2, 5, 17], { dtype })], ['1-D', randn([17], { dtype })], ['transposed', randn([17, 6], { dtype }).t()]] as const) {
      agree((t, ww, bb) => linear(t, ww, bb), (t, ww, bb) => linearComposed(t, ww, bb), [x, w, b], `linear ${name} ${dtype}`);
      agree((t, ww) => linear(t, ww), (t, ww) => linearComposed(t, ww), [x, w], `linear no bias ${name} ${dtype}`);
    }
  }
  // Mixed dtypes promote through the composed path, as PyTorch would.
  const y = linear(randn([3, 4]), randn([2, 4]), randn([2], { dtype: 'float64' }));
  assert.equal(y.dtype, 'float64');
  assert.throws(() => linear(randn([3, 4]), randn([2, 5])), /linear: input's last dim must equal weight's in_features: input is \[3,4\], weight is \[2,5\]/);
});
