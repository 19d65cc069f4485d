/**
 * Strict options and PyTorch's positional forms in nn: an unknown key (a PyTorch snake_case
 * spelling, a typo) is an ArgumentError naming it and the nearest valid key; PyTorch's positional
 * arguments take effect; PyTorch options qkv lacks are refused by name. Each case here used to be
 * accepted and silently ignored (the default was used).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, manualSeed, nn, randn, tensor, zeros, ArgumentError } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/assert.js';

/** A constructor called with arguments its TypeScript signature does not allow (as JavaScript can). */
const loose = <T>(C: new (...a: never[]) => T) => C as unknown as new (...a: unknown[]) => T;

/** Asserts an ArgumentError whose message matches `re`. */
function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof ArgumentError, `expected an ArgumentError, got ${e.name}: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

test('unknown option keys are refused with the nearest valid key, across nn constructors', () => {
  refuses(() => new nn.MultiheadAttention(8, 2, { batch_first: true } as never), /nn\.MultiheadAttention: unknown option "batch_first" \(did you mean batchFirst\?\)/);
  refuses(() => new nn.TransformerEncoderLayer(8, 2, { dim_feedforward: 128 } as never), /unknown option "dim_feedforward" \(did you mean dimFeedforward\?\)/);
  refuses(() => new nn.Embedding(10, 3, { padding_idx: 0 } as never), /nn\.Embedding: unknown option "padding_idx" \(did you mean paddingIdx\?\)/);
  refuses(() => new nn.Linear(3, 4, { baias: false } as never), /nn\.Linear: unknown option "baias" \(did you mean bias\?\)/);
  refuses(() => new nn.LayerNorm(4, { elementwise_affine: false } as never), /did you mean elementwiseAffine\?/);
  refuses(() => new nn.Attention({ dim: 8, head: 2 } as never), /nn\.Attention: unknown option "head" \(did you mean heads\?\)/);
  refuses(() => new nn.Attention({ dim: 8, rotary: { dim: 2 } } as never), /Attention rotary: unknown option "dim" \(did you mean dims\?\)/);
  refuses(() => new nn.CrossEntropyLoss({ ignore_index: 0 } as never), /did you mean ignoreIndex\?/);
  refuses(() => new nn.MSELoss({ reduce: 'sum' } as never), /nn\.MSELoss: unknown option "reduce"; valid options: reduction/);
  refuses(() => new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2), 2, { nrom: null } as never), /did you mean norm\?/);
  refuses(() => new nn.GELU({ approximation: 'tanh' } as never), /did you mean approximate\?/);
  refuses(() => new nn.Dropout({ prob: 0.1 } as never), /nn\.Dropout: unknown option "prob"/);
});

test('PyTorch\'s positional forms take effect: Linear(3, 4, False) has no bias; LayerNorm(8, 1e-6) uses that eps; Embedding(10, 3, 0) pads row 0', () => {
  manualSeed(0);
  const lin = new nn.Linear(3, 4, false);
  assert.equal(lin.bias, null);
  assert.deepEqual(Object.keys(lin.stateDict()), ['weight']);
  assert.equal(new nn.Linear(3, 4, true, { dtype: 'float64' }).weight.dtype, 'float64');
  refuses(() => new nn.Linear(3, 4, false, { bias: true }), /nn\.Linear: bias is given twice/);
  refuses(() => new nn.Linear(3, 4, 'false' as never), /nn\.Linear: bias must be true or false, got "false"/);
  refuses(() => new (loose(nn.Linear))(3, 4, false, 'cpu', 'float32'), /nn\.Linear: got 3 optional positional arguments but takes at most 1 \(bias\)/);

  const ln = new nn.LayerNorm(8, 1e-6);
  assert.equal(ln.eps, 1e-6);
  const x = randn([3, 8]).mul(1e-3); // variance ~1e-6: eps matters
  const ref = F.layerNorm(x, [8], ln.weight, ln.bias, 1e-6);
  assertClose(ln.forward(x), ref, { rtol: 1e-5, atol: 1e-6 }, 'eps 1e-6');
  assert.ok(ln.forward(x).sub(F.layerNorm(x, [8], ln.weight, ln.bias, 1e-5)).abs().max().item() > 1e-2, 'the default eps would differ');
  const noAffine = new nn.LayerNorm(8, 1e-5, false);
  assert.deepEqual(Object.keys(noAffine.stateDict()), []);
  assert.equal(new nn.LayerNorm([2, 4], 1e-5, true, false).bias, null);

  const emb = new nn.Embedding(10, 3, 0);
  assert.equal(emb.paddingIdx, 0);
  assert.equal(emb.weight.select(0, 0).abs().sum().item(), 0);
  emb.forward(tensor([[0, 1]], { dtype: 'int64' })).sum().backward();
  assert.equal(emb.weight.grad!.select(0, 0).abs().sum().item(), 0, 'no gradient for the padding row');
  assert.equal(new nn.Embedding(10, 3, -1).paddingIdx, 9);
  refuses(() => new nn.Embedding(10, 3, 0.5), /paddingIdx must be an integer or null/);
});

test('PyTorch options qkv does not implement are refused by name; their harmless values are accepted', () => {
  refuses(() => new (loose(nn.Embedding))(10, 3, null, 1.0), /nn\.Embedding: maxNorm \(PyTorch's max_norm\) = 1 is not supported/);
  refuses(() => new nn.Embedding(10, 3, { sparse: true } as never), /sparse = true is not supported: gradients are dense/);
  assert.equal(new nn.Embedding(10, 3, { sparse: false } as never).paddingIdx, null);
  refuses(() => new nn.ReLU(true as never), /nn\.ReLU: inplace = true is not supported/);
  assert.ok(new nn.ReLU(false) instanceof nn.ReLU);
  refuses(() => new nn.Dropout(0.1, true as never), /nn\.Dropout: inplace = true is not supported/);
  refuses(() => new nn.MultiheadAttention(8, 2, 0, true, true as never), /addBiasKv \(PyTorch's add_bias_kv\) = true is not supported/);
  refuses(() => new nn.Linear(3, 4, { device: 'cuda' } as never), /nn\.Linear: device = "cuda" is not supported: qkv computes on the CPU/);
  assert.ok(new nn.Linear(3, 4, { device: 'cpu' } as never) instanceof nn.Linear);
  refuses(() => new nn.CrossEntropyLoss(zeros([3]) as never), /class weights \(PyTorch's weight\) are not supported/);
  refuses(() => new nn.MSELoss('sum' as never), /nn\.MSELoss: takes an options object \{ reduction \}/);
  refuses(() => new nn.MSELoss({ reduction: 'avg' as never }), /reduction must be 'mean', 'sum' or 'none', got "avg"/);
  refuses(() => new nn.Tanh(1 as never), /nn\.Tanh: got 1 optional positional argument but takes at most 0/);
});

test('MultiheadAttention and TransformerEncoderLayer: PyTorch\'s positional constructor and forward forms equal the options forms', () => {
  manualSeed(1);
  const a = new nn.MultiheadAttention(8, 2, 0, false, false, false, null, null, true);
  assert.equal(a.batchFirst, true);
  assert.equal(a.in_proj_bias, null);
  const b = new nn.MultiheadAttention(8, 2, { bias: false, batchFirst: true });
  b.loadStateDict(a.stateDict());
  const x = randn([2, 5, 8]);
  const kpm = tensor([[false, false, true, false, true], [false, true, false, false, false]], { dtype: 'bool' });
  const [y1, w1] = a.forward(x, x, x, kpm, true, null, false);
  const [y2, w2] = b.forward(x, x, x, { keyPaddingMask: kpm, averageAttnWeights: false });
  assertClose(y1, y2, { rtol: 0, atol: 0 }, 'positional forward');
  assert.deepEqual(w1!.shape, [2, 2, 5, 5]);
  assertClose(w1!, w2!, { rtol: 0, atol: 0 }, 'weights');
  refuses(() => b.forward(x, x, x, { need_weights: false } as never), /MultiheadAttention\.forward: unknown option "need_weights" \(did you mean needWeights\?\)/);

  const l1 = new nn.TransformerEncoderLayer(8, 2, 16, 0, 'gelu', 1e-6, true, true);
  assert.equal(l1.normFirst, true);
  assert.equal(l1.norm1.eps, 1e-6);
  assert.equal(l1.linear1.outFeatures, 16);
  const l2 = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, activation: 'gelu', layerNormEps: 1e-6, batchFirst: true, normFirst: true });
  l2.loadStateDict(l1.stateDict());
  const mask = zeros([5, 5], { dtype: 'bool' }).logicalOr(tensor([[false, true, true, true, true]], { dtype: 'bool' }).expand([5, 5]).triu(1));
  assertClose(l1.forward(x, mask, kpm), l2.forward(x, { srcMask: mask, srcKeyPaddingMask: kpm }), { rtol: 0, atol: 0 }, 'layer forward');
  refuses(() => l2.forward(x, { src_mask: mask } as never), /did you mean srcMask\?/);
  const enc = new nn.TransformerEncoder(l1, 2, new nn.LayerNorm(8));
  assert.ok(enc.norm instanceof nn.LayerNorm);
  assert.deepEqual(enc.forward(x, null, kpm).shape, [2, 5, 8]);
  refuses(() => new nn.TransformerEncoderLayer(8, 2, { dropout: 1.5 }), /dropout must be a number in \[0, 1\], got 1\.5/);
});

test('activations, Softmax, Dropout and Sequential accept PyTorch\'s keyword forms as objects', () => {
  assert.equal(new nn.GELU({ approximate: 'tanh' }).approximate, 'tanh');
  assert.equal(new nn.GELU('tanh').approximate, 'tanh');
  assert.equal(new nn.Softmax({ dim: -1 }).dim, -1);
  refuses(() => new nn.Softmax(undefined as never), /nn\.Softmax: dim must be an integer/);
  assert.equal(new nn.Dropout({ p: 0.2 }).p, 0.2);
  const seq = new nn.Sequential({ fc: new nn.Linear(2, 3), act: new nn.ReLU() });
  assert.deepEqual(Object.keys(seq.stateDict()), ['fc.weight', 'fc.bias']);
  const y: Tensor = seq.forward(randn([4, 2])); // typed Tensor → Tensor, no cast
  assert.deepEqual(y.shape, [4, 3]);
  refuses(() => new nn.Sequential(new nn.ReLU(), 3 as never), /nn\.Sequential: argument 1 must be an nn\.Module, got number 3/);
  refuses(() => new nn.ModuleList(new nn.ReLU() as never, new nn.ReLU() as never), /nn\.ModuleList: takes one iterable of modules/);
  refuses(() => new nn.ModuleDict([new nn.ReLU()] as never), /nn\.ModuleDict: takes one \{ name: module \} object/);
});

test('Module methods: loadStateDict(sd, false), stateDict({ keepVars }), zeroGrad(false), parameters({ recurse }) as PyTorch; unknown keys refused', () => {
  manualSeed(2);
  const m = new nn.Sequential(new nn.Linear(2, 2), new nn.Linear(2, 1));
  const sd = m.stateDict();
  delete sd['1.bias'];
  const r = m.loadStateDict(sd, false);
  assert.deepEqual(r.missingKeys, ['1.bias']);
  assert.throws(() => m.loadStateDict(sd, true), /missing key\(s\): 1\.bias/);
  refuses(() => m.loadStateDict(sd, { stric: false } as never), /loadStateDict: unknown option "stric" \(did you mean strict\?\)/);
  assert.equal(m.stateDict({ keepVars: true })['0.weight'], m[0].parameters()[0]);
  assert.notEqual(m.stateDict()['0.weight'], m[0].parameters()[0]);
  assert.deepEqual(Object.keys(m.stateDict('model.')).slice(0, 1), ['model.0.weight']);
  refuses(() => m.stateDict({ keep_vars: true } as never), /did you mean keepVars\?/);
  const y: Tensor = m.forward(randn([3, 2]));
  y.sum().backward();
  m.zeroGrad(false);
  assert.ok(m.parameters().every((p) => p.grad !== null && p.grad.abs().sum().item() === 0), 'zeroed, not cleared');
  m.zeroGrad();
  assert.ok(m.parameters().every((p) => p.grad === null));
  assert.equal(m.parameters({ recurse: false }).length, 0);
  refuses(() => [...m.namedParameters({ remove_duplicate: false } as never)], /did you mean removeDuplicate\?/);
  refuses(() => m.numParameters({ trainable_only: true } as never), /did you mean trainableOnly\?/);
});

test('init functions take PyTorch\'s positional and keyword forms: kaimingUniform_(w, √5) is Linear\'s init', () => {
  const w = zeros([400, 100]);
  nn.init.kaimingUniform_(w, Math.sqrt(5)); // positional a: U(±1/√fan_in) = U(±0.1)
  const max = w.abs().max().item();
  assert.ok(max <= 0.1 && max > 0.099, `bound ${max}`);
  nn.init.kaimingUniform_(w, { a: Math.sqrt(5), mode: 'fan_out' }); // U(±1/√400)
  assert.ok(w.abs().max().item() <= 0.05 + 1e-7);
  nn.init.normal_(w, { std: 0.02 });
  const std = Math.sqrt(w.square().mean().item());
  assert.ok(Math.abs(std - 0.02) < 0.001, `std ${std}`);
  nn.init.uniform_(w, { a: -0.5, b: 0.5 });
  assert.ok(w.abs().max().item() <= 0.5);
  nn.init.xavierUniform_(w, { gain: 2 });
  assert.ok(w.abs().max().item() <= 2 * Math.sqrt(6 / 500) + 1e-7);
  nn.init.truncNormal_(w, { std: 0.02, a: -0.04, b: 0.04 });
  assert.ok(w.abs().max().item() <= 0.04 + 1e-7);
  refuses(() => nn.init.normal_(w, { sd: 0.02 } as never), /init\.normal_: unknown option "sd" \(did you mean std\?\)/);
  refuses(() => nn.init.kaimingUniform_(w, { mode: 'fanin' } as never), /mode must be 'fan_in' or 'fan_out', got "fanin"/);
  refuses(() => nn.init.uniform_(w, 'a' as never), /init\.uniform_: a must be a number, got "a"/);
});

test('F functions check their options; clipGradNorm_ takes normType positionally (PyTorch\'s clip_grad_norm_(ps, 1.0, 2.0))', () => {
  manualSeed(3);
  const x = randn([4, 5]), t = tensor([0, 2, 4, 1], { dtype: 'int64' });
  refuses(() => F.crossEntropy(x, t, { ignore_index: 0 } as never), /F\.crossEntropy: unknown option "ignore_index" \(did you mean ignoreIndex\?\)/);
  refuses(() => F.crossEntropy(x, t, zeros([5]) as never), /class weights \(PyTorch's weight\) are not supported/);
  refuses(() => F.mseLoss(x, x, { reductio: 'sum' } as never), /F\.mseLoss: unknown option "reductio" \(did you mean reduction\?\)/);
  refuses(() => F.gelu(x, { approx: 'tanh' } as never), /F\.gelu: unknown option "approx"/);
  assertClose(F.gelu(x, 'tanh'), x.gelu('tanh'), { rtol: 0, atol: 0 }, 'positional approximate');
  assert.equal(F.dropout(x, { p: 0.5, training: false }), x);
  refuses(() => F.dropout(x, 0.5, true, true as never), /F\.dropout: inplace = true is not supported/);
  const a = randn([3]).requiresGrad_(true);
  a.mul(tensor([3, -4, 12])).sum().backward(); // grad (3, -4, 12): 2-norm 13, inf-norm 12, 1-norm 19
  assert.equal(Math.round(nn.utils.clipGradNorm_([a], 100, 1).item()), 19);
  assert.equal(Math.round(nn.utils.clipGradNorm_(a, 100, 'inf').item()), 12);
  refuses(() => nn.utils.clipGradNorm_([a], 1, { norm_type: 1 } as never), /did you mean normType\?/);
});

test('nn.Parameter takes requiresGrad positionally or as { requiresGrad } (an object used to count as true)', () => {
  assert.equal(new nn.Parameter(zeros([2]), false).requiresGrad, false);
  assert.equal(new nn.Parameter(zeros([2]), { requiresGrad: false }).requiresGrad, false);
  assert.equal(new nn.Parameter(zeros([2])).requiresGrad, true);
  refuses(() => new nn.Parameter(zeros([2]), { requires_grad: false } as never), /nn\.Parameter: unknown option "requires_grad" \(did you mean requiresGrad\?\)/);
  refuses(() => new nn.Parameter([1, 2] as never), /nn\.Parameter: expected a Tensor to wrap, got an object \(Array\)/);
});
