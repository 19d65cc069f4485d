/**
 * TransformerLens-style interventions through hooks, without overwriting any forward:
 * activation patching (a clean run's activation written into a corrupted run) and head ablation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect, manualSeed, models, noGrad, randint } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, maxAbsDiff } from '../helpers/assert.js';

const cfg = { vocabSize: 40, blockSize: 12, nLayer: 3, nHead: 4, nEmbd: 32 };

function prompts(): { clean: Tensor; corrupted: Tensor } {
  const clean = randint(40, [2, 8]);
  const corrupted = clean.clone();
  noGrad(() => corrupted.narrow(1, 2, 1).fill_(7)); // one token changed
  return { clean, corrupted };
}

test('activation patching: the clean residual stream written into the corrupted run (forward hook) restores the clean logits', () => {
  manualSeed(0);
  const g = new models.GPT(cfg).eval();
  const { clean, corrupted } = prompts();
  const { output: cleanOut, cache } = inspect.runWithCache(g, [clean]);
  const corruptedLogits = g.forward(corrupted).logits;
  assert.ok(maxAbsDiff(corruptedLogits, cleanOut.logits) > 1e-3, 'the corruption changes the output');
  // Patch the whole stream after block 1: everything downstream sees the clean run.
  const h = g.blocks[1].hook_resid_post.registerForwardHook(() => cache.resid(1, 'post'));
  assertClose(g.forward(corrupted).logits, cleanOut.logits, { rtol: 1e-5, atol: 1e-5 }, 'patched');
  h.remove();
  assertClose(g.forward(corrupted).logits, corruptedLogits, { rtol: 0, atol: 0 }, 'hook removed');
  // Patch one position only (the corrupted one) at block 0's output: a partial restoration.
  const pos = 2;
  const h2 = g.blocks[0].hook_resid_post.registerForwardHook((_m, _a, out) => {
    const patched = out.clone();
    noGrad(() => patched.narrow(1, pos, 1).copy_(cache.resid(0, 'post').narrow(1, pos, 1)));
    return patched;
  });
  const partial = g.forward(corrupted).logits;
  h2.remove();
  const dClean = maxAbsDiff(partial, cleanOut.logits), dCorrupt = maxAbsDiff(corruptedLogits, cleanOut.logits);
  assert.ok(dClean < dCorrupt, `patching position ${pos} moves the logits toward clean (${dClean} < ${dCorrupt})`);
});

test('activation patching through a forward pre-hook: replacing a block\'s input with the clean stream', () => {
  manualSeed(1);
  const g = new models.GPT(cfg).eval();
  const { clean, corrupted } = prompts();
  const { output: cleanOut, cache } = inspect.runWithCache(g, [clean]);
  // Block 2's forward(x, cache?): replace x, keep the other arguments.
  const h = g.blocks[2].registerForwardPreHook((_m, args) => [cache.resid(2, 'pre'), ...args.slice(1)]);
  assertClose(g.forward(corrupted).logits, cleanOut.logits, { rtol: 1e-5, atol: 1e-5 }, 'patched input');
  h.remove();
  assert.ok(maxAbsDiff(g.forward(corrupted).logits, cleanOut.logits) > 1e-3);
});

test('head ablation through a pre-hook on the output projection equals zeroing the head\'s W_O rows', () => {
  manualSeed(2);
  const g = new models.GPT(cfg).eval();
  const idx = randint(40, [2, 9]);
  const head = 1, D = cfg.nEmbd / cfg.nHead;
  const attn = g.blocks[0].attn;
  // c_proj's input is z merged over heads (B, T, H·D): zero head 1's slice of it.
  const h = attn.outProj.registerForwardPreHook((_m, [z]) => {
    const zz = z.clone();
    noGrad(() => zz.narrow(-1, head * D, D).zero_());
    return zz;
  });
  const ablated = g.forward(idx).logits;
  h.remove();
  noGrad(() => attn.head(head).W_O.zero_());
  assertClose(g.forward(idx).logits, ablated, { rtol: 1e-4, atol: 1e-5 }, 'ablation by hook = ablation by weights');
});
