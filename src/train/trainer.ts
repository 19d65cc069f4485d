/**
 * Training a language model: nanoGPT's loop (AdamW with weight-decay groups, cosine schedule
 * with warm-up, gradient clipping, periodic evaluation) over a TextData, with every random
 * draw from generators whose state is checkpointed, so a resumed run continues bit for bit.
 */
import { ArgumentError, TrainingError } from '../errors.js';
import { checkOptions } from '../options.js';
import { noGrad } from '../autograd/grad-mode.js';
import { tidy } from '../tensor/allocator.js';
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
    checkOptions(opts, Object.keys(DEFAULT_TRAIN_OPTIONS), 'Trainer');
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULT_TRAIN_OPTIONS, ...given };
    const o = this.opts;
    // Everything is checked before any work starts.
    for (const k of ['batchSize', 'steps', 'evalInterval', 'evalBatches'] as const) {
      if (!Number.isSafeInteger(o[k]) || o[k] <= 0) throw new ArgumentError(`Trainer: ${k} must be a positive integer, got ${o[k]}`);
    }
    if (!Number.isSafeInteger(o.warmupSteps) || o.warmupSteps < 0) throw new ArgumentError(`Trainer: warmupSteps must be a non-negative integer, got ${o.warmupSteps}`);
    if (!Number.isSafeInteger(o.seed)) throw new ArgumentError(`Trainer: seed must be an integer, got ${o.seed}`);
    const inRange = (k: 'lr' | 'weightDecay' | 'minLrRatio' | 'gradClip', lo: number, hi: number, loOpen: boolean): void => {
      const v = o[k];
      if (!Number.isFinite(v) || (loOpen ? v <= lo : v < lo) || v > hi) throw new ArgumentError(`Trainer: ${k} must be a finite number in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
    };
    inRange('lr', 0, 1, true);
    inRange('weightDecay', 0, 10, false);
    inRange('minLrRatio', 0, 1, false);
    inRange('gradClip', 0, Number.MAX_VALUE, false);
    if (!Array.isArray(o.betas) || o.betas.length !== 2 || !o.betas.every((b) => Number.isFinite(b) && b >= 0 && b < 1)) {
      throw new ArgumentError(`Trainer: betas must be two numbers in [0, 1), got ${JSON.stringify(o.betas)}`);
    }
    if (model.config.vocabSize < data.tokenizer.vocabSize) {
      throw new ArgumentError(`Trainer: the model's vocabSize ${model.config.vocabSize} is smaller than the tokenizer's ${data.tokenizer.vocabSize}`);
    }
    const T = model.config.blockSize;
    for (const [split, tokens] of [['training', data.train], ['validation', data.val]] as const) {
      if (tokens.length <= T) {
        throw new ArgumentError(`Trainer: the ${split} split of ${data.source} has ${tokens.length} tokens, too few for one window of blockSize ${T} + 1; use a longer text or a smaller block size`);
      }
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
    // The step's activations and temporaries go back to the pool when it ends (tidy).
    const value = tidy(() => {
      this.optimizer.zeroGrad();
      const { loss } = this.model.forward(x, y);
      const v = loss!.item();
      if (!Number.isFinite(v)) {
        // Stop before the update: the weights (and any checkpoint) stay those of the last good step.
        throw new TrainingError(`training diverged: the loss at step ${this.step} is ${v} (learning rate ${lr}); the weights are those after step ${this.step - 1}`);
      }
      loss!.backward();
      if (this.opts.gradClip > 0) clipGradNorm_(this.model.parameters(), this.opts.gradClip);
      this.optimizer.step();
      return v;
    });
    this.scheduler.step();
    const rec = { step: this.step, loss: value, lr, ms: performance.now() - t0 };
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
        s += tidy(() => this.model.forward(x, y).loss!.item());
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
