/** Forward hooks on any module, and TransformerLens-style runWithCache on models.GPT. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect, manualSeed, models, nn, noGrad, randint, randn, zeros } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/assert.js';

const cfg = { vocabSize: 40, blockSize: 12, nLayer: 2, nHead: 4, nEmbd: 32 };

test('runWithCache records the residual stream, per-head q/k/v/z, patterns and MLP activations', () => {
  manualSeed(0);
  const g = new models.GPT(cfg).eval();
  const idx = randint(40, [2, 9]);
  const plain = g.forward(idx).logits;
  const { output, cache } = inspect.runWithCache(g, [idx]);
  assertClose(output.logits, plain, { rtol: 1e-5, atol: 1e-6 }, 'caching does not change the output');
  assert.ok(!g.blocks[0].attn.hook_pattern.hasHooks(), 'hooks are removed afterwards');
  assert.deepEqual(cache.get('transformer.h.1.attn.hook_q').shape, [2, 9, 4, 8]); // (B, T, H, D)
  assert.deepEqual(cache.pattern(0).shape, [2, 4, 9, 9]);
  assert.deepEqual(cache.get('blocks.0.mlp.hook_post').shape, [2, 9, 128]); // TransformerLens spelling
  // The stream leaving block 0 enters block 1.
  assertClose(cache.resid(1, 'pre'), cache.resid(0, 'post'), { rtol: 0, atol: 0 }, 'resid');
  // resid_mid = resid_pre + attn_out; resid_post = resid_mid + mlp_out.
  assertClose(cache.resid(0, 'mid'), cache.resid(0, 'pre').add(cache.get('blocks.0.hook_attn_out')), { rtol: 1e-6, atol: 1e-6 }, 'mid');
  assertClose(cache.resid(0, 'post'), cache.resid(0, 'mid').add(cache.get('blocks.0.hook_mlp_out')), { rtol: 1e-6, atol: 1e-6 }, 'post');
  // Patterns are causal distributions.
  const p = cache.pattern(1);
  assertClose(p.sum(-1), p.sum(-1).mul(0).add(1), { rtol: 1e-5, atol: 1e-5 }, 'rows sum to 1');
  assert.equal(p.triu(1).abs().max().item(), 0);
  // hook_q of a head is ln_1(resid_pre) @ W_Q[h] + b_Q[h]: the weight views and the cache agree.
  const attn = g.blocks[0].attn;
  const xn = g.blocks[0].ln_1.forward(cache.resid(0, 'pre'));
  assertClose(cache.get('blocks.0.attn.hook_q').select(2, 3), xn.matmul(attn.W_Q.select(0, 3)).add(attn.b_Q!.select(0, 3)), { rtol: 1e-4, atol: 1e-5 }, 'q head 3');
  assert.throws(() => cache.get('blocks.0.attn.hook_nope'), /no activation named "blocks\.0\.attn\.hook_nope"/);
  const only = inspect.runWithCache(g, [idx], { names: (n) => n.endsWith('hook_pattern') }).cache;
  assert.equal(only.keys().length, 2);
});

test('a forward hook can replace an activation: ablating a head via hook_z equals zeroing its W_O', () => {
  manualSeed(1);
  const g = new models.GPT(cfg).eval();
  const idx = randint(40, [1, 7]);
  const h = g.blocks[1].attn.hook_z.registerForwardHook((_m, _a, z) => {
    const zz = (z as Tensor).clone();
    noGrad(() => zz.select(2, 2).zero_()); // (B, T, H, D): head 2
    return zz;
  });
  const ablated = g.forward(idx).logits;
  h.remove();
  const clean = g.forward(idx).logits;
  assert.ok(ablated.sub(clean).abs().max().item() > 1e-4);
  g.blocks[1].attn.head(2).W_O = zeros([8, 32]);
  assertClose(g.forward(idx).logits, ablated, { rtol: 1e-4, atol: 1e-5 }, 'ablation');
});

test('forward hooks on any module see (module, args, output) and are removable', () => {
  manualSeed(2);
  const seq = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU());
  const seen: string[] = [];
  const handle = seq[0].registerForwardHook((m, args, out) => {
    seen.push(`${m.constructor.name} ${(args[0] as Tensor).shape} → ${(out as Tensor).shape}`);
  });
  seq.forward(randn([2, 3]));
  handle.remove();
  seq.forward(randn([2, 3]));
  assert.deepEqual(seen, ['Linear 2,3 → 2,4']);
  const doubled = seq.registerForwardHook((_m, _a, out) => (out as Tensor).mul(2));
  const x = randn([2, 3]);
  const y2 = seq.forward(x) as Tensor;
  doubled.remove();
  assertClose(y2, (seq.forward(x) as Tensor).mul(2), { rtol: 0, atol: 0 }, 'replaced output');
  assert.ok(!Object.prototype.hasOwnProperty.call(seq, 'forward'), 'the instance forward is gone when no hook is left');
});
