/**
 * Training checkpoints: everything a run needs to continue exactly where it stopped.
 *
 *   DIR/latest                  the name of the newest complete checkpoint (written atomically)
 *   DIR/step-000300/
 *     model.safetensors         the model's state dict, tied weights once (PyTorch/nanoGPT names)
 *     optimizer.safetensors     AdamW state tensors: `state.{i}.exp_avg`, `state.{i}.exp_avg_sq`
 *     trainer.json              model config, train options, tokenizer, step, optimizer groups and
 *                               step counts, scheduler, both RNG states, loss history
 *
 * A checkpoint is written into a temporary folder, fsynced and renamed into place, and only then
 * does `latest` move to it: a crash at any moment leaves `latest` naming a complete checkpoint.
 * Resuming restores model, optimizer, scheduler, RNG streams and step, so the loss curve of an
 * interrupted run is bit-identical to an uninterrupted one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { defaultGenerator } from '../tensor/random.js';
import { GPT, type GPTConfig } from '../models/gpt.js';
import { loadFile, saveFile, writeFileAtomic } from '../io/files.js';
import { loadModule, saveModule } from '../nn/serialization.js';
import { CharTokenizer } from '../data/char-tokenizer.js';
import type { TextData } from '../data/text-dataset.js';
import type { OptimizerStateDict } from '../optim/optimizer.js';
import { Trainer, type TrainOptions } from './trainer.js';

export const CHECKPOINT_FORMAT = 'qkv-train-checkpoint/1';

interface TrainerJson {
  format: string;
  modelConfig: GPTConfig;
  trainOptions: TrainOptions;
  tokenizer: ReturnType<CharTokenizer['toJSON']>;
  dataSource: string;
  step: number;
  optimizer: { param_groups: OptimizerStateDict['param_groups']; scalars: Record<string, Record<string, number>> };
  scheduler: ReturnType<Trainer['scheduler']['stateDict']>;
  rng: ReturnType<Trainer['rngState']>;
  history: Trainer['history'];
  evals: Trainer['evals'];
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

/** Writes a checkpoint of `trainer` under `dir` and points `dir/latest` at it; returns its folder. */
export function saveCheckpoint(trainer: Trainer, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const name = `step-${String(trainer.step).padStart(6, '0')}`;
  const final = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  try {
    saveModule(path.join(tmp, 'model.safetensors'), trainer.model, trainer.model.checkpointMetadata());
    const sd = trainer.optimizer.stateDict();
    const tensors: Record<string, Tensor> = {};
    const scalars: Record<string, Record<string, number>> = {};
    for (const [i, s] of Object.entries(sd.state)) {
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof Tensor) tensors[`state.${i}.${k}`] = v;
        else (scalars[i] ??= {})[k] = v;
      }
    }
    saveFile(path.join(tmp, 'optimizer.safetensors'), tensors);
    const json: TrainerJson = {
      format: CHECKPOINT_FORMAT,
      modelConfig: trainer.model.config,
      trainOptions: trainer.opts,
      tokenizer: trainer.data.tokenizer.toJSON(),
      dataSource: trainer.data.source,
      step: trainer.step,
      optimizer: { param_groups: sd.param_groups, scalars },
      scheduler: trainer.scheduler.stateDict(),
      rng: trainer.rngState(),
      history: trainer.history,
      evals: trainer.evals,
    };
    writeFileAtomic(path.join(tmp, 'trainer.json'), (fd) => fs.writeSync(fd, JSON.stringify(json)));
    fsyncDir(tmp);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(tmp, final);
    fsyncDir(dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  writeFileAtomic(path.join(dir, 'latest'), (fd) => fs.writeSync(fd, `${name}\n`));
  return final;
}

/** The folder of the newest complete checkpoint under `dir` (or `dir` itself if it is one). */
export function latestCheckpoint(dir: string): string {
  if (fs.existsSync(path.join(dir, 'trainer.json'))) return dir;
  const latest = path.join(dir, 'latest');
  if (!fs.existsSync(latest)) throw new ArgumentError(`checkpoint: ${dir} has no 'latest' file and is not a checkpoint folder (no trainer.json)`);
  const name = fs.readFileSync(latest, 'utf8').trim();
  if (!/^step-\d+$/.test(name)) throw new ArgumentError(`checkpoint: ${latest} names ${JSON.stringify(name)}, not a step-NNNNNN folder`);
  return path.join(dir, name);
}

/** Reads a checkpoint's trainer.json (config, tokenizer, history…) without loading weights. */
export function readCheckpointInfo(dir: string): TrainerJson {
  const folder = latestCheckpoint(dir);
  const file = path.join(folder, 'trainer.json');
  let json: TrainerJson;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerJson;
  } catch (err) {
    throw new ArgumentError(`checkpoint: cannot read ${file}: ${(err as Error).message}`);
  }
  if (json.format !== CHECKPOINT_FORMAT) throw new ArgumentError(`checkpoint: ${file} has format ${JSON.stringify(json.format)}, expected ${CHECKPOINT_FORMAT}`);
  return json;
}

/** Loads only the model (and tokenizer) of a checkpoint, e.g. for sampling. */
export function loadCheckpointModel(dir: string): { model: GPT; tokenizer: CharTokenizer; info: TrainerJson } {
  const info = readCheckpointInfo(dir);
  const model = new GPT(info.modelConfig);
  loadModule(model, path.join(latestCheckpoint(dir), 'model.safetensors'));
  return { model, tokenizer: CharTokenizer.fromJSON(info.tokenizer), info };
}

/**
 * Rebuilds the Trainer of a checkpoint on `data` (which must use the checkpoint's tokenizer), with
 * model, optimizer, scheduler, RNG streams, step and history restored.
 */
export function resumeTrainer(dir: string, data: TextData): Trainer {
  const { model, tokenizer, info } = loadCheckpointModel(dir);
  if (tokenizer.chars.join('') !== data.tokenizer.chars.join('')) {
    throw new ArgumentError(`checkpoint: the data's tokenizer (${data.tokenizer.vocabSize} chars) differs from the checkpoint's (${tokenizer.vocabSize}); resume on the same text`);
  }
  const trainer = new Trainer(model, data, info.trainOptions);
  const { tensors } = loadFile(path.join(latestCheckpoint(dir), 'optimizer.safetensors'));
  const state: OptimizerStateDict['state'] = {};
  for (const [k, v] of Object.entries(tensors)) {
    const [, i, name] = k.split('.');
    (state[i] ??= {})[name] = v;
  }
  for (const [i, s] of Object.entries(info.optimizer.scalars)) Object.assign((state[i] ??= {}), s);
  trainer.optimizer.loadStateDict({ state, param_groups: info.optimizer.param_groups });
  trainer.scheduler.loadStateDict(info.scheduler);
  trainer.batchGenerator.setState(info.rng.batch);
  defaultGenerator.setState(info.rng.global);
  trainer.step = info.step;
  trainer.history.push(...info.history);
  trainer.evals.push(...info.evals);
  return trainer;
}
