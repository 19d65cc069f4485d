/** models.GPT: nanoGPT parity, init, tying, weight-decay groups, generation with a KV cache, save/load. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, models, nn, noGrad, optim, randint, tensor, Generator } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, loadFixture } from '../helpers/assert.js';

const { tensors: fx, metadata } = loadFixture('gpt.safetensors');
const cfg = JSON.parse(metadata.config) as models.GPTConfig;
const state = Object.fromEntries(Object.entries(fx).filter(([k]) => k.startsWith('state.')).map(([k, v]) => [k.slice(6), v]));

test('a nanoGPT state dict loads strictly; logits, loss and gradients (tied ones summed) match PyTorch', () => {
  for (const attention of ['fused', 'separate', 'merged-qk'] as const) {
    const g = new models.GPT({ ...cfg, attention: 'fused' });
    g.loadStateDict(state);
    const m = attention === 'fused' ? g : convertAttention(g, attention);
    const { logits, loss } = m.forward(fx.idx, fx.targets);
    assertClose(logits, fx.logits, { rtol: 1e-4, atol: 1e-5 }, `${attention} logits`);
    assert.ok(Math.abs(loss!.item() - fx.loss.item()) < 1e-5, `${attention} loss ${loss!.item()} vs ${fx.loss.item()}`);
    if (attention !== 'fused') continue;
    loss!.backward();
    for (const [k, p] of g.namedParameters()) assertClose(p.grad!, fx[`grad.${k}`], { rtol: 1e-3, atol: 1e-5 }, `grad ${k}`);
    // The tied parameter's gradient is the sum of its two uses (PyTorch lists it once, under wte).
    assert.equal(g.wte.weight, g.lm_head.weight);
  }
});

/** The same GPT with another attention storage (each block's Attention converted). */
function convertAttention(g: models.GPT, storage: nn.AttentionStorage): models.GPT {
  const sd: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(g.stateDict())) if (!k.includes('.attn.')) sd[k] = v;
  [...g.blocks].forEach((b, i) => {
    for (const [k, v] of Object.entries(b.attn.convert(storage).stateDict())) sd[`transformer.h.${i}.attn.${k}`] = v;
  });
  const m = new models.GPT({ ...cfg, attention: storage });
  m.loadStateDict(sd);
  return m;
}

test('nanoGPT init: N(0, 0.02), residual projections 0.02/√(2·nLayer), zero biases, tied head', () => {
  manualSeed(0);
  const g = new models.GPT({ vocabSize: 512, blockSize: 64, nLayer: 8, nHead: 4, nEmbd: 128 });
  const std = (t: Tensor) => t.std().item();
  assert.ok(Math.abs(std(g.wte.weight) / 0.02 - 1) < 0.02);
  assert.ok(Math.abs(std(g.blocks[3].mlp.c_fc.weight) / 0.02 - 1) < 0.03);
  assert.ok(Math.abs(std(g.blocks[3].mlp.c_proj.weight) / (0.02 / 4) - 1) < 0.03);
  assert.ok(Math.abs(std(g.blocks[0].attn.outProj.weight) / (0.02 / 4) - 1) < 0.05);
  assert.equal(g.blocks[0].attn.outProj.bias!.abs().max().item(), 0);
  assert.equal(g.lm_head.weight, g.wte.weight);
});

test('tying: counted once, one optimizer entry, gradients add up, updated once per step', () => {
  const c = { vocabSize: 20, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16 };
  manualSeed(1);
  const tied = new models.GPT(c);
  manualSeed(1);
  const untied = new models.GPT({ ...c, tieWeights: false });
  assert.equal(untied.numParameters() - tied.numParameters(), 20 * 16);
  assert.equal(tied.parameters().filter((p) => p === tied.wte.weight).length, 1);
  assert.deepEqual(Object.keys(tied.stateDict()).filter((k) => k.includes('wte') || k.includes('lm_head')), ['transformer.wte.weight', 'lm_head.weight']);
  // Gradient of the tied weight = embedding-use gradient + head-use gradient (measured on the untied twin).
  noGrad(() => untied.lm_head.weight.copy_(untied.wte.weight));
  tied.loadStateDict(untied.stateDict());
  const idx = randint(20, [2, 8]), tgt = randint(20, [2, 8]);
  tied.forward(idx, tgt).loss!.backward();
  untied.forward(idx, tgt).loss!.backward();
  assertClose(tied.wte.weight.grad!, untied.wte.weight.grad!.add(untied.lm_head.weight.grad!), { rtol: 1e-5, atol: 1e-7 }, 'tied grad = sum');
  // One SGD step moves the shared weight once, by lr × the summed gradient.
  const before = tied.wte.weight.detach().clone();
  new optim.SGD(tied.parameters(), { lr: 0.5 }).step();
  assertClose(tied.wte.weight, before.sub(tied.wte.weight.grad!.mul(0.5)), { rtol: 1e-6, atol: 1e-7 }, 'one update');
  const opt = tied.configureOptimizers({ weightDecay: 0.1 });
  const [decay, noDecay] = opt.paramGroups;
  assert.ok(decay.params.every((p) => p.ndim >= 2) && noDecay.params.every((p) => p.ndim < 2));
  assert.equal(decay.params.length + noDecay.params.length, tied.parameters().length);
  assert.equal(tied.numParameters({ nonEmbedding: true }), tied.numParameters() - 8 * 16);
});

test('generation with the KV cache equals full recomputation (greedy and sampled, past the block size)', () => {
  for (const attention of ['fused', 'merged-qk'] as const) {
    manualSeed(2);
    const g = new models.GPT({ vocabSize: 30, blockSize: 10, nLayer: 2, nHead: 2, nEmbd: 16, attention }).eval();
    const prompt = randint(30, [2, 4]);
    const greedy = g.generate(prompt, 12, { temperature: 0 });
    assert.deepEqual(greedy.toArray(), g.generate(prompt, 12, { temperature: 0, useCache: false }).toArray(), `${attention} greedy`);
    const a = g.generate(prompt, 12, { temperature: 0.8, topK: 5, generator: new Generator(7) });
    const b = g.generate(prompt, 12, { temperature: 0.8, topK: 5, generator: new Generator(7), useCache: false });
    assert.deepEqual(a.toArray(), b.toArray(), `${attention} sampled`);
    assert.deepEqual(a.shape, [2, 16]);
    // Step logits: the cached last-position logits equal the full forward's.
    const cache = g.createCache();
    const seq = greedy.narrow(1, 0, 8);
    g.forward(seq.narrow(1, 0, 7), null, { cache });
    const step = g.forward(seq.narrow(1, 7, 1), null, { cache }).logits;
    assertClose(step.select(1, 0), g.forward(seq).logits.select(1, 7), { rtol: 1e-4, atol: 1e-5 }, `${attention} cached logits`);
  }
});

test('errors: too long a sequence, bad config', () => {
  const g = new models.GPT({ vocabSize: 10, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 8 });
  assert.throws(() => g.forward(tensor([[1, 2, 3, 4, 5]], { dtype: 'int64' })), /cannot forward a sequence of length 5; the block size is only 4/);
  assert.throws(() => new models.GPT({ vocabSize: 10, blockSize: 4, nLayer: 1, nHead: 3, nEmbd: 8 }), /nEmbd 8 must be divisible by nHead 3/);
  assert.throws(() => g.forward(tensor([[1, 12]], { dtype: 'int64' })), /embedding: index 12 at position 1 is out of range for a dim of size 10/);
});
