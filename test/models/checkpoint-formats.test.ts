/** GPT checkpoints in nanoGPT and HF GPT-2 layouts: import, export, round trip through files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { io, manualSeed, models, randint, tensor } from '../../src/index.js';
import { fromHFGPT2, toGPTNeoX, toHFGPT2 } from '../../src/io/key-maps.js';
import { gptFromGPTNeoX, gptFromHFGPT2, gptFromNanoGPT, inferGPTConfig } from '../../src/models/pretrained.js';
import { assertClose, loadFixture } from '../helpers/assert.js';

test('an HF GPT-2 checkpoint (Conv1D weights, buffers, no lm_head) gives PyTorch\'s logits', () => {
  const { tensors, metadata } = loadFixture('hf-gpt2.safetensors');
  const ref = loadFixture('hf-gpt2-reference.safetensors').tensors;
  assert.ok(!('lm_head.weight' in tensors) && 'transformer.h.0.attn.bias' in tensors);
  const g = gptFromHFGPT2(tensors, JSON.parse(metadata.config));
  assert.equal(g.config.activation, 'gelu_tanh');
  assert.equal(g.lm_head.weight, g.wte.weight);
  assertClose(g.forward(ref.idx).logits, ref.logits, { rtol: 1e-4, atol: 1e-5 }, 'logits');
  // Export back to HF names: the Conv1D orientation is restored exactly.
  const back = toHFGPT2(g.stateDict());
  assertClose(back['transformer.h.1.mlp.c_fc.weight'], tensors['transformer.h.1.mlp.c_fc.weight'], { rtol: 0, atol: 0 }, 'c_fc round trip');
  assert.deepEqual(back['transformer.h.0.attn.c_attn.weight'].shape, [32, 96]);
});

test('a nanoGPT checkpoint (torch.compile prefix, mask buffers) loads, with the architecture read off the shapes', () => {
  const { tensors, metadata } = loadFixture('gpt.safetensors');
  const cfg = JSON.parse(metadata.config);
  const sd: Record<string, typeof tensors.idx> = {};
  for (const [k, v] of Object.entries(tensors)) if (k.startsWith('state.')) sd[`_orig_mod.${k.slice(6)}`] = v;
  sd['_orig_mod.transformer.h.0.attn.bias'] = tensor([1]).reshape([1, 1, 1, 1]);
  const g = gptFromNanoGPT(sd, { nHead: cfg.nHead });
  for (const [k, v] of Object.entries({ ...cfg, bias: true, tieWeights: true })) assert.equal(g.config[k as keyof typeof g.config], v, k);
  assertClose(g.forward(tensors.idx, tensors.targets).logits, tensors.logits, { rtol: 1e-4, atol: 1e-5 }, 'logits');
  assert.throws(() => inferGPTConfig(g.stateDict(), { nHead: 0 }), /nHead must be given/);
});

test('a GPT round-trips through HF-named safetensors files', () => {
  manualSeed(3);
  const g = new models.GPT({ vocabSize: 20, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16, activation: 'gelu_tanh' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-hf-'));
  const file = path.join(dir, 'model.safetensors');
  const hf = toHFGPT2(g.stateDict());
  delete hf['lm_head.weight']; // as HF writes a tied GPT-2
  io.saveFile(file, hf);
  const back = gptFromHFGPT2(io.loadFile(file).tensors, { n_head: 2 });
  const idx = randint(20, [2, 8]);
  assertClose(back.forward(idx).logits, g.forward(idx).logits, { rtol: 0, atol: 0 }, 'logits');
  const q = fromHFGPT2(hf);
  assert.equal(q['lm_head.weight'], q['transformer.wte.weight'], 'a missing lm_head is tied to wte');
  fs.rmSync(dir, { recursive: true });
});

test('GPT-NeoX / Pythia checkpoints (interleaved QKV, partial rotary, parallel or sequential residual) give PyTorch\'s logits', () => {
  const { tensors, metadata } = loadFixture('hf-neox.safetensors');
  const configs = JSON.parse(metadata.configs);
  for (const name of ['pythia', 'sequential']) {
    const sd = Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith(`${name}.`) && !k.startsWith(`${name}.ref.`)).map(([k, v]) => [k.slice(name.length + 1), v]));
    const g = gptFromGPTNeoX(sd, configs[name]);
    assert.equal(g.config.layout, 'head-interleaved');
    assert.equal(g.blocks[0].attn.rotary!.dims, name === 'pythia' ? 2 : 4);
    assertClose(g.forward(tensors[`${name}.ref.idx`]).logits, tensors[`${name}.ref.logits`], { rtol: 1e-4, atol: 1e-5 }, `${name} logits`);
    // Back to NeoX names: every parameter, same tensors.
    const back = toGPTNeoX(g.stateDict());
    const params = Object.keys(sd).filter((k) => !/attention\.(bias|masked_bias|rotary_emb)/.test(k)).sort();
    assert.deepEqual(Object.keys(back).sort(), params);
    for (const k of params) assertClose(back[k], sd[k], { rtol: 0, atol: 0 }, k);
    // Generation with the KV cache is consistent with recomputation under rotary positions.
    g.eval();
    const p = tensors[`${name}.ref.idx`].narrow(1, 0, 3);
    assert.deepEqual(g.generate(p, 6, { temperature: 0 }).toArray(), g.generate(p, 6, { temperature: 0, useCache: false }).toArray());
  }
});
