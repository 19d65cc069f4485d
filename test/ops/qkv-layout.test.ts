/**
 * Problem 2 of DESIGN.md: a blocked packed QKV (GPT-2, MultiheadAttention) must be split with
 * chunk(3) then viewed into heads. Reading it head-interleaved — view(b, s, n_head, 3·head) then
 * split — is the GPT-NeoX convention applied to the wrong tensor: a silent, large error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, loadFixture, maxAbsDiff } from '../helpers/assert.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const { tensors: fx, metadata } = loadFixture('qkv-layout.safetensors');
const b = Number(metadata.b), s = Number(metadata.s), H = Number(metadata.n_head), D = Number(metadata.head);

const heads = (t: Tensor) => t.view([b, s, H, D]).transpose(1, 2); // (B, H, T, D)
const attend = (q: Tensor, k: Tensor, v: Tensor) => q.matmul(k.transpose(-1, -2)).div(Math.sqrt(D)).softmax(-1).matmul(v);

test('the packed projection matches PyTorch', () => {
  assertClose(fx.x.matmul(fx.w.t()), fx.qkv, { rtol: 1e-5, atol: 1e-5 }, 'qkv');
});

test('chunk(3) then view into heads is the right split of a blocked packing, and matches PyTorch', () => {
  const [q, k, v] = fx.qkv.chunk(3, -1).map(heads);
  assertClose(q, fx.q, { rtol: 0, atol: 0 }, 'q');
  assertClose(k, fx.k, { rtol: 0, atol: 0 }, 'k');
  assertClose(v, fx.v, { rtol: 0, atol: 0 }, 'v');
  assertClose(attend(q, k, v), fx.att, { rtol: 1e-5, atol: 1e-6 }, 'attention output');
});

test('view(b, s, n_head, 3·head) then split reproduces the mismatch, exactly as PyTorch computes it', () => {
  const [wq, wk, wv] = fx.qkv.view([b, s, H, 3 * D]).split(D, -1).map((t) => t.transpose(1, 2));
  // qkv reproduces PyTorch's wrong answer bit for bit (it is the same reshape) …
  assertClose(wq, fx.wrong_q, { rtol: 0, atol: 0 }, 'wrong q');
  assertClose(wk, fx.wrong_k, { rtol: 0, atol: 0 }, 'wrong k');
  assertClose(wv, fx.wrong_v, { rtol: 0, atol: 0 }, 'wrong v');
  const wrongAtt = attend(wq, wk, wv);
  assertClose(wrongAtt, fx.wrong_att, { rtol: 1e-5, atol: 1e-6 }, 'wrong attention output');
  // … and it is far from the right one: same shapes, silently different values.
  assert.deepEqual(wq.shape, fx.q.shape);
  const qErr = maxAbsDiff(wq, fx.q), attErr = maxAbsDiff(wrongAtt, fx.att);
  const scale = maxAbsDiff(fx.q, fx.q.mul(0));
  assert.ok(qErr > 0.5 * scale, `wrong q differs by ${qErr} (q magnitude ${scale})`);
  assert.ok(attErr > 0.1, `wrong attention differs by ${attErr}`);
});
