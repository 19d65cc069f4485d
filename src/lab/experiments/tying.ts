/**
 * Lab 5 — tying: one matrix for the input embedding and the output layer.
 *
 * Part A is the classic toy (Embedding(10, 3) + Linear(3, 10), MSE against the one-hot of the
 * input, Adam, 2,000 steps), tied and untied. Part B trains a char GPT on the Brown corpus tied
 * and untied. Both report loss curves, parameter counts (tied is V·d smaller) and steps to a
 * loss threshold.
 */
import { Tensor } from '../../tensor/tensor.js';
import { manualSeed } from '../../tensor/random.js';
import { Embedding } from '../../nn/embedding.js';
import { Linear } from '../../nn/linear.js';
import { tie } from '../../nn/tie.js';
import { mseLoss } from '../../ops/loss.js';
import { Adam } from '../../optim/adam.js';
import { GPT } from '../../models/gpt.js';
import { loadBrownCorpus } from '../../data/brown.js';
import { charDatasetFromDocuments, unigramCrossEntropy } from '../../data/text-dataset.js';
import { Trainer } from '../../train/trainer.js';
import { r3, stepsToReach, type LabOptions, labOptions } from '../common.js';
import type { ExperimentResult } from '../report.js';

function toy(tied: boolean, steps: number, seed: number): { steps: number[]; loss: number[]; params: number } {
  manualSeed(seed);
  const emb = new Embedding(10, 3), head = new Linear(3, 10);
  if (tied) tie(emb, head);
  const params = [...new Set([...emb.parameters(), ...head.parameters()])];
  const opt = new Adam(params);
  const idx = Tensor.arange(10, 'int64');
  const target = Tensor.arange(10, 'int64').unsqueeze(1).eq(Tensor.arange(10, 'int64').unsqueeze(0)).to('float32'); // one-hot (10, 10)
  const curve = { steps: [] as number[], loss: [] as number[] };
  for (let step = 0; step <= steps; step++) {
    opt.zeroGrad();
    const loss = mseLoss(head.forward(emb.forward(idx)), target);
    if (step % 20 === 0) {
      curve.steps.push(step);
      curve.loss.push(loss.item());
    }
    if (step === steps) break;
    loss.backward();
    opt.step();
  }
  return { ...curve, params: params.reduce((n, p) => n + p.numel(), 0) };
}

export function runTying(options: Partial<LabOptions> = {}): ExperimentResult {
  const opts = labOptions(options, 'runTying');
  const t0 = performance.now();
  // Part A: the toy.
  const toySteps = opts.quick ? 600 : 2000;
  const a = { tied: toy(true, toySteps, opts.seed), untied: toy(false, toySteps, opts.seed) };
  // The rank-3 floor: the best rank-3 fit of the centred identity leaves 6 of its 9 unit singular values → MSE 6/100.
  const floor = 0.06;
  const toyThreshold = 0.07;
  const toyReach = { tied: stepsToReach(a.tied.steps, a.tied.loss, toyThreshold), untied: stepsToReach(a.untied.steps, a.untied.loss, toyThreshold) };
  const toyFinal = { tied: a.tied.loss[a.tied.loss.length - 1], untied: a.untied.loss[a.untied.loss.length - 1] };
  opts.log(`tying: toy final loss tied ${r3(toyFinal.tied)}, untied ${r3(toyFinal.untied)}`);

  // Part B: a char GPT on the Brown corpus.
  const docs = loadBrownCorpus({ maxDocuments: opts.quick ? 40 : 500 });
  const data = charDatasetFromDocuments(docs, `Brown corpus (${docs.length} documents)`);
  const unigram = unigramCrossEntropy(data.train, data.val, data.tokenizer.vocabSize);
  const steps = opts.quick ? 60 : 400;
  const evalInterval = opts.quick ? 20 : 50;
  const runs: Record<'tied' | 'untied', { steps: number[]; val: number[]; params: number }> = { tied: { steps: [], val: [], params: 0 }, untied: { steps: [], val: [], params: 0 } };
  for (const kind of ['tied', 'untied'] as const) {
    manualSeed(opts.seed + 1);
    const model = new GPT({ vocabSize: data.tokenizer.vocabSize, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 64, tieWeights: kind === 'tied' });
    const tr = new Trainer(model, data, { steps, batchSize: 16, lr: 3e-3, warmupSteps: 20, evalInterval, evalBatches: opts.quick ? 4 : 10, seed: opts.seed });
    runs[kind].params = model.numParameters();
    runs[kind].steps.push(0);
    runs[kind].val.push(tr.evaluate().val);
    tr.run({ onEval: (e) => { runs[kind].steps.push(e.step); runs[kind].val.push(e.val); opts.log(`tying: GPT ${kind} step ${e.step}: val ${r3(e.val)}`); } });
  }
  const final = { tied: runs.tied.val[runs.tied.val.length - 1], untied: runs.untied.val[runs.untied.val.length - 1] };
  const gptThreshold = Math.max(final.tied, final.untied);
  const reach = { tied: stepsToReach(runs.tied.steps, runs.tied.val, gptThreshold), untied: stepsToReach(runs.untied.steps, runs.untied.val, gptThreshold) };
  const V = data.tokenizer.vocabSize, d = 64;
  const better = final.tied < final.untied ? 'tied' : 'untied';
  const gptReach = (s: number | null) => (s === null ? `not reached in ${steps} steps` : `reached at step ${s}`);
  const fmtReach = (s: number | null) => (s === null ? `not reached in ${toySteps} steps` : `reached at step ${s}`);

  const verdict = [
    `- **Counted once, stored once.** Tying removes exactly V·d parameters: ${a.untied.params} → ${a.tied.params} in the toy (10·3 = 30 fewer) and ${runs.untied.params} → ${runs.tied.params} in the GPT (${V}·${d} = ${V * d} fewer); the optimizer holds one parameter and updates it once per step, with the gradients of both uses summed.`,
    `- **Toy task.** After ${toySteps} Adam steps (lr 1e-3) the loss is ${r3(toyFinal.tied)} tied vs ${r3(toyFinal.untied)} untied; the best any rank-3 map can do is ${floor}, and a tied map E Eᵀ + b can reach it too (the centred one-hot target is symmetric positive semi-definite). Loss ${toyThreshold}: tied ${fmtReach(toyReach.tied)}, untied ${fmtReach(toyReach.untied)}. ${toyReach.tied !== null && (toyReach.untied === null || toyReach.tied < toyReach.untied) ? 'Tying converges faster here: the one matrix gets gradient from both ends.' : 'Tying does not converge faster here: the shared matrix must serve as input codes and output readout at once, and from Embedding\'s N(0, 1) init the tied outputs E Eᵀ start large.'}`,
    `- **Char GPT on the Brown corpus.** After ${steps} steps the validation loss is ${r3(final.tied)} tied vs ${r3(final.untied)} untied (unigram baseline ${r3(unigram)}); ${better} is ${r3(Math.abs(final.tied - final.untied))} nats lower. Validation loss ${r3(gptThreshold)} (the worse of the two final losses): tied ${gptReach(reach.tied)}, untied ${gptReach(reach.untied)}. At this scale the embedding is a small share of the parameters, so tying mainly saves memory; its effect on loss is ${Math.abs(final.tied - final.untied) < 0.05 ? 'within noise of one run' : `${r3(Math.abs(final.tied - final.untied))} nats in favour of ${better}`}.`,
  ].join('\n');

  return {
    name: 'tying',
    title: '5. Weight tying (tying)',
    question: 'Embedding(V, d).weight and Linear(d, V).weight are both [V, d]. What does sharing one parameter change: parameter count, gradients, training speed?',
    setup: [
      `- Part A: Embedding(10, 3) + Linear(3, 10), MSE between the output and the one-hot of the input token, all 10 tokens per step, Adam (PyTorch defaults), ${toySteps} steps; tied with \`nn.tie(embedding, head)\`.`,
      `- Part B: char GPT (2 layers, d_model ${d}, 4 heads, context 32; nanoGPT init) on ${data.source}, tied vs untied head, ${steps} steps of batch 16, AdamW lr 3e-3 with warm-up and cosine decay; validation loss every ${evalInterval} steps.`,
    ].join('\n'),
    tables: [
      {
        title: 'Parameters and results',
        columns: ['task', 'variant', 'parameters', 'final loss', `step reaching the threshold (toy ${toyThreshold}; GPT: the worse final loss)`],
        rows: [
          ['toy', 'tied', a.tied.params, toyFinal.tied, toyReach.tied ?? '—'],
          ['toy', 'untied', a.untied.params, toyFinal.untied, toyReach.untied ?? '—'],
          ['GPT (val)', 'tied', runs.tied.params, final.tied, reach.tied ?? '—'],
          ['GPT (val)', 'untied', runs.untied.params, final.untied, reach.untied ?? '—'],
        ],
      },
    ],
    charts: [
      {
        file: 'tying-toy',
        chart: {
          kind: 'line', title: 'Toy: Embedding(10, 3) + Linear(3, 10), MSE', xLabel: 'step', yLabel: 'MSE', logY: true,
          series: [{ name: 'tied', x: a.tied.steps, y: a.tied.loss }, { name: 'untied', x: a.untied.steps, y: a.untied.loss, dashed: true }],
          hlines: [{ y: floor, label: 'rank-3 floor 0.06' }],
        },
      },
      {
        file: 'tying-gpt',
        chart: {
          kind: 'line', title: 'Char GPT on the Brown corpus: validation loss', xLabel: 'step', yLabel: 'cross-entropy (nats/char)',
          series: [{ name: 'tied', x: runs.tied.steps, y: runs.tied.val }, { name: 'untied', x: runs.untied.steps, y: runs.untied.val, dashed: true }],
          hlines: [{ y: unigram, label: 'unigram baseline' }],
        },
      },
    ],
    verdict,
    figures: {
      toyParamsTied: a.tied.params, toyParamsUntied: a.untied.params, toyFinalTied: toyFinal.tied, toyFinalUntied: toyFinal.untied,
      toyStepsTied: toyReach.tied ?? -1, toyStepsUntied: toyReach.untied ?? -1,
      gptParamsTied: runs.tied.params, gptParamsUntied: runs.untied.params, vocab: V, dModel: d,
      gptValTied: final.tied, gptValUntied: final.untied, unigram, gptSteps: steps,
    },
    seconds: (performance.now() - t0) / 1000,
  };
}

