/**
 * nn.Attention: three storages compute one function; views read and write through; circuits;
 * conversions (exact, and the rank-D factorisation back from merged-qk).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect, manualSeed, nn, noGrad, randn, zeros, ArgumentError } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/assert.js';

const make = (o: Partial<nn.AttentionOptions> = {}) => new nn.Attention({ dim: 24, heads: 3, dimHead: 8, ...o });

/** Output and input gradient of `attn` on x, for a fixed upstream gradient. */
function run(attn: nn.Attention, x: Tensor, gy: Tensor): { y: Tensor; gx: Tensor } {
  const xi = x.detach().clone().requiresGrad_(true);
  const y = attn.forward(xi);
  y.backward(gy);
  return { y: y.detach(), gx: xi.grad! };
}

test('state dict keys per storage are vit-pytorch\'s (or nanoGPT\'s)', () => {
  assert.deepEqual(Object.keys(make().stateDict()), ['to_qkv.weight', 'to_out.0.weight', 'to_out.0.bias']);
  assert.deepEqual(Object.keys(make({ storage: 'separate', qkvBias: true }).stateDict()),
    ['to_q.weight', 'to_q.bias', 'to_k.weight', 'to_k.bias', 'to_v.weight', 'to_v.bias', 'to_out.0.weight', 'to_out.0.bias']);
  assert.deepEqual(Object.keys(make({ storage: 'merged-qk' }).stateDict()), ['W_QK', 'to_v.weight', 'to_out.0.weight', 'to_out.0.bias']);
  assert.deepEqual(Object.keys(make({ keys: 'nanogpt', qkvBias: true }).stateDict()), ['c_attn.weight', 'c_attn.bias', 'c_proj.weight', 'c_proj.bias']);
});

test('conversions between storages keep outputs and input gradients (layouts, biases, causal)', () => {
  for (const [qkvBias, causal, layout] of [[false, false, 'blocked'], [true, true, 'head-interleaved'], [true, false, 'blocked']] as const) {
    manualSeed(1);
    const a = make({ qkvBias, causal, layout });
    const x = randn([2, 7, 24]), gy = randn([2, 7, 24]);
    const ref = run(a, x, gy);
    for (const storage of ['separate', 'merged-qk', 'fused'] as const) {
      const b = a.convert(storage);
      assert.equal(b.storage, storage);
      const r = run(b, x, gy);
      const label = `${storage} (bias ${qkvBias}, causal ${causal}, ${layout})`;
      assertClose(r.y, ref.y, { rtol: 1e-4, atol: 1e-5 }, `${label} output`);
      assertClose(r.gx, ref.gx, { rtol: 1e-4, atol: 1e-5 }, `${label} input gradient`);
      assert.equal(b.conversionReport!.exact, true);
    }
    const other = a.convert('fused', { layout: layout === 'blocked' ? 'head-interleaved' : 'blocked' });
    assertClose(run(other, x, gy).y, ref.y, { rtol: 1e-5, atol: 1e-6 }, 'layout change');
  }
});

test('merged-qk → factored is exact when rank ≤ D, else the best rank-D approximation with its error reported', () => {
  manualSeed(2);
  const a = make({ storage: 'merged-qk' });
  const x = randn([2, 5, 24]), gy = randn([2, 5, 24]);
  const back = a.convert('separate');
  assert.equal(back.conversionReport!.exact, true);
  assert.ok(back.conversionReport!.heads.every((h) => h.rank === 8 && h.relativeError < 1e-5));
  assertClose(run(back, x, gy).y, run(a, x, gy).y, { rtol: 1e-4, atol: 1e-5 }, 'rank-D W_QK round trip');
  // Training-like update: a full-rank W_QK cannot be factored exactly at D = 8 < C = 24.
  noGrad(() => a.W_QK.add_(randn([3, 24, 24]).mul(0.05)));
  const lossy = a.convert('fused');
  const rep = lossy.conversionReport!;
  assert.equal(rep.exact, false);
  assert.ok(rep.heads.every((h) => h.rank === 24));
  assert.ok(rep.maxRelativeError > 0.01 && rep.maxRelativeError < 1, `relative error ${rep.maxRelativeError}`);
  // …and it is the best rank-8 approximation: its QK equals the SVD truncation (Eckart–Young),
  // and the reported error is the actual one.
  const W = a.W_QK.select(0, 0).double();
  const best = inspect.lowRankFactor(W, 8);
  const got = lossy.QK(0).AB.double();
  assertClose(got, best.left.matmul(best.right), { rtol: 1e-4, atol: 1e-5 }, 'rank-8 truncation');
  const actual = got.sub(W).norm().item() / W.norm().item();
  assert.ok(Math.abs(actual - rep.heads[0].relativeError) < 1e-4, `actual ${actual} vs reported ${rep.heads[0].relativeError}`);
});

test('views read the storage: W_Q, W_K, W_V (H, C, D), W_O (H, D, C), QK and OV circuits', () => {
  manualSeed(3);
  for (const a of [make({ qkvBias: true }), make({ storage: 'separate', qkvBias: true }), make({ layout: 'head-interleaved', qkvBias: true })]) {
    assert.deepEqual([a.W_Q.shape, a.W_K.shape, a.W_V.shape, a.W_O.shape], [[3, 24, 8], [3, 24, 8], [3, 24, 8], [3, 8, 24]]);
    // Recompute one head's output from the views alone.
    const x = randn([1, 4, 24]);
    const h = 1;
    const q = x.matmul(a.W_Q.select(0, h)).add(a.b_Q!.select(0, h));
    const k = x.matmul(a.W_K.select(0, h)).add(a.b_K!.select(0, h));
    const v = x.matmul(a.W_V.select(0, h)).add(a.b_V!.select(0, h));
    const z = q.matmul(k.mT).div(Math.sqrt(8)).softmax(-1).matmul(v); // (1, 4, 8)
    // Output = Σ_h z_h W_O[h] + b_O: zero every other head's W_O and compare.
    const b = a.convert(a.storage, { layout: a.layout });
    noGrad(() => { for (let o = 0; o < 3; o++) if (o !== h) b.head(o).W_O = zeros([8, 24]); });
    assertClose(b.forward(x), z.matmul(a.W_O.select(0, h)).add(a.b_O!), { rtol: 1e-4, atol: 1e-5 }, `${a.storage}/${a.layout} head ${h}`);
    // Circuits: QK(h) = W_Q W_Kᵀ and OV(h) = W_V W_O, factored, same as materialised.
    assertClose(a.QK(h).AB, a.W_Q.select(0, h).matmul(a.W_K.select(0, h).t()), { rtol: 1e-5, atol: 1e-6 }, 'QK');
    assertClose(a.OV(h).AB, a.W_V.select(0, h).matmul(a.W_O.select(0, h)), { rtol: 1e-5, atol: 1e-6 }, 'OV');
    assert.deepEqual(a.QK().shape, [3, 24, 24]);
    assertClose(a.QK(h).norm(), a.QK(h).AB.norm(), { rtol: 1e-4 }, 'QK norm without materialising');
  }
});

test('writing a view changes the model, whatever the storage', () => {
  manualSeed(4);
  for (const storage of ['fused', 'separate'] as const) {
    const a = make({ storage });
    const x = randn([1, 3, 24]);
    const before = a.forward(x).detach();
    const w = randn([24, 8]);
    a.head(2).W_Q = w; // assignment copies into the packed or separate weight
    assertClose(a.W_Q.select(0, 2), w, { rtol: 0, atol: 0 }, `${storage} W_Q write-through`);
    const row = storage === 'fused' ? a.getSubmodule('to_qkv') as nn.Linear : a.getSubmodule('to_q') as nn.Linear;
    assertClose(row.weight.narrow(0, 16, 8).t(), w, { rtol: 0, atol: 0 }, `${storage}: the Linear's rows for head 2 changed`);
    assert.ok(a.forward(x).sub(before).abs().max().item() > 1e-3, `${storage}: output did not change`);
    noGrad(() => a.W_V.zero_()); // in-place on a view inside noGrad
    assert.ok(a.forward(x).sub(a.b_O!).abs().max().item() < 1e-6, 'zero W_V gives the output bias only');
  }
  const m = make({ storage: 'merged-qk' });
  assert.throws(() => m.W_Q, (e: Error) => e instanceof ArgumentError && /not stored in 'merged-qk' storage/.test(e.message));
  assert.throws(() => { make().head(0).W_O = zeros([24, 8]); }, /head\(0\)\.W_O has shape \[8,24\]; cannot assign a tensor of shape \[24,8\]/);
});

test('init: every storage starts from Linear\'s U(±1/√C); merged-qk as a product of such draws', () => {
  manualSeed(5);
  const C = 64, bound = 1 / Math.sqrt(C);
  const f = new nn.Attention({ dim: C, heads: 4, dimHead: 16 });
  const s = new nn.Attention({ dim: C, heads: 4, dimHead: 16, storage: 'separate' });
  for (const w of [f.W_Q, f.W_K, f.W_V, s.W_Q, s.W_K, s.W_V]) assert.ok(w.abs().max().item() <= bound && w.abs().max().item() > 0.98 * bound);
  const m = new nn.Attention({ dim: C, heads: 4, dimHead: 16, storage: 'merged-qk' });
  // Entries of W_Q W_Kᵀ with D = 16 terms of variance (b²/3)² each: std √16 · b²/3.
  const std = m.W_QK.std().item();
  assert.ok(Math.abs(std / (4 * bound * bound / 3) - 1) < 0.05, `W_QK std ${std}`);
  assert.ok(new nn.Attention({ dim: C, heads: 4, dimHead: 16, storage: 'merged-qk' }).QK(0).singularValues().toFlat()[16] < 1e-5, 'rank ≤ D at init');
});

test('KV cache: attending step by step equals one causal pass', () => {
  manualSeed(6);
  for (const storage of ['fused', 'merged-qk'] as const) {
    const a = make({ storage, causal: true, qkvBias: true });
    const x = randn([2, 6, 24]);
    const full = a.forward(x);
    const cache: nn.AttentionCache = { k: null, v: null };
    const first = a.forward(x.narrow(1, 0, 4), { cache });
    const rest = [4, 5].map((t) => a.forward(x.narrow(1, t, 1), { cache }));
    assertClose(first, full.narrow(1, 0, 4), { rtol: 1e-5, atol: 1e-6 }, `${storage} prefix`);
    rest.forEach((r, i) => assertClose(r, full.narrow(1, 4 + i, 1), { rtol: 1e-5, atol: 1e-6 }, `${storage} step ${4 + i}`));
  }
});

test('bad arguments are named', () => {
  assert.throws(() => make().forward(randn([2, 5, 23])), /Attention: expected input \(B, T, 24\), got \[2,5,23\]/);
  assert.throws(() => new nn.Attention({ dim: 8, storage: 'packed' as never }), /storage must be one of fused, separate, merged-qk/);
  assert.throws(() => make().head(3), /head 3 is out of range for 3 heads/);
  assert.throws(() => make().W_QK, /W_QK is a parameter only in 'merged-qk' storage/);
  assert.throws(() => new nn.Attention({ dim: 8, layout: 'neox' as never }), /unknown QKV layout "neox"/);
});
