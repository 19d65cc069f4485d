/**
 * The on-disk formats of qkv's checkpoints, shared by their writers (checkpoint.ts, export.ts)
 * and their reader (open-checkpoint.ts):
 *
 *   qkv train run      DIR/latest → DIR/step-NNNNNN/{model.safetensors, optimizer.safetensors, trainer.json},
 *                      DIR/history-<run id>.jsonl (the loss history, one JSON record a line, append-only)
 *   qkv export folder  DIR/{model.safetensors, config.json, optimizer.safetensors?, data.safetensors?, train.py}
 */
import type { GPTConfig, ResolvedGPTConfig } from '../models/gpt.js';
import type { CharTokenizer } from '../data/char-tokenizer.js';
import type { OptimizerStateDict } from '../optim/optimizer.js';
import type { EvalRecord, StepRecord, TrainOptions, Trainer } from './trainer.js';

/** `format` of a training checkpoint's trainer.json. */
export const CHECKPOINT_FORMAT = 'qkv-train-checkpoint/2';
/** The first format, still read: the whole loss history inside every trainer.json. */
export const CHECKPOINT_FORMAT_V1 = 'qkv-train-checkpoint/1';
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
  /** Where the loss history up to this checkpoint is (format 1: inline). */
  history: HistoryRef;
}

/**
 * The loss history of a checkpoint: the first `bytes` bytes of `file` (in the run folder), which
 * hold `steps` step records and `evals` evaluation records, one JSON object a line
 * (`{"kind":"step",step,loss,lr,ms}`, `{"kind":"eval",step,train,val}`). Later checkpoints of the
 * run append to the same file, so every checkpoint's prefix stays valid; bytes past the newest
 * checkpoint's (appended by a save that was killed) are dropped by the next save.
 */
export type HistoryRef =
  | { file: string; bytes: number; steps: number; evals: number }
  | { inline: { steps: StepRecord[]; evals: EvalRecord[] } };

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
/** The temporary folder a checkpoint is written into before it is renamed: `.step-NNNNNN.<pid>.tmp`. */
export const STEP_TEMP = /^\.step-\d+\.(?<pid>\d+)\.tmp$/;
/** History files: `history-<run id>.jsonl`. */
export const HISTORY_FILE = /^history-[0-9a-f]+\.jsonl$/;
