/**
 * models.loadNanoGPT on nanoGPT checkpoints written by torch 1.13 (scripts/fixtures/torch_save.py):
 * the PyTorch 1.13 form (bias=True, causal-mask buffers) and the PyTorch 2 + torch.compile form
 * (bias=False, `_orig_mod.` prefix). Logits equal PyTorch's on the same tokens; the tie, the
 * config and the optimizer state come through; malformed checkpoints are StateDictErrors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { io, models, optim, ArgumentError, StateDictError } from '../../src/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { FIXTURES, assertClose } from '../helpers/assert.js';

const DIR = path.join(FIXTURES, 'torch');
const CKPTS = ['nanogpt-ckpt.pt', 'nanogpt-compiled-ckpt.pt'];
const ref = io.loadTorch<Record<string, Tensor>>(path.join(DIR, 'nanogpt-ref.pt'));

test("loadNanoGPT gives PyTorch's logits for both checkpoint forms", () => {
  for (const name of CKPTS) {
    const file = path.join(DIR, name);
    const g = models.loadNanoGPT(file);
    const compiled = name.includes('compiled');
    assert.deepEqual(
      { v: g.config.vocabSize, b: g.config.blockSize, l: g.config.nLayer, h: g.config.nHead, c: g.config.nEmbd, bias: g.config.bias },
      { v: 13, b: 8, l: 2, h: 2, c: 8, bias: !compiled }, name,
    );
    assert.equal(g.lm_head.weight, g.wte.weight, `${name}: lm_head tied to wte`);
    g.eval();
    assertClose(g.forward(ref.idx).logits, ref[name], { rtol: 1e-5, atol: 1e-6 }, name);
    // The same from bytes and from the loaded object.
    const ckpt = io.loadTorch<models.NanoGPTCheckpoint>(file);
    assert.deepEqual(models.loadNanoGPT(new Uint8Array(fs.readFileSync(file))).forward(ref.idx).logits.toArray(), g.forward(ref.idx).logits.toArray());
    assert.deepEqual(models.loadNanoGPT(ckpt).forward(ref.idx).logits.toArray(), g.forward(ref.idx).logits.toArray());
    // The rest of the checkpoint, as train.py wrote it.
    assert.equal(ckpt.iter_num, 2);
    assert.ok(ckpt.best_val_loss instanceof Tensor && ckpt.best_val_loss.ndim === 0);
    assert.equal(ckpt.config!.compile, compiled);
    assert.equal(ckpt.config!.dataset, 'shakespeare_char');
    assert.equal(Object.keys(ckpt.model).some((k) => k.startsWith('_orig_mod.')), compiled);
    assert.equal(Object.keys(ckpt.model).some((k) => /attn\.bias$/.test(k)), !compiled);
  }
});

test("nanoGPT's AdamW state loads into qkv's AdamW over the loaded model, and training continues", () => {
  const ckpt = io.loadTorch<models.NanoGPTCheckpoint & { optimizer: optim.OptimizerStateDict }>(path.join(DIR, 'nanogpt-ckpt.pt'));
  const g = models.loadNanoGPT(ckpt);
  const opt = new optim.AdamW(g.weightDecayGroups(0.1), { lr: 1e-3, betas: [0.9, 0.95] });
  // PyTorch ≥ 1.12 saves each parameter's `step` as a 0-d tensor; loadStateDict reads it as the number qkv counts.
  assert.ok(Object.values(ckpt.optimizer.state).every((s) => s.step instanceof Tensor && s.step.item() === 2));
  assert.deepEqual(ckpt.optimizer.param_groups.map((gr) => (gr.params as number[]).length), opt.paramGroups.map((gr) => gr.params.length));
  opt.loadStateDict(ckpt.optimizer);
  const before = g.wte.weight.clone();
  const loss = g.forward(ref.idx, ref.idx).loss!;
  loss.backward();
  opt.step();
  const moved = g.wte.weight.sub(before).abs().max().item();
  assert.ok(moved > 0 && moved < 0.01, `one AdamW step moved wte by ${moved}`);
  assert.ok(g.parameters().every((p) => p.isfinite().all()), 'no NaN after the step');
  assert.equal((opt.stateDict().state[0] as { step: number }).step, 3);
});

test('loadNanoGPT: overrides, an untied checkpoint, and malformed checkpoints', () => {
  const file = path.join(DIR, 'nanogpt-compiled-ckpt.pt');
  assert.equal(models.loadNanoGPT(file, { dropout: 0.1 }).config.dropout, 0.1);
  assert.throws(() => models.loadNanoGPT(file, { drop_out: 0 } as never), (e: Error) => e instanceof ArgumentError && /did you mean dropout/.test(e.message));
  assert.throws(() => models.loadNanoGPT(file, { nHead: 4 } as never), (e: Error) => e instanceof ArgumentError && /unknown option "nHead"/.test(e.message));
  const base = () => io.loadTorch<any>(file);
  // Untied: lm_head stored separately (same values) → two Parameters, same logits.
  const untied = base();
  untied.model['_orig_mod.lm_head.weight'] = untied.model['_orig_mod.lm_head.weight'].clone();
  const g = models.loadNanoGPT(untied);
  assert.equal(g.config.tieWeights, false);
  assert.notEqual(g.lm_head.weight, g.wte.weight);
  assertClose(g.forward(ref.idx).logits, ref['nanogpt-compiled-ckpt.pt'], { rtol: 1e-5, atol: 1e-6 }, 'untied');
  const rows: [(c: any) => unknown, RegExp][] = [
    [(c) => { delete c.model_args; return c; }, /no "model_args" entry .* is this nanoGPT's ckpt\.pt/],
    [(c) => { c.model_args.n_heads = 2; return c; }, /model_args has an unknown field "n_heads"/],
    [(c) => { c.model_args.n_head = 2.5; return c; }, /model_args\.n_head is 2\.5, not a positive int/],
    [(c) => { c.model_args.bias = 1; return c; }, /model_args\.bias is 1, not a bool/],
    [(c) => { delete c.model_args.vocab_size; return c; }, /model_args\.vocab_size is missing/],
    [(c) => { c.model['_orig_mod.lm_head.weight'] = 3; return c; }, /model\["_orig_mod\.lm_head\.weight"\] is not a tensor/],
    [(c) => { c.model['_orig_mod.transformer.h.0.extra'] = c.model['_orig_mod.lm_head.weight']; return c; }, /unexpected key\(s\): transformer\.h\.0\.extra/],
    [() => [1, 2], /not a dict with model and model_args/],
  ];
  for (const [mutate, re] of rows) assert.throws(() => models.loadNanoGPT(mutate(base()) as models.NanoGPTCheckpoint), (e: Error) => e instanceof StateDictError && re.test(e.message), String(re));
  // A mask buffer that is not the causal mask would change the model: refused.
  const masked = io.loadTorch<any>(path.join(DIR, 'nanogpt-ckpt.pt'));
  const mask = masked.model['transformer.h.1.attn.bias'] as Tensor;
  mask.storage.data[mask.offset + 1] = 1; // row 0 may now see position 1
  assert.throws(() => models.loadNanoGPT(masked), /the mask transformer\.h\.1\.attn\.bias is not causal \(element \[0, 1\] is 1\)/);
  assert.throws(() => models.loadNanoGPT(io.loadTorch<models.NanoGPTCheckpoint>(file, { dicts: 'map' })), /not a dict with model and model_args/);
});
