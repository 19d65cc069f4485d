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
 */
import type { Tensor } from '../tensor/tensor.js';
import { randint, randn } from '../tensor/creation.js';
import { manualSeed } from '../tensor/random.js';
import { Attention } from '../nn/attention.js';
import { TransformerEncoderLayer } from '../nn/transformer.js';
import { GPT } from '../models/gpt.js';
import { Adam, AdamW } from '../optim/adam.js';
import type { Module } from '../nn/module.js';
import { ArgumentError } from '../errors.js';

export type WorkloadName = 'w1' | 'w2' | 'w3';
export const WORKLOADS: readonly WorkloadName[] = ['w1', 'w2', 'w3'];

export const WORKLOAD_TITLES: Record<WorkloadName, string> = {
  w1: 'W1 attention block (B32 T64 C256 H8)',
  w2: 'W2 TransformerEncoderLayer (256/8/1024)',
  w3: 'W3 tiny GPT (4L C128 H4 V256, B16 T64)',
};

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
  } else if (name === 'w3') {
    const m = new GPT({ vocabSize: 256, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128 });
    const idx = randint(256, [16, 64]);
    const targets = randint(256, [16, 64]);
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
      opt.zeroGrad();
      const l = loss();
      l.backward();
      opt.step();
      return l.item();
    },
  };
}
