/**
 * models.GPT's config and methods check their options: nanoGPT's snake_case (`{ n_layer: 4 }`)
 * used to be ignored (the model silently got no layers' worth of config); now it is an error
 * naming nLayer. nanoGPT's positional forms (generate(idx, n, temperature, top_k),
 * configure_optimizers(weight_decay, learning_rate, betas)) take effect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, models, randint, ArgumentError, Generator } from '../../src/index.js';

const cfg = { vocabSize: 30, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16 };

function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof ArgumentError && re.test(e.message), `expected ArgumentError matching ${re}`);
}

test('GPT config: nanoGPT\'s snake_case keys and typos are refused naming the camelCase key; values are type-checked', () => {
  refuses(() => new models.GPT({ ...cfg, n_layer: 4 } as never), /GPT config: unknown option "n_layer" \(did you mean nLayer\?\)/);
  refuses(() => new models.GPT({ vocab_size: 30, block_size: 8, n_layer: 2, n_head: 2, n_embd: 16 } as never), /did you mean vocabSize\?/);
  refuses(() => new models.GPT({ ...cfg, tieWeight: false } as never), /did you mean tieWeights\?/);
  refuses(() => new models.GPT({ ...cfg, bias: 'no' } as never), /GPT config: bias must be true or false, got "no"/);
  refuses(() => new models.GPT({ ...cfg, attention: 'merged' } as never), /config\.attention must be one of fused, separate, merged-qk, got "merged"/);
  refuses(() => new models.GPT({ ...cfg, layout: 'neox' } as never), /GPT config: unknown QKV layout "neox"/);
  refuses(() => new models.GPT({ ...cfg, dropout: 2 }), /dropout must be a number in \[0, 1\], got 2/);
  refuses(() => new models.GPT(4 as never), /the config must be an object/);
  refuses(() => models.inferGPTConfig({}, { nHead: 2, n_embd: 3 } as never), /inferGPTConfig: unknown option "n_embd" \(did you mean nEmbd\?\)/);
  // Block and MLP take the same (unresolved) config and check it.
  refuses(() => new models.Block({ ...cfg, n_head: 2 } as never), /did you mean nHead\?/);
  assert.equal(new models.Block(cfg).normFirst, true);
});

test('generate takes nanoGPT\'s positional temperature and top_k; options are checked', () => {
  manualSeed(0);
  const g = new models.GPT(cfg).eval();
  const idx = randint(30, [1, 3]);
  const a = g.generate(idx, 4, 0.8, 5, { generator: new Generator(1) });
  const b = g.generate(idx, 4, { temperature: 0.8, topK: 5, generator: new Generator(1) });
  assert.deepEqual(a.toArray(), b.toArray());
  const greedy = g.generate(idx, 3, 0);
  assert.deepEqual(greedy.toArray(), g.generate(idx, 3, { temperature: 0 }).toArray());
  refuses(() => g.generate(idx, 2, { top_k: 5 } as never), /GPT\.generate: unknown option "top_k" \(did you mean topK\?\)/);
  refuses(() => g.generate(idx, 2, 1, 0), /topK must be a positive integer, got 0/);
  refuses(() => g.forward(idx, null, { last_only: true } as never), /GPT\.forward: unknown option "last_only" \(did you mean lastOnly\?\)/);
});

test('configureOptimizers(weight_decay, learning_rate, betas) positionally; numParameters(nonEmbedding) as nanoGPT\'s get_num_params', () => {
  const g = new models.GPT(cfg);
  const opt = g.configureOptimizers(0.2, 1e-3, [0.9, 0.99]);
  assert.deepEqual(opt.paramGroups.map((p) => p.weightDecay), [0.2, 0]);
  assert.equal(opt.paramGroups[0].lr, 1e-3);
  assert.deepEqual(opt.paramGroups[0].betas, [0.9, 0.99]);
  assert.equal(g.configureOptimizers({ lr: 5e-4 }).paramGroups[0].lr, 5e-4);
  refuses(() => g.configureOptimizers({ learning_rate: 1e-3 } as never), /GPT\.configureOptimizers: unknown option "learning_rate"/);
  refuses(() => (g.configureOptimizers as (...a: unknown[]) => unknown)(0.1, 1e-3, [0.9, 0.95], 'cuda'), /deviceType \(PyTorch's device_type\) = "cuda" is not supported/);
  const all = g.numParameters();
  assert.equal(g.numParameters(true), all - cfg.blockSize * cfg.nEmbd);
  assert.equal(g.numParameters({ nonEmbedding: true, trainableOnly: true }), all - cfg.blockSize * cfg.nEmbd);
  refuses(() => g.numParameters({ non_embedding: true } as never), /did you mean nonEmbedding\?/);
});
