/**
 * Lab 2 — layout: a packed QKV projection read in the wrong layout.
 *
 * Part A splits one packed projection both ways and compares each with q, k, v computed from
 * the per-matrix weights. Part B trains a tiny GPT (blocked packing, like nanoGPT/GPT-2) and
 * evaluates it as is, read head-interleaved (the bug: the same weights, the GPT-NeoX split), and
 * converted to head-interleaved with the matching layout (the layout-aware fix).
 */
import { Tensor } from '../../tensor/tensor.js';
import { randn } from '../../tensor/creation.js';
import { Generator, manualSeed } from '../../tensor/random.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { linear } from '../../ops/matmul.js';
import { Attention } from '../../nn/attention.js';
import type { Linear } from '../../nn/linear.js';
import { convertPackedLayout, splitHeads } from '../../nn/qkv-layout.js';
import { GPT } from '../../models/gpt.js';
import { loadBrownCorpus } from '../../data/brown.js';
import { charDatasetFromDocuments, getBatch, type TextData } from '../../data/text-dataset.js';
import { Trainer } from '../../train/trainer.js';
import { r3, type LabOptions, labOptions } from '../common.js';
import type { ExperimentResult } from '../report.js';

const maxAbs = (a: Tensor, b: Tensor): number => noGrad(() => a.sub(b).abs().max().item());

/** Mean cross-entropy of a model on fixed validation batches. */
function evalLoss(model: GPT, data: TextData, batches: number, seed: number): number {
  const gen = new Generator(seed);
  model.eval();
  return noGrad(() => {
    let s = 0;
    for (let i = 0; i < batches; i++) {
      const { x, y } = getBatch(data.val, 16, model.config.blockSize, gen);
      s += model.forward(x, y).loss!.item();
    }
    return s / batches;
  });
}

export function runLayout(options: Partial<LabOptions> = {}): ExperimentResult {
  const opts = labOptions(options, 'runLayout');
  const t0 = performance.now();
  // Part A: one packed projection, split both ways.
  manualSeed(opts.seed);
  const C = 64, H = 4, D = 16;
  const attn = new Attention({ dim: C, heads: H, dimHead: D, qkvBias: true }); // blocked, like vit-pytorch / GPT-2
  const x = randn([2, 10, C]);
  const packed = noGrad(() => (attn.getSubmodule('to_qkv') as Linear).forward(x)); // (B, T, 3·H·D)
  // References from the per-matrix views: q_h = x W_Q[h] + b_Q[h].
  const ref = noGrad(() => [[attn.W_Q, attn.b_Q!], [attn.W_K, attn.b_K!], [attn.W_V, attn.b_V!]].map(([w, b]) =>
    x.unsqueeze(1).matmul(w).add(b.unsqueeze(1)))); // (B, H, T, D)
  const right = splitHeads(packed, H, 'blocked');
  const wrong = splitHeads(packed, H, 'head-interleaved');
  const errRight = right.map((t, j) => maxAbs(t, ref[j]));
  const errWrong = wrong.map((t, j) => maxAbs(t, ref[j]));
  const scale = noGrad(() => ref[0].abs().max().item());
  // What a blocked weight converted to head-interleaved gives when split head-interleaved.
  const w = attn.getSubmodule('to_qkv') as Linear;
  const converted = linear(x, convertPackedLayout(w.weight, H, 'blocked', 'head-interleaved'), convertPackedLayout(w.bias!, H, 'blocked', 'head-interleaved'));
  const errConverted = splitHeads(converted, H, 'head-interleaved').map((t, j) => maxAbs(t, ref[j]));

  // Part B: a tiny GPT trained with blocked packing, evaluated with each reading.
  const docs = loadBrownCorpus({ maxDocuments: opts.quick ? 40 : 200 });
  const data = charDatasetFromDocuments(docs, `Brown corpus (${docs.length} documents)`);
  manualSeed(opts.seed + 1);
  const cfg = { vocabSize: data.tokenizer.vocabSize, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 64 };
  const gpt = new GPT(cfg);
  const steps = opts.quick ? 60 : 250;
  const trainer = new Trainer(gpt, data, { steps, batchSize: 16, lr: 3e-3, warmupSteps: 10, evalInterval: steps, evalBatches: 4, seed: opts.seed });
  trainer.run({ onStep: (r) => { if ((r.step + 1) % 50 === 0) opts.log(`layout: training step ${r.step + 1}/${steps}, loss ${r3(r.loss)}`); } });
  const evalBatches = opts.quick ? 8 : 20;
  const lossRight = evalLoss(gpt, data, evalBatches, opts.seed + 7);
  const sd = gpt.stateDict();
  const misread = new GPT({ ...cfg, layout: 'head-interleaved' }); // same weights, read the NeoX way: the bug
  misread.loadStateDict(sd);
  const lossWrong = evalLoss(misread, data, evalBatches, opts.seed + 7);
  const fixed = new GPT({ ...cfg, layout: 'head-interleaved' }); // weights converted, layout declared: the fix
  const sdFixed: Record<string, Tensor> = { ...sd };
  for (const [k, v] of Object.entries(sd)) if (k.endsWith('attn.c_attn.weight') || k.endsWith('attn.c_attn.bias')) sdFixed[k] = convertPackedLayout(v, cfg.nHead, 'blocked', 'head-interleaved');
  fixed.loadStateDict(sdFixed);
  const lossFixed = evalLoss(fixed, data, evalBatches, opts.seed + 7);
  const idx = getBatch(data.val, 2, cfg.blockSize, new Generator(3)).x;
  const logitErr = noGrad(() => maxAbs(misread.forward(idx).logits, gpt.forward(idx).logits));
  const logitErrFixed = noGrad(() => maxAbs(fixed.forward(idx).logits, gpt.forward(idx).logits));
  const unigram = Math.log(data.tokenizer.vocabSize);
  opts.log(`layout: val loss right ${r3(lossRight)}, misread ${r3(lossWrong)}, converted ${r3(lossFixed)}`);

  const verdict = [
    `- **The wrong split is silent and large.** Reading a blocked packing head-interleaved gives tensors of exactly the right shapes whose values differ from the true q, k, v by up to ${r3(Math.max(...errWrong))} (the entries themselves reach ${r3(scale)}); the right split (chunk(3), then view into heads) matches the per-matrix computation ${Math.max(...errRight) === 0 ? 'exactly' : `to ${r3(Math.max(...errRight))}`}.`,
    `- **It breaks a trained model without an error.** A ${cfg.nLayer}-layer char GPT trained ${steps} steps with blocked packing has validation loss ${r3(lossRight)} nats; the same weights read head-interleaved give ${r3(lossWrong)} (${lossWrong > lossRight ? `+${r3(lossWrong - lossRight)}` : r3(lossWrong - lossRight)}; uniform guessing is ${r3(unigram)}), with logits off by up to ${r3(logitErr)}.`,
    `- **Layout as data fixes it exactly.** Converting the packed weight with \`convertPackedLayout\` and declaring the layout gives loss ${r3(lossFixed)} and logits ${logitErrFixed === 0 ? 'identical to' : `within ${r3(logitErrFixed)} of`} the original: the permutation is exact, so q, k, v per head are right by construction.`,
  ].join('\n');

  return {
    name: 'layout',
    title: '2. Packed QKV split into heads (layout)',
    question: 'A fused projection packs q, k, v for all heads. view(b, s, n_head, 3·head) then split (GPT-NeoX) and chunk(3) then view (GPT-2, PyTorch MHA) are different conventions. What does mixing them cost?',
    setup: [
      `Part A: a blocked \`to_qkv\` projection (C = ${C}, H = ${H}, D = ${D}, with bias) applied to x (2, 10, ${C}); each split is compared with q, k, v computed from the per-head weight views W_Q, W_K, W_V.`,
      '',
      `Part B: a char GPT (${cfg.nLayer} layers, d_model ${cfg.nEmbd}, ${cfg.nHead} heads, context ${cfg.blockSize}) trained ${steps} steps on ${data.source}, then evaluated on ${evalBatches} validation batches three ways: as trained; with the same weights read head-interleaved (the bug); and converted to head-interleaved with the layout declared (the fix).`,
    ].join('\n'),
    tables: [
      {
        title: 'Part A: max |error| against the per-matrix q, k, v',
        columns: ['split', 'q', 'k', 'v'],
        rows: [
          ['blocked packing, chunk(3) then view (right)', ...errRight],
          ['blocked packing, view(…, H, 3D) then split (wrong)', ...errWrong],
          ['converted to head-interleaved, split head-interleaved', ...errConverted],
        ],
      },
      {
        title: 'Part B: validation loss of the trained GPT (nats/char)',
        columns: ['reading', 'val loss', 'max |logit error|'],
        rows: [['as trained (blocked)', lossRight, 0], ['same weights read head-interleaved (bug)', lossWrong, logitErr], ['converted + layout declared (fix)', lossFixed, logitErrFixed]],
      },
    ],
    charts: [{
      file: 'layout-loss',
      chart: {
        kind: 'bar', title: 'Validation loss of one trained GPT, three readings', yLabel: 'cross-entropy (nats/char)',
        categories: ['as trained', 'misread (bug)', 'converted (fix)'], series: [{ name: 'val loss', values: [lossRight, lossWrong, lossFixed] }],
      },
    }],
    verdict,
    figures: {
      maxErrorRight: Math.max(...errRight), maxErrorWrong: Math.max(...errWrong), maxErrorConverted: Math.max(...errConverted), qScale: scale,
      valLossRight: lossRight, valLossWrong: lossWrong, valLossConverted: lossFixed, logitErrorWrong: logitErr, logitErrorConverted: logitErrFixed, steps,
    },
    seconds: (performance.now() - t0) / 1000,
  };
}
