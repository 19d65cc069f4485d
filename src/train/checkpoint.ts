/**
 * Training checkpoints: everything a run needs to continue exactly where it stopped.
 *
 *   DIR/latest                  the name of the newest complete checkpoint (written atomically)
 *   DIR/history-<run id>.jsonl  the loss history, one record a line, written once and appended to
 *   DIR/step-000300/
 *     model.safetensors         the model's state dict, tied weights once (PyTorch/nanoGPT names)
 *     optimizer.safetensors     AdamW state tensors: `state.{i}.exp_avg`, `state.{i}.exp_avg_sq`
 *     trainer.json              model config, train options, tokenizer, step, optimizer groups and
 *                               step counts, scheduler, both RNG states, and where its history
 *                               ends in the history file (bytes, records)
 *
 * A checkpoint is written into a temporary folder (`.step-000300.<pid>.tmp`), fsynced and renamed
 * into place, and only then does `latest` move to it: a crash at any moment leaves `latest` naming
 * a complete checkpoint. Resuming restores model, optimizer, scheduler, RNG streams, step and
 * history, so the loss curve of an interrupted run is bit-identical to an uninterrupted one.
 *
 * Hygiene: each save (and each resume) first removes the temporaries that writers which are gone
 * left in DIR (killed saves: `.step-*.<pid>.tmp` folders, `.<file>.<pid>-<random>.tmp` files;
 * only those whose process no longer runs), and after `latest` has moved, keeps the newest `keep`
 * checkpoints plus the best one (lowest validation loss) and deletes the other step folders and
 * history files no kept checkpoint uses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CheckpointError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { defaultGenerator } from '../tensor/random.js';
import type { GPT } from '../models/gpt.js';
import { TEMP_FILE, loadFile, markInProgress, removeStaleTemporaries, saveFile, writeAll, writeFileAtomic } from '../io/files.js';
import { saveModule } from '../nn/serialization.js';
import type { CharTokenizer } from '../data/char-tokenizer.js';
import type { TextData } from '../data/text-dataset.js';
import type { OptimizerStateDict } from '../optim/optimizer.js';
import { Trainer, type EvalRecord, type StepRecord } from './trainer.js';
import {
  CHECKPOINT_FORMAT, HISTORY_FILE, STEP_FOLDER, STEP_TEMP, stepFolderName, type HistoryRef, type TrainState,
} from './checkpoint-format.js';
import {
  detectCheckpoint, modelFromCheckpoint, openCheckpoint, readTrainState, type Checkpoint, type CheckpointLocation,
} from './open-checkpoint.js';

export { CHECKPOINT_FORMAT };

/** Checkpoints kept by default: the newest 3, plus the best. */
export const DEFAULT_KEEP = 3;

export interface SaveCheckpointOptions {
  /** Keep the newest `keep` checkpoints plus the best (lowest validation loss); 0 keeps all. Default 3. */
  keep?: number;
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

/** What of a trainer's history is already in its run's history file (set by a save or a resume). */
interface Persisted { dir: string; file: string; bytes: number; steps: number; evals: number }
const persisted = new WeakMap<Trainer, Persisted>();

/**
 * Appends the records the history file does not have yet (after dropping anything past the
 * last checkpoint's end: lines a killed save appended), fsyncs it, and returns the new end.
 */
function appendHistory(trainer: Trainer, dir: string): Persisted {
  const prev = persisted.get(trainer);
  const base: Persisted = prev && prev.dir === path.resolve(dir)
    ? prev
    : { dir: path.resolve(dir), file: `history-${randomBytes(4).toString('hex')}.jsonl`, bytes: 0, steps: 0, evals: 0 };
  const lines = [
    ...trainer.history.slice(base.steps).map((r) => JSON.stringify({ kind: 'step', ...r })),
    ...trainer.evals.slice(base.evals).map((e) => JSON.stringify({ kind: 'eval', ...e })),
  ];
  const bytes = new TextEncoder().encode(lines.map((l) => `${l}\n`).join(''));
  const fd = fs.openSync(path.join(dir, base.file), fs.constants.O_WRONLY | fs.constants.O_CREAT);
  try {
    fs.ftruncateSync(fd, base.bytes);
    let done = 0;
    while (done < bytes.length) {
      const n = fs.writeSync(fd, bytes, done, bytes.length - done, base.bytes + done);
      if (!(n > 0)) throw new CheckpointError(`saveCheckpoint: writing ${base.file} made no progress after ${done} of ${bytes.length} bytes`);
      done += n;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { ...base, bytes: base.bytes + bytes.length, steps: trainer.history.length, evals: trainer.evals.length };
}

/** The history of a checkpoint (its prefix of the run's history file, or format 1's inline copy). */
export function readHistory(runFolder: string, ref: HistoryRef): { steps: StepRecord[]; evals: EvalRecord[] } {
  if ('inline' in ref) return ref.inline;
  const file = path.join(runFolder, ref.file);
  if (!HISTORY_FILE.test(ref.file)) throw new CheckpointError(`checkpoint: history file name ${JSON.stringify(ref.file)} is not history-<id>.jsonl`);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new CheckpointError(`checkpoint: cannot read the loss history ${file}: ${(err as Error).message}`);
  }
  if (bytes.length < ref.bytes) throw new CheckpointError(`checkpoint: ${file} has ${bytes.length} bytes, fewer than the ${ref.bytes} the checkpoint recorded (truncated, or a later run in this folder rewrote it)`);
  const steps: StepRecord[] = [], evals: EvalRecord[] = [];
  const text = bytes.subarray(0, ref.bytes).toString('utf8');
  for (const line of text.split('\n').slice(0, -1)) {
    const { kind, ...rec } = JSON.parse(line) as { kind: string } & Record<string, number>;
    if (kind === 'step') steps.push(rec as unknown as StepRecord);
    else evals.push(rec as unknown as EvalRecord);
  }
  if (steps.length !== ref.steps || evals.length !== ref.evals || (ref.bytes > 0 && !text.endsWith('\n'))) {
    throw new CheckpointError(`checkpoint: the first ${ref.bytes} bytes of ${file} hold ${steps.length} steps and ${evals.length} evaluations, not the ${ref.steps} and ${ref.evals} the checkpoint recorded`);
  }
  return { steps, evals };
}

/** Removes what killed writers left in a run folder (only temporaries whose process is gone). */
function cleanRunFolder(dir: string): string[] {
  return removeStaleTemporaries(dir, { patterns: [STEP_TEMP, TEMP_FILE] });
}

/**
 * Keeps the newest `keep` step folders, the one `latest` names and the best by validation loss
 * (from `evals`); deletes the other step folders and the history files no kept folder uses.
 */
function prune(dir: string, keep: number, latest: string, evals: readonly EvalRecord[], historyFile: string): string[] {
  if (keep === 0) return [];
  const folders = fs.readdirSync(dir).filter((n) => STEP_FOLDER.test(n)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const kept = new Set([...folders.slice(-keep), latest]);
  const val = new Map(evals.map((e) => [stepFolderName(e.step), e.val]));
  let best: string | null = null;
  for (const n of folders) {
    const v = val.get(n);
    if (v !== undefined && Number.isFinite(v) && (best === null || v < val.get(best)!)) best = n;
  }
  if (best) kept.add(best);
  const removed: string[] = [];
  for (const n of folders) {
    if (kept.has(n)) continue;
    fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    removed.push(n);
  }
  // History files: those of the kept checkpoints stay (a kept folder of an older run keeps its own).
  const used = new Set([historyFile]);
  for (const n of kept) {
    try {
      const h = readTrainState(path.join(dir, n)).history;
      if ('file' in h) used.add(h.file);
    } catch { /* an unreadable checkpoint keeps nothing alive */ }
  }
  for (const f of fs.readdirSync(dir)) {
    if (HISTORY_FILE.test(f) && !used.has(f)) {
      fs.rmSync(path.join(dir, f), { force: true });
      removed.push(f);
    }
  }
  return removed;
}

/**
 * Writes a checkpoint of `trainer` under `dir` and points `dir/latest` at it; returns its folder.
 * Stale temporaries of killed saves are removed first; old checkpoints beyond `opts.keep` after.
 */
export function saveCheckpoint(trainer: Trainer, dir: string, opts: SaveCheckpointOptions = {}): string {
  const keep = opts.keep ?? DEFAULT_KEEP;
  if (!Number.isSafeInteger(keep) || keep < 0) throw new CheckpointError(`saveCheckpoint: keep must be an integer ≥ 0 (0 keeps every checkpoint), got ${keep}`);
  fs.mkdirSync(dir, { recursive: true });
  cleanRunFolder(dir);
  const name = stepFolderName(trainer.step);
  const final = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  const done = markInProgress(tmp);
  let history: Persisted;
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp);
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
    history = appendHistory(trainer, dir);
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
      history: { file: history.file, bytes: history.bytes, steps: history.steps, evals: history.evals },
    };
    writeFileAtomic(path.join(tmp, 'trainer.json'), (fd) => writeAll(fd, new TextEncoder().encode(JSON.stringify(json))));
    fsyncDir(tmp);
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(tmp, final);
    fsyncDir(dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    done();
  }
  writeFileAtomic(path.join(dir, 'latest'), (fd) => writeAll(fd, new TextEncoder().encode(`${name}\n`)));
  persisted.set(trainer, history);
  prune(dir, keep, name, trainer.evals, history.file);
  return final;
}

/** A CheckpointError unless `loc` is a train run or step folder (`what` names the caller). */
export function requireTrainCheckpoint(loc: CheckpointLocation, what: string): void {
  if (loc.stepFolder) return;
  const is = { export: 'an export folder', safetensors: 'a bare safetensors file', torch: 'a torch.save checkpoint' } as Record<string, string>;
  throw new CheckpointError(`${what}: ${loc.path} is ${is[loc.kind] ?? loc.kind}, not a \`qkv train\` folder (one with latest, or a step-NNNNNN folder with trainer.json)`);
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
  const runFolder = path.dirname(path.resolve(ck.stepFolder!));
  const { steps, evals } = readHistory(runFolder, info.history);
  trainer.history.push(...steps);
  trainer.evals.push(...evals);
  if ('file' in info.history) persisted.set(trainer, { dir: runFolder, ...info.history });
  cleanRunFolder(runFolder);
  return trainer;
}
