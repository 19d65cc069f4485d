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
import { CheckpointError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { defaultGenerator } from '../tensor/random.js';
import type { GPT } from '../models/gpt.js';
import { loadFile, saveFile, writeFileAtomic } from '../io/files.js';
import { saveModule } from '../nn/serialization.js';
import type { CharTokenizer } from '../data/char-tokenizer.js';
import type { TextData } from '../data/text-dataset.js';
import type { OptimizerStateDict } from '../optim/optimizer.js';
import { Trainer } from './trainer.js';
import { CHECKPOINT_FORMAT, stepFolderName, type TrainState } from './checkpoint-format.js';
import {
  detectCheckpoint, modelFromCheckpoint, openCheckpoint, readTrainState, type Checkpoint, type CheckpointLocation,
} from './open-checkpoint.js';

export { CHECKPOINT_FORMAT };

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

/** Writes a checkpoint of `trainer` under `dir` and points `dir/latest` at it; returns its folder. */
export function saveCheckpoint(trainer: Trainer, dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const name = stepFolderName(trainer.step);
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
    const json: TrainState = {
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

/** A CheckpointError unless `loc` is a train run or step folder (`what` names the caller). */
export function requireTrainCheckpoint(loc: CheckpointLocation, what: string): void {
  if (loc.stepFolder) return;
  throw new CheckpointError(`${what}: ${loc.path} is ${loc.kind === 'export' ? 'an export folder' : 'a bare safetensors file'}, not a \`qkv train\` folder (one with latest, or a step-NNNNNN folder with trainer.json)`);
}

/** The folder of the newest complete checkpoint under `dir` (or `dir` itself if it is one). */
export function latestCheckpoint(dir: string): string {
  const loc = detectCheckpoint(dir);
  requireTrainCheckpoint(loc, 'checkpoint');
  return loc.stepFolder!;
}

/** Reads a checkpoint's trainer.json (config, tokenizer, history…) without loading weights. */
export function readCheckpointInfo(dir: string): TrainState {
  return readTrainState(latestCheckpoint(dir));
}

/** Loads only the model (and tokenizer) of a training checkpoint, e.g. for sampling. */
export function loadCheckpointModel(dir: string): { model: GPT; tokenizer: CharTokenizer; info: TrainState } {
  requireTrainCheckpoint(detectCheckpoint(dir), 'checkpoint');
  const ck = openCheckpoint(dir);
  return { model: modelFromCheckpoint(ck), tokenizer: ck.tokenizer!, info: ck.trainState! };
}

/**
 * Rebuilds the Trainer of a checkpoint on `data` (which must use the checkpoint's tokenizer), with
 * model, optimizer, scheduler, RNG streams, step and history restored.
 */
export function resumeTrainer(from: string | Checkpoint, data: TextData): Trainer {
  const ck = typeof from === 'string' ? openCheckpoint(from) : from;
  requireTrainCheckpoint(ck, 'resume');
  const info = ck.trainState!, tokenizer = ck.tokenizer!;
  const model = modelFromCheckpoint(ck);
  if (tokenizer.chars.join('') !== data.tokenizer.chars.join('')) {
    throw new CheckpointError(`resume: the data's tokenizer (${data.tokenizer.vocabSize} chars) differs from the checkpoint's (${tokenizer.vocabSize}); resume on the same text`);
  }
  const trainer = new Trainer(model, data, info.trainOptions);
  const { tensors } = loadFile(path.join(ck.stepFolder!, 'optimizer.safetensors'));
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
