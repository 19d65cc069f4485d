/**
 * Programs from the port list, written the way a PyTorch user writes them — registration
 * by assignment, einops in the attention, topk/multinomial and index assignment in generate —
 * and checked against qkv's own modules, which the parity suites check against PyTorch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nn, models, F, Generator, manualSeed, randn, randint, rearrange, cat, noGrad, tensor } from '../../src/index.js';
import type { Tensor } from '../../src/index.js';

// vit-pytorch's Attention (the W1 block), line by line.
class VitAttention extends nn.Module {
  heads: number;
  scale: number;
  attend = new nn.Softmax(-1);
  dropout: nn.Dropout;
  to_qkv: nn.Linear;
  to_out: nn.Module;
  constructor(dim: number, heads = 8, dim_head = 64, dropout = 0) {
    super();
    const inner_dim = dim_head * heads;
    const project_out = !(heads === 1 && dim_head === dim);
    this.heads = heads;
    this.scale = dim_head ** -0.5;
    this.dropout = new nn.Dropout(dropout);
    this.to_qkv = new nn.Linear(dim, inner_dim * 3, false);
    this.to_out = project_out ? new nn.Sequential(new nn.Linear(inner_dim, dim), new nn.Dropout(dropout)) : new nn.Identity();
  }

  override forward(x: Tensor): Tensor {
    const qkv = this.to_qkv.forward(x).chunk(3, -1);
    const [q, k, v] = qkv.map((t) => rearrange(t, 'b n (h d) -> b h n d', { h: this.heads }));
    const dots = q.matmul(k.transpose(-1, -2)).mul(this.scale);
    let attn = this.attend.forward(dots);
    attn = this.dropout.forward(attn);
    const out = attn.matmul(v);
    return this.to_out.forward(rearrange(out, 'b h n d -> b n (h d)'));
  }
}

test('vit-pytorch Attention ported with einops: same keys, outputs and gradients as nn.Attention', () => {
  manualSeed(3);
  const port = new VitAttention(32, 4, 8);
  const ref = new nn.Attention({ dim: 32, heads: 4, dimHead: 8 });
  assert.deepEqual(Object.keys(port.stateDict()), Object.keys(ref.stateDict()));
  ref.loadStateDict(port.stateDict());
  const x = randn([2, 5, 32], { requiresGrad: true });
  const a = port.forward(x), b = ref.forward(x);
  assert.ok(a.allclose(b, 1e-5, 1e-6));
  a.square().mean().backward();
  const gPort = x.grad!.clone();
  x.grad = null;
  b.square().mean().backward();
  assert.ok(gPort.allclose(x.grad!, 1e-4, 1e-6));
  const refParams = Object.fromEntries(ref.namedParameters());
  for (const [name, p] of port.namedParameters()) assert.ok(p.grad!.allclose(refParams[name].grad!, 1e-4, 1e-6), name);
});

/** nanoGPT's generate(), ported: crop, temperature, topk masking by index assignment, multinomial. */
function nanoGenerate(model: models.GPT, idx: Tensor, max_new_tokens: number, temperature = 1.0, top_k: number | null = null, generator?: Generator): Tensor {
  return noGrad(() => {
    for (let i = 0; i < max_new_tokens; i++) {
      const bs = model.config.blockSize;
      const idx_cond = idx.shape[1] <= bs ? idx : idx.index(':', `${-bs}:`);
      let { logits } = model.forward(idx_cond);
      logits = logits.index(':', -1, ':').div(temperature);
      if (top_k !== null) {
        const [v] = logits.topk(Math.min(top_k, logits.shape[logits.ndim - 1]));
        logits.indexPut_([logits.lt(v.index(':', tensor([-1], { dtype: 'int64' })))], -Infinity);
      }
      const probs = F.softmax(logits, -1);
      const idx_next = probs.multinomial(1, false, generator);
      idx = cat([idx, idx_next], 1);
    }
    return idx;
  });
}

test("nanoGPT's generate ported (topk, index assignment, multinomial) draws what GPT.generate draws", () => {
  manualSeed(5);
  const gpt = new models.GPT({ vocabSize: 20, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16 }).eval();
  const idx = randint(20, [2, 3]);
  const a = nanoGenerate(gpt, idx, 12, 0.9, 5, new Generator(11));
  const b = gpt.generate(idx, 12, { temperature: 0.9, topK: 5, generator: new Generator(11), useCache: false });
  assert.deepEqual(a.toArray(), b.toArray());
  assert.deepEqual(a.shape, [2, 15]);
});
