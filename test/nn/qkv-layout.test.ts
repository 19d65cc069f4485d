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
