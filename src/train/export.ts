/**
 * Scale-out: hand a qkv model (or a training checkpoint) to PyTorch, and take it back.
 *
 * exportToPyTorch(dir, …) writes
 *   model.safetensors       the weights, PyTorch/nanoGPT names, ties once
 *   config.json             model config, train options, tokenizer, step (the format below)
 *   optimizer.safetensors   AdamW state by parameter name (from a checkpoint), so training continues
 *   data.safetensors        the token streams `train` and `val` (int32)
 *   train.py                a self-contained PyTorch script: rebuilds the same model, continues
 *                           training on one process or under torchrun (DDP; FSDP with --fsdp),
 *                           and writes the result in this same layout to --out
 * importFromPyTorch(dir) loads such a folder (exported, or written back by train.py) as a GPT.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { GPT } from '../models/gpt.js';
import { saveFile, writeFileAtomic } from '../io/files.js';
import { saveModule } from '../nn/serialization.js';
import type { CharTokenizer } from '../data/char-tokenizer.js';
import type { TextData } from '../data/text-dataset.js';
import { DEFAULT_TRAIN_OPTIONS, type Trainer } from './trainer.js';
import { EXPORT_FORMAT, type ExportConfig } from './checkpoint-format.js';
import { detectCheckpoint, modelFromCheckpoint, openCheckpoint } from './open-checkpoint.js';

export { EXPORT_FORMAT, type ExportConfig };

/**
 * The train.py template that the exporter copies: assets/pytorch/train.py of the package (two
 * folders up from this module, in src/train/ and in dist/train/ alike).
 */
export function trainPyPath(): string {
  return fileURLToPath(new URL('../../assets/pytorch/train.py', import.meta.url));
}

/**
 * Writes the export folder for `model`; pass `trainer` to carry its step, options and optimizer
 * state, and `data` to include tokens for train.py to train on.
 */
export function exportToPyTorch(dir: string, model: GPT, opts: { trainer?: Trainer; data?: TextData } = {}): string[] {
  const { trainer } = opts;
  const data = opts.data ?? trainer?.data;
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const file = (name: string) => {
    written.push(name);
    return path.join(dir, name);
  };
  saveModule(file('model.safetensors'), model, model.checkpointMetadata());
  const cfg: ExportConfig = {
    format: EXPORT_FORMAT,
    model: model.config,
    train: trainer?.opts ?? DEFAULT_TRAIN_OPTIONS,
    tokenizer: data ? data.tokenizer.toJSON() : null,
    dataSource: data?.source ?? null,
    step: trainer?.step ?? 0,
  };
  writeFileAtomic(file('config.json'), (fd) => fs.writeSync(fd, `${JSON.stringify(cfg, null, 1)}\n`));
  if (trainer && trainer.optimizer.state.size > 0) {
    const names = new Map([...model.namedParameters()].map(([n, p]) => [p as Tensor, n]));
    const tensors: Record<string, Tensor> = {};
    let step = 0;
    for (const [p, s] of trainer.optimizer.state) {
      const name = names.get(p);
      if (!name) continue;
      tensors[`${name}.exp_avg`] = s.exp_avg as Tensor;
      tensors[`${name}.exp_avg_sq`] = s.exp_avg_sq as Tensor;
      step = s.step as number;
    }
    saveFile(file('optimizer.safetensors'), tensors, { step: String(step) });
  }
  if (data) {
    const toTensor = (a: Int32Array) => Tensor.fromTypedArray(a, [a.length], 'int32');
    saveFile(file('data.safetensors'), { train: toTensor(data.train), val: toTensor(data.val) }, { source: data.source });
  }
  fs.copyFileSync(trainPyPath(), file('train.py'));
  fs.chmodSync(path.join(dir, 'train.py'), 0o755);
  return written;
}

/** Loads an export folder (or the --out folder train.py writes) as a GPT with its tokenizer. */
export function importFromPyTorch(dir: string): { model: GPT; tokenizer: CharTokenizer | null; config: ExportConfig } {
  const kind = detectCheckpoint(dir).kind;
  if (kind !== 'export') throw new CheckpointError(`importFromPyTorch: ${dir} is a ${kind} checkpoint, not a folder written by qkv export or by its train.py (config.json + model.safetensors)`);
  const ck = openCheckpoint(dir);
  return { model: modelFromCheckpoint(ck), tokenizer: ck.tokenizer, config: ck.exportConfig! };
}
