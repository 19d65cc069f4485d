/**
 * Training a language model: nanoGPT's loop (AdamW with weight-decay groups, cosine schedule
 * with warm-up, gradient clipping, periodic evaluation) over a TextData, with every random
 * draw from generators whose state is checkpointed, so a resumed run continues bit for bit.
 */
import { ArgumentError } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { GPT } from '../models/gpt.js';
import { AdamW } from '../optim/adam.js';
import { CosineWarmupLR } from '../optim/lr-scheduler.js';
import { clipGradNorm_ } from '../nn/utils.js';
import { getBatch, type TextData } from '../data/text-dataset.js';

export interface TrainOptions {
  /** Sequences per step. Default 16. */
  batchSize: number;
  /** Optimizer steps (nanoGPT's max_iters). Default 300. */
  steps: number;
  /** Peak learning rate. Default 1e-3. */
  lr: number;
  /** Floor of the cosine, as a fraction of lr. Default 0.1. */
  minLrRatio: number;
  /** Linear warm-up steps. Default 20. */
  warmupSteps: number;
  /** AdamW weight decay on ≥2-D tensors. Default 0.1. */
  weightDecay: number;
  /** Default [0.9, 0.95] (nanoGPT). */
  betas: [number, number];
  /** Clip the global gradient norm to this (0 = off). Default 1. */
  gradClip: number;
  /** Evaluate every this many steps (and at the end). Default 50. */
  evalInterval: number;
  /** Batches per split per evaluation. Default 10. */
  evalBatches: number;
  /** Seeds the batch sampler (the model's init uses the global seed). Default 1337. */
  seed: number;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  batchSize: 16, steps: 300, lr: 1e-3, minLrRatio: 0.1, warmupSteps: 20, weightDecay: 0.1,
  betas: [0.9, 0.95], gradClip: 1, evalInterval: 50, evalBatches: 10, seed: 1337,
};

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  /** Wall time of the step, ms. */
  ms: number;
}

export interface EvalRecord {
  step: number;
  train: number;
  val: number;
}

export class Trainer {
  readonly opts: TrainOptions;
  readonly optimizer: AdamW;
  readonly scheduler: CosineWarmupLR;
  /** Draws the training batches. */
  readonly batchGenerator: Generator;
  step = 0;
  readonly history: StepRecord[] = [];
  readonly evals: EvalRecord[] = [];

  constructor(readonly model: GPT, readonly data: TextData, opts: Partial<TrainOptions> = {}) {
    this.opts = { ...DEFAULT_TRAIN_OPTIONS, ...opts };
    const o = this.opts;
    for (const k of ['batchSize', 'steps', 'evalInterval', 'evalBatches'] as const) {
      if (!Number.isInteger(o[k]) || o[k] <= 0) throw new ArgumentError(`Trainer: ${k} must be a positive integer, got ${o[k]}`);
    }
    if (model.config.vocabSize < data.tokenizer.vocabSize) {
      throw new ArgumentError(`Trainer: the model's vocabSize ${model.config.vocabSize} is smaller than the tokenizer's ${data.tokenizer.vocabSize}`);
    }
    this.optimizer = new AdamW(model.weightDecayGroups(o.weightDecay), { lr: o.lr, betas: o.betas });
    // A run shorter than the warm-up warms up over the whole run.
    this.scheduler = new CosineWarmupLR(this.optimizer, { warmupSteps: Math.min(o.warmupSteps, o.steps), totalSteps: o.steps, minLrRatio: o.minLrRatio });
    this.batchGenerator = new Generator(o.seed);
  }

  get done(): boolean {
    return this.step >= this.opts.steps;
  }

  /** One optimizer step on a fresh batch; returns its record. */
  trainStep(): StepRecord {
    const t0 = performance.now();
    this.model.train();
    const { x, y } = getBatch(this.data.train, this.opts.batchSize, this.model.config.blockSize, this.batchGenerator);
    const lr = this.optimizer.paramGroups[0].lr;
    this.optimizer.zeroGrad();
    const { loss } = this.model.forward(x, y);
    loss!.backward();
    if (this.opts.gradClip > 0) clipGradNorm_(this.model.parameters(), this.opts.gradClip);
    this.optimizer.step();
    this.scheduler.step();
    const rec = { step: this.step, loss: loss!.item(), lr, ms: performance.now() - t0 };
    this.step++;
    this.history.push(rec);
    return rec;
  }

  /**
   * Mean loss over `evalBatches` batches of each split, in eval mode, without a graph. The batches
   * come from a generator seeded the same way every time, so evaluations are comparable and do
   * not disturb the training stream.
   */
  evaluate(): EvalRecord {
    const wasTraining = this.model.training;
    this.model.eval();
    const gen = new Generator(this.opts.seed + 1);
    const mean = (split: Int32Array) => noGrad(() => {
      let s = 0;
      for (let i = 0; i < this.opts.evalBatches; i++) {
        const { x, y } = getBatch(split, this.opts.batchSize, this.model.config.blockSize, gen);
        s += this.model.forward(x, y).loss!.item();
      }
      return s / this.opts.evalBatches;
    });
    const rec = { step: this.step, train: mean(this.data.train), val: mean(this.data.val) };
    this.model.train(wasTraining);
    this.evals.push(rec);
    return rec;
  }

  /**
   * Trains to `steps`, evaluating every evalInterval steps and at the end. Callbacks report
   * progress; `onCheckpoint` is called after each evaluation (e.g. to save).
   */
  run(cb: { onStep?: (r: StepRecord, t: Trainer) => void; onEval?: (r: EvalRecord, t: Trainer) => void; onCheckpoint?: (t: Trainer) => void } = {}): void {
    while (!this.done) {
      const r = this.trainStep();
      cb.onStep?.(r, this);
      if (this.step % this.opts.evalInterval === 0 || this.done) {
        const e = this.evaluate(); // always: `cb.onEval?.(this.evaluate())` would skip it without a callback
        cb.onEval?.(e, this);
        cb.onCheckpoint?.(this);
      }
    }
  }

  /** The state of every random stream the run draws from (for checkpoints). */
  rngState(): { batch: ReturnType<Generator['getState']>; global: ReturnType<Generator['getState']> } {
    return { batch: this.batchGenerator.getState(), global: defaultGenerator.getState() };
  }
}
