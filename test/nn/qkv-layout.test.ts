/**
 * Packed-QKV layouts as data: GPT-2's blocked Conv1D projection and GPT-NeoX's head-interleaved
 * Linear projection, from PyTorch fixtures computed the way HF's attention code does, give
 * PyTorch's q, k, v per head; reading one layout as the other reproduces problem 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, nn, randn, manualSeed } from '../../src/index.js';
import { assertClose, loadFixture, maxAbsDiff } from '../helpers/assert.js';

const { tensors: fx, metadata } = loadFixture('hf-layouts.safetensors');
const H = Number(metadata.n_head);

test('GPT-2 (Conv1D [in, out], blocked): fromConv1D + splitHeads(blocked) gives HF\'s q, k, v', () => {
  const packed = F.linear(fx.x, nn.fromConv1D(fx['gpt2.c_attn.weight']), fx['gpt2.c_attn.bias']);
  const [q, k, v] = nn.splitHeads(packed, H, 'blocked');
  assertClose(q, fx['gpt2.q'], { rtol: 1e-5, atol: 1e-6 }, 'q');
  assertClose(k, fx['gpt2.k'], { rtol: 1e-5, atol: 1e-6 }, 'k');
  assertClose(v, fx['gpt2.v'], { rtol: 1e-5, atol: 1e-6 }, 'v');
  const [wq] = nn.splitHeads(packed, H, 'head-interleaved');
  assert.ok(maxAbsDiff(wq, fx['gpt2.q']) > 0.3, 'the wrong layout must differ');
});

test('GPT-NeoX (head-interleaved): splitHeads(head-interleaved) gives HF\'s q, k, v; the blocked reading does not', () => {
  const packed = F.linear(fx.x, fx['neox.query_key_value.weight'], fx['neox.query_key_value.bias']);
  const [q, k, v] = nn.splitHeads(packed, H, 'head-interleaved');
  assertClose(q, fx['neox.q'], { rtol: 1e-5, atol: 1e-6 }, 'q');
  assertClose(k, fx['neox.k'], { rtol: 1e-5, atol: 1e-6 }, 'k');
  assertClose(v, fx['neox.v'], { rtol: 1e-5, atol: 1e-6 }, 'v');
  const [bq, bk] = nn.splitHeads(packed, H, 'blocked');
  assert.ok(maxAbsDiff(bq, fx['neox.q']) > 0.3 && maxAbsDiff(bk, fx['neox.k']) > 0.3, 'the wrong layout must differ');
});

test('converting a packed weight between layouts is exact, and the result splits the same', () => {
  const w = fx['neox.query_key_value.weight'], b = fx['neox.query_key_value.bias'];
  const wb = nn.convertPackedLayout(w, H, 'head-interleaved', 'blocked');
  const bb = nn.convertPackedLayout(b, H, 'head-interleaved', 'blocked');
  const [q] = nn.splitHeads(F.linear(fx.x, wb, bb), H, 'blocked');
  assertClose(q, fx['neox.q'], { rtol: 1e-5, atol: 1e-6 }, 'q after conversion');
  assertClose(nn.convertPackedLayout(wb, H, 'blocked', 'head-interleaved'), w, { rtol: 0, atol: 0 }, 'round trip');
});

test('per-head weights and an Attention module read either layout by construction', () => {
  const w = fx['neox.query_key_value.weight'];
  const [WQ, WK] = nn.perHeadWeights(w, H, 'head-interleaved'); // (H, C, D)
  // q_h = x W_Q[h] (+ bias): compare without bias against a bias-free projection.
  const [q0] = nn.splitHeads(F.linear(fx.x, w), H, 'head-interleaved');
  assertClose(fx.x.matmul(WQ.select(0, 2)), q0.select(1, 2), { rtol: 1e-5, atol: 1e-6 }, 'W_Q head 2');
  const attn = new nn.Attention({ dim: w.shape[1], heads: H, dimHead: w.shape[0] / (3 * H), layout: 'head-interleaved', qkvBias: true });
  attn.getSubmodule('to_qkv').loadStateDict({ weight: w, bias: fx['neox.query_key_value.bias'] });
  assertClose(attn.W_K, WK, { rtol: 0, atol: 0 }, 'module W_K');
  assertClose(attn.b_Q!, fx['neox.query_key_value.bias'].view([H, 3, -1]).select(1, 0), { rtol: 0, atol: 0 }, 'module b_Q');
});

test('packHeads inverts splitHeads; mergeHeads is head-major; bad widths are named', () => {
  manualSeed(0);
  const p = randn([2, 5, 3 * 4 * 6]);
  for (const layout of ['blocked', 'head-interleaved'] as const) {
    const [q, k, v] = nn.splitHeads(p, 4, layout);
    assertClose(nn.packHeads(q, k, v, layout), p, { rtol: 0, atol: 0 }, layout);
  }
  const z = randn([2, 4, 5, 6]);
  assertClose(nn.mergeHeads(z).view([2, 5, 4, 6]).transpose(1, 2), z, { rtol: 0, atol: 0 }, 'mergeHeads');
  assert.throws(() => nn.splitHeads(randn([2, 5, 70]), 4, 'blocked'), /packed width 70 \(shape \[2,5,70\]\) is not 3 × nHeads \(4\) × headDim/);
});

test('splitPacked: the q, k, v rows of a packed weight and bias, per layout, match HF\'s per-head q, k, v', () => {
  for (const [prefix, w, b, layout] of [
    ['gpt2', nn.fromConv1D(fx['gpt2.c_attn.weight']), fx['gpt2.c_attn.bias'], 'blocked'],
    ['neox', fx['neox.query_key_value.weight'], fx['neox.query_key_value.bias'], 'head-interleaved'],
  ] as const) {
    const ws = nn.splitPacked(w, H, layout), bs = nn.splitPacked(b, H, layout);
    (['q', 'k', 'v'] as const).forEach((role, j) => {
      // A separate projection with these rows, viewed into heads, is HF's q / k / v.
      const y = F.linear(fx.x, ws[j], bs[j]); // (B, T, H·D)
      const [B, T, HD] = y.shape;
      const heads = y.view([B, T, H, HD / H]).transpose(1, 2);
      assertClose(heads, fx[`${prefix}.${role}`], { rtol: 1e-5, atol: 1e-6 }, `${prefix} ${role}`);
    });
  }
  // Blocked parts are views of the packed tensor (writes go through); bad widths are refused.
  const w = randn([12, 5]);
  assert.equal(nn.splitPacked(w, 2, 'blocked')[1].storage, w.storage);
  assert.throws(() => nn.splitPacked(randn([10, 5]), 2, 'blocked'), /splitPacked: packed width 10 .* is not 3 × nHeads \(2\)/);
  assert.throws(() => nn.splitPacked(w, 2, 'interleaved' as nn.QKVLayout), /unknown QKV layout "interleaved"/);
});

test('MultiheadAttention splits in_proj_weight and in_proj_bias through the blocked layout: rows [0,E), [E,2E), [2E,3E)', () => {
  manualSeed(3);
  const mha = new nn.MultiheadAttention(8, 2);
  nn.init.normal_(mha.in_proj_bias!);
  const [wq, wk, wv] = mha.projectionWeights();
  const [bq, , bv] = mha.projectionBiases();
  assert.deepEqual(wk.toArray(), mha.in_proj_weight!.narrow(0, 8, 8).toArray());
  assert.deepEqual(wv.toArray(), mha.in_proj_weight!.narrow(0, 16, 8).toArray());
  assert.deepEqual(wq.toArray(), mha.in_proj_weight!.narrow(0, 0, 8).toArray());
  assert.deepEqual(bq!.toArray(), mha.in_proj_bias!.narrow(0, 0, 8).toArray());
  assert.deepEqual(bv!.toArray(), mha.in_proj_bias!.narrow(0, 16, 8).toArray());
  assert.equal(wq.storage, mha.in_proj_weight!.storage);
  const noBias = new nn.MultiheadAttention(8, 2, { bias: false });
  assert.deepEqual(noBias.projectionBiases(), [null, null, null]);
});
