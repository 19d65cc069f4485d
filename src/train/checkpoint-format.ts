/**
 * The on-disk formats of qkv's checkpoints, shared by their writers (checkpoint.ts, export.ts)
 * and their reader (open-checkpoint.ts):
 *
 *   qkv train run      DIR/latest → DIR/step-NNNNNN/{model.safetensors, optimizer.safetensors, trainer.json}
 *   qkv export folder  DIR/{model.safetensors, config.json, optimizer.safetensors?, data.safetensors?, train.py}
 */
import type { GPTConfig, ResolvedGPTConfig } from '../models/gpt.js';
import type { CharTokenizer } from '../data/char-tokenizer.js';
import type { OptimizerStateDict } from '../optim/optimizer.js';
import type { EvalRecord, StepRecord, TrainOptions, Trainer } from './trainer.js';

/** `format` of a training checkpoint's trainer.json. */
export const CHECKPOINT_FORMAT = 'qkv-train-checkpoint/1';
/** `format` of an export folder's config.json (also what train.py writes to --out). */
export const EXPORT_FORMAT = 'qkv-pytorch-export/1';

/** trainer.json of a training checkpoint: everything but the tensors. */
export interface TrainState {
  format: string;
  modelConfig: GPTConfig;
  trainOptions: TrainOptions;
  tokenizer: ReturnType<CharTokenizer['toJSON']>;
  dataSource: string;
  step: number;
  optimizer: { param_groups: OptimizerStateDict['param_groups']; scalars: Record<string, Record<string, number>> };
  scheduler: ReturnType<Trainer['scheduler']['stateDict']>;
  rng: ReturnType<Trainer['rngState']>;
  history: StepRecord[];
  evals: EvalRecord[];
}

/** config.json of an export folder. */
export interface ExportConfig {
  format: string;
  model: ResolvedGPTConfig;
  train: TrainOptions;
  tokenizer: ReturnType<CharTokenizer['toJSON']> | null;
  dataSource: string | null;
  /** Optimizer steps already taken (the schedule continues from here). */
  step: number;
}

/** Name of a checkpoint folder for a step: `step-000300`. */
export const stepFolderName = (step: number): string => `step-${String(step).padStart(6, '0')}`;
export const STEP_FOLDER = /^step-\d+$/;
