/** Each module's parameters follow PyTorch's init distribution (bounds and moments on large tensors). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, nn, zeros, empty } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';

function moments(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const a = t.toFlat();
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (const v of a) { s += v; s2 += v * v; min = Math.min(min, v); max = Math.max(max, v); }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean), min, max };
}

/** U(−b, b): every value inside, the extremes near ±b, std b/√3 within 2%. */
function assertUniform(t: Tensor, bound: number, label: string): void {
  const m = moments(t);
  assert.ok(m.max <= bound && m.min >= -bound, `${label}: values leave ±${bound} (${m.min}, ${m.max})`);
  assert.ok(m.max > 0.99 * bound && m.min < -0.99 * bound, `${label}: extremes ${m.min}, ${m.max} do not reach ±${bound}`);
  assert.ok(Math.abs(m.mean) < 0.02 * bound, `${label}: mean ${m.mean}`);
  assert.ok(Math.abs(m.std / (bound / Math.sqrt(3)) - 1) < 0.02, `${label}: std ${m.std}, expected ${bound / Math.sqrt(3)}`);
}

function assertNormal(t: Tensor, std: number, label: string): void {
  const m = moments(t);
  assert.ok(Math.abs(m.mean) < 0.02 * std, `${label}: mean ${m.mean}`);
  assert.ok(Math.abs(m.std / std - 1) < 0.02, `${label}: std ${m.std}, expected ${std}`);
}

test("Linear: weight and bias ~ U(±1/√in) (kaiming_uniform with a = √5)", () => {
  manualSeed(0);
  const lin = new nn.Linear(256, 512);
  assertUniform(lin.weight, 1 / 16, 'Linear.weight');
  const big = new nn.Linear(100, 20000);
  assertUniform(big.bias!, 1 / 10, 'Linear.bias');
});

test('splitting a fused Linear(dim, 3·inner) into three Linear(dim, inner) keeps the distribution', () => {
  manualSeed(1);
  const fused = new nn.Linear(128, 3 * 256, { bias: false });
  const parts = [0, 1, 2].map(() => new nn.Linear(128, 256, { bias: false }));
  const b = 1 / Math.sqrt(128);
  assertUniform(fused.weight, b, 'fused');
  parts.forEach((p, i) => assertUniform(p.weight, b, `separate ${i}`));
});

test('MultiheadAttention: xavier over the packed in_proj_weight (fan_out 3E), zero biases, out_proj keeps Linear init', () => {
  manualSeed(2);
  const E = 128;
  const mha = new nn.MultiheadAttention(E, 8);
  const packedBound = Math.sqrt(6 / (E + 3 * E));
  assertUniform(mha.in_proj_weight!, packedBound, 'in_proj_weight');
  // Per-matrix xavier would use fan_out E, a √2 larger bound: the packed one is what PyTorch does.
  assert.ok(moments(mha.in_proj_weight!).max < Math.sqrt(6 / (2 * E)) * 0.75);
  assert.deepEqual(moments(mha.in_proj_bias!), { mean: 0, std: 0, min: 0, max: 0 });
  assert.equal(moments(mha.out_proj.bias!).max, 0);
  assertUniform(mha.out_proj.weight, 1 / Math.sqrt(E), 'out_proj.weight');
  const sep = new nn.MultiheadAttention(64, 4, { kdim: 32, vdim: 48 });
  assertUniform(sep.k_proj_weight!, Math.sqrt(6 / (32 + 64)), 'k_proj_weight');
});

test('Embedding ~ N(0, 1) with a zero padding row; LayerNorm weight 1, bias 0', () => {
  manualSeed(3);
  const emb = new nn.Embedding(1000, 64, { paddingIdx: 3 });
  assertNormal(emb.weight, 1, 'Embedding.weight');
  assert.deepEqual(emb.weight.select(0, 3).toArray(), new Array(64).fill(0));
  const ln = new nn.LayerNorm(32);
  assert.deepEqual([moments(ln.weight!).min, moments(ln.weight!).max, moments(ln.bias!).max], [1, 1, 0]);
});

test('nn.init: gains, fans and each initialiser', () => {
  manualSeed(4);
  const { init } = nn;
  assert.equal(init.calculateGain('relu'), Math.SQRT2);
  assert.equal(init.calculateGain('tanh'), 5 / 3);
  assert.equal(init.calculateGain('leaky_relu', Math.sqrt(5)), Math.sqrt(2 / 6));
  assert.deepEqual(init.calculateFanInAndFanOut(zeros([16, 8, 3, 3])), [72, 144]);
  assert.throws(() => init.xavierUniform_(zeros([5])), /fan in and fan out can not be computed for a tensor with fewer than 2 dimensions/);
  assertNormal(init.xavierNormal_(empty([300, 500])), Math.sqrt(2 / 800), 'xavierNormal_');
  assertNormal(init.kaimingNormal_(empty([400, 250]), { mode: 'fan_out', nonlinearity: 'relu' }), Math.SQRT2 / 20, 'kaimingNormal_ fan_out');
  assertUniform(init.kaimingUniform_(empty([300, 400]), { nonlinearity: 'relu' }), Math.sqrt(6 / 400), 'kaimingUniform_');
  assertUniform(init.uniform_(empty([100000]), -3, 3), 3, 'uniform_');
  assertNormal(init.normal_(empty([100000]), 0, 0.02), 0.02, 'normal_');
  assert.equal(moments(init.constant_(empty([5]), 0.3)).max, Math.fround(0.3));
});

test('truncNormal_: inside [a, b], with the truncated moments (tails too)', () => {
  manualSeed(5);
  const t = nn.init.truncNormal_(empty([200000]), 0, 1, -2, 2);
  const m = moments(t);
  assert.ok(m.min >= -2 && m.max <= 2 && m.min < -1.99 && m.max > 1.99);
  assert.ok(Math.abs(m.std - 0.8796) < 0.01, `std ${m.std}`); // √0.7737 for N(0,1) cut at ±2
  const tail = moments(nn.init.truncNormal_(empty([20000]), 0, 1, 3, 4)); // 0.13% of the mass: inverse CDF path
  assert.ok(tail.min >= 3 && tail.max <= 4 && tail.mean > 3.2 && tail.mean < 3.4, `tail mean ${tail.mean}`);
});

test('TransformerEncoder deep-copies its layer: identical initial weights, separate storage', () => {
  manualSeed(6);
  const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32 }), 3);
  const [a, b] = [enc.layers[0], enc.layers[2]];
  assert.deepEqual(a.linear1.weight.toArray(), b.linear1.weight.toArray());
  assert.notEqual(a.linear1.weight.storage, b.linear1.weight.storage);
  assert.equal(enc.numParameters(), 3 * new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32 }).numParameters());
});
