/**
 * The training workloads of DESIGN.md ("Performance workloads"), qkv side. Each is built from
 * the library's own modules; torch_bench.py (beside this file) builds the same models in PyTorch.
 *
 * - W1 the vit-pytorch Attention block: nn.Attention(dim 256, heads 8, dimHead 32) — fused
 *   to_qkv without bias, to_out with bias; x (32, 64, 256); loss mean(out²); Adam.
 * - W2 nn.TransformerEncoderLayer(256, 8, dimFeedforward 1024, dropout 0, batchFirst, normFirst);
 *   x (32, 64, 256); loss mean(out²); Adam.
 * - W3 tiny GPT: models.GPT(vocab 256, block 64, 4 layers, 128 wide, 4 heads; MLP 4×, pre-LN,
 *   causal, tied wte/lm_head); batch 16 of random tokens; cross-entropy; AdamW.
 * - W5 GPT-2-small training step: 12 layers, 12 heads, 768 wide, vocab 50257, context 1024, tied,
 *   GELU tanh, pre-LN, random init; batch 4 × 128 random tokens; cross-entropy; AdamW.
 *
 * Two more kinds of rows are not training steps: W4 (GPT-2-small generation, `buildGeneration`)
 * and W6 (small-op overhead, `overheadCases`).
 */
import type { Tensor } from '../tensor/tensor.js';
import { randint, randn } from '../tensor/creation.js';
import { manualSeed } from '../tensor/random.js';
import { Attention } from '../nn/attention.js';
import { TransformerEncoderLayer } from '../nn/transformer.js';
import { GPT } from '../models/gpt.js';
import { Linear } from '../nn/linear.js';
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../tensor/allocator.js';
import { Adam, AdamW } from '../optim/adam.js';
import type { Module } from '../nn/module.js';
import { ArgumentError } from '../errors.js';

export type WorkloadName = 'w1' | 'w2' | 'w3' | 'w5';
export const WORKLOADS: readonly WorkloadName[] = ['w1', 'w2', 'w3', 'w5'];

export const WORKLOAD_TITLES: Record<WorkloadName, string> = {
  w1: 'W1 attention block (B32 T64 C256 H8)',
  w2: 'W2 TransformerEncoderLayer (256/8/1024)',
  w3: 'W3 tiny GPT (4L C128 H4 V256, B16 T64)',
  w5: 'W5 GPT-2 small train step (B4 T128)',
};

/** GPT-2 small (124M): what W4 and W5 run. */
export const GPT2_SMALL = { vocabSize: 50257, blockSize: 1024, nLayer: 12, nHead: 12, nEmbd: 768, activation: 'gelu_tanh', tieWeights: true } as const;

export interface Workload {
  name: WorkloadName;
  model: Module;
  /** Forward pass to the scalar loss. */
  loss(): Tensor;
  /** zeroGrad, forward, backward, optimizer step; returns the loss value. */
  step(): number;
}

export function buildWorkload(name: WorkloadName): Workload {
  manualSeed(0);
  let model: Module;
  let loss: () => Tensor;
  let opt: Adam | AdamW;
  if (name === 'w1') {
    const m = new Attention({ dim: 256, heads: 8, dimHead: 32 });
    const x = randn([32, 64, 256]);
    model = m;
    loss = () => m.forward(x).square().mean();
    opt = new Adam(m.parameters());
  } else if (name === 'w2') {
    const m = new TransformerEncoderLayer(256, 8, { dimFeedforward: 1024, dropout: 0, batchFirst: true, normFirst: true });
    const x = randn([32, 64, 256]);
    model = m;
    loss = () => m.forward(x).square().mean();
    opt = new Adam(m.parameters());
  } else if (name === 'w3' || name === 'w5') {
    const m = new GPT(name === 'w3' ? { vocabSize: 256, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128 } : GPT2_SMALL);
    const [B, T] = name === 'w3' ? [16, 64] : [4, 128];
    const idx = randint(m.config.vocabSize, [B, T]);
    const targets = randint(m.config.vocabSize, [B, T]);
    model = m;
    loss = () => m.forward(idx, targets).loss!;
    opt = new AdamW(m.parameters());
  } else {
    throw new ArgumentError(`bench: unknown workload ${JSON.stringify(name)} (expected one of ${WORKLOADS.join(', ')})`);
  }
  return {
    name,
    model,
    loss,
    step() {
      // As qkv's Trainer runs a step: in a tidy() scope, so its activations are recycled at once
      // (QKV_BENCH_NO_TIDY=1 leaves them to V8's garbage collector, for comparison).
      const run = () => {
        opt.zeroGrad();
        const l = loss();
        l.backward();
        opt.step();
        return l.item();
      };
      return process.env.QKV_BENCH_NO_TIDY === '1' ? run() : tidy(run);
    },
  };
}

/** W4: GPT-2 small, batch 1: a 256-token prompt, then 64 greedy tokens with the KV cache. */
export const GENERATION = { prompt: 256, tokens: 64 } as const;

export interface Generation {
  /** Runs the prefill only (the prompt through the model with a fresh cache); returns the first token. */
  prefill(): { cache: ReturnType<GPT['createCache']>; next: Tensor };
  /** One generated token from the cache (the last token fed, its successor returned). */
  decode(cache: ReturnType<GPT['createCache']>, last: Tensor): Tensor;
  /** The whole call as a user makes it: GPT.generate, greedy, with the cache. */
  generate(): Tensor;
}

export function buildGeneration(): Generation {
  manualSeed(0);
  const m = new GPT(GPT2_SMALL).eval();
  const prompt = randint(m.config.vocabSize, [1, GENERATION.prompt]);
  return {
    prefill() {
      return noGrad(() => tidy(() => {
        const cache = m.createCache();
        const logits = m.forward(prompt, null, { cache, lastOnly: true }).logits; // (1, 1, V)
        return { cache, next: logits.select(1, 0).argmax(-1, true) };
      }));
    },
    decode(cache, last) {
      return noGrad(() => tidy(() => m.forward(last, null, { cache, lastOnly: true }).logits.select(1, 0).argmax(-1, true)));
    },
    generate() {
      return m.generate(prompt, GENERATION.tokens, { temperature: 0 });
    },
  };
}

/**
 * W6, small-op overhead: (a) 200 chained elementwise ops on [64] floats, forward and backward;
 * (b) Linear(64, 64) on [8, 64, 64], forward under noGrad. (c) is (b)'s first 50 calls in a
 * fresh process (the worker times them before anything else runs).
 */
export function overheadCases(): { chain(): number; linear(): Tensor } {
  manualSeed(0);
  const x = randn([64], { requiresGrad: true });
  const lin = new Linear(64, 64);
  const input = randn([8, 64, 64]);
  return {
    chain() {
      let y = x;
      for (let i = 0; i < 200; i++) {
        const k = i % 4;
        y = k === 0 ? y.mul(1.01) : k === 1 ? y.add(0.01) : k === 2 ? y.tanh() : y.sub(0.005);
      }
      const l = y.sum();
      l.backward();
      x.grad = null;
      return l.item();
    },
    linear() {
      return noGrad(() => lin.forward(input));
    },
  };
}
