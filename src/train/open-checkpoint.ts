/**
 * One reader for every checkpoint a qkv command accepts. `openCheckpoint(path)` tells apart
 *
 *   train-run    a `qkv train` folder: DIR/latest names the newest complete step folder
 *   train-step   one of its step folders: step-NNNNNN/{model,optimizer}.safetensors + trainer.json
 *   export       a `qkv export --to pytorch` folder (or train.py's --out): config.json + model.safetensors
 *   safetensors  a bare .safetensors file: weights only, so it needs a config (`{ config }`)
 *   torch        a torch.save file (zip or legacy): nanoGPT's ckpt.pt (config from its model_args,
 *                char tokenizer from nanoGPT's meta.pkl when one is found), or a bare state dict
 *                in nanoGPT's names with `{ config }`
 *
 * and refuses, with a CheckpointError that names the path and what it is: a Hugging Face model folder (config.json with
 * `model_type`), a folder or file that is none of these, an incomplete run folder. It returns the
 * model config, the state dict, the tokenizer (or null) and the weights' metadata; every command
 * (`qkv sample`, `qkv doctor`, `qkv export`, `qkv train --resume`) opens checkpoints through it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from '../errors.js';
import { GPT, type GPTConfig } from '../models/gpt.js';
import { loadFile } from '../io/files.js';
import { SNIFF_BYTES, sniffFormat } from '../io/sniff.js';
import { CharTokenizer } from '../data/char-tokenizer.js';
import { Tensor } from '../tensor/tensor.js';
import { loadTorch } from '../io/torch/files.js';
import { loadPickle } from '../io/torch/plain-pickle.js';
import { fromNanoGPT } from '../io/key-maps.js';
import { isNanoGPTCheckpoint, nanoGPTParts } from '../models/torch-checkpoint.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V1, EXPORT_FORMAT, STEP_FOLDER, type ExportConfig, type TrainState } from './checkpoint-format.js';
import type { EvalRecord, StepRecord } from './trainer.js';

export type CheckpointKind = 'train-run' | 'train-step' | 'export' | 'safetensors' | 'torch';

/** Where a checkpoint's parts are, as found by detectCheckpoint (nothing loaded yet). */
export interface CheckpointLocation {
  kind: CheckpointKind;
  /** The path as given. */
  path: string;
  /** The file holding the model's weights (safetensors, or the torch.save file). */
  weightsFile: string;
  /** train-run / train-step: the step folder (the one `latest` names, for a run). */
  stepFolder: string | null;
  /** train-run / train-step: the run folder (where `latest` lives). */
  runFolder: string | null;
}

export interface Checkpoint extends CheckpointLocation {
  /** The model config (a GPT's). */
  config: GPTConfig;
  /** The state dict as stored; a declared tie's alias shares storage with its target. */
  weights: Record<string, Tensor>;
  /** The char tokenizer saved with the model, or null (a bare weights file, an export without data). */
  tokenizer: CharTokenizer | null;
  /** The weights file's safetensors `__metadata__`. */
  metadata: Record<string, string>;
  /** train-run / train-step: trainer.json (options, step, optimizer scalars, RNG states…). */
  trainState: TrainState | null;
  /** export: config.json. */
  exportConfig: ExportConfig | null;
}

export interface OpenOptions {
  /**
   * The model config to use instead of the checkpoint's (required for a bare .safetensors file):
   * a GPTConfig, or a JSON file holding one — bare, or as an export's config.json (`model`) or a
   * trainer.json (`modelConfig`), whose tokenizer then comes along.
   */
  config?: GPTConfig | string;
}

const WHAT_IS_ACCEPTED = 'a `qkv train` folder (or one of its step-NNNNNN folders), a `qkv export` folder, nanoGPT\'s ckpt.pt, or a .safetensors file with --model CONFIG.json';

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CheckpointError(`${file}: cannot read the ${what}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`${file}: the ${what} is not valid JSON (${(err as Error).message})`);
  }
}

/** The first bytes of a file, for sniffing. */
function head(file: string): Uint8Array {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = new Uint8Array(SNIFF_BYTES);
    return buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** A step folder must hold all three parts. */
function checkStepFolder(folder: string, why: string): void {
  for (const part of ['trainer.json', 'model.safetensors']) {
    if (!fs.existsSync(path.join(folder, part))) throw new CheckpointError(`${folder}: ${why}, but it has no ${part} (an incomplete checkpoint)`);
  }
}

/**
 * Finds out what `p` is and where its parts are, reading only small files (latest, config.json)
 * and the first bytes of a file. Throws a CheckpointError naming what `p` is when it is not a
 * checkpoint qkv opens.
 */
export function detectCheckpoint(p: string): CheckpointLocation {
  if (!fs.existsSync(p)) throw new CheckpointError(`${p}: no such file or folder; expected ${WHAT_IS_ACCEPTED}`);
  const has = (name: string): boolean => fs.existsSync(path.join(p, name));
  if (fs.statSync(p).isFile()) {
    const sniffed = sniffFormat(head(p));
    if (sniffed.format === 'safetensors') return { kind: 'safetensors', path: p, weightsFile: p, stepFolder: null, runFolder: null };
    if (sniffed.format === 'torch-zip' || sniffed.format === 'torch-legacy') return { kind: 'torch', path: p, weightsFile: p, stepFolder: null, runFolder: null };
    const base = path.basename(p);
    if (base === 'trainer.json' || base === 'config.json' || base === 'latest') {
      throw new CheckpointError(`${p} is part of a checkpoint: pass the folder it is in (${path.dirname(p)})`);
    }
    throw new CheckpointError(`${p}: ${sniffed.message.replace(/, not safetensors/, '')}; expected ${WHAT_IS_ACCEPTED}`);
  }
  if (has('latest')) {
    const latest = path.join(p, 'latest');
    const name = fs.readFileSync(latest, 'utf8').trim();
    if (!STEP_FOLDER.test(name)) throw new CheckpointError(`${latest} names ${JSON.stringify(name.slice(0, 80))}, not a step-NNNNNN folder`);
    const stepFolder = path.join(p, name);
    if (!fs.existsSync(stepFolder)) throw new CheckpointError(`${latest} names ${name}, which does not exist in ${p}`);
    checkStepFolder(stepFolder, `${latest} names it`);
    return { kind: 'train-run', path: p, weightsFile: path.join(stepFolder, 'model.safetensors'), stepFolder, runFolder: p };
  }
  if (has('trainer.json')) {
    checkStepFolder(p, 'it has a trainer.json');
    return { kind: 'train-step', path: p, weightsFile: path.join(p, 'model.safetensors'), stepFolder: p, runFolder: path.dirname(path.resolve(p)) };
  }
  if (has('config.json')) {
    const cfgFile = path.join(p, 'config.json');
    const cfg = readJson(cfgFile, 'config') as Record<string, unknown> | null;
    const format = cfg !== null && typeof cfg === 'object' ? cfg.format : undefined;
    if (format === EXPORT_FORMAT) {
      if (!has('model.safetensors')) throw new CheckpointError(`${p}: an export folder (config.json) without its model.safetensors`);
      return { kind: 'export', path: p, weightsFile: path.join(p, 'model.safetensors'), stepFolder: null, runFolder: null };
    }
    if (cfg !== null && typeof cfg === 'object' && typeof cfg.model_type === 'string') {
      const weights = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'].filter(has);
      throw new CheckpointError(
        `${p} is a Hugging Face model folder (model_type ${JSON.stringify(cfg.model_type)}${weights.length ? `, weights in ${weights.join(', ')}` : ''}); qkv does not open Hugging Face folders as checkpoints yet: build the model from its state dict with models.gptFromHFGPT2 / models.gptFromGPTNeoX`,
      );
    }
    throw new CheckpointError(`${cfgFile} is not a qkv export config (its format is ${JSON.stringify(format ?? null)}, expected ${JSON.stringify(EXPORT_FORMAT)})`);
  }
  const torchFile = fs.readdirSync(p).find((f) => /\.(pt|pth|bin|ckpt)$/.test(f) && fs.statSync(path.join(p, f)).isFile());
  if (torchFile && ['torch-zip', 'torch-legacy'].includes(sniffFormat(head(path.join(p, torchFile))).format)) {
    throw new CheckpointError(`${p}: a folder holding the torch.save file ${torchFile}: pass the file itself (qkv sample ${path.join(p, torchFile)})`);
  }
  if (has('model.safetensors')) {
    return { kind: 'safetensors', path: p, weightsFile: path.join(p, 'model.safetensors'), stepFolder: null, runFolder: null };
  }
  throw new CheckpointError(`${p}: not a checkpoint (no latest, trainer.json, config.json or model.safetensors in it); expected ${WHAT_IS_ACCEPTED}`);
}

/** trainer.json of a step folder, checked for its format. */
export function readTrainState(stepFolder: string): TrainState {
  const file = path.join(stepFolder, 'trainer.json');
  const json = readJson(file, 'trainer state') as TrainState & { evals?: EvalRecord[] };
  const format = json !== null && typeof json === 'object' ? json.format : undefined;
  if (format === CHECKPOINT_FORMAT_V1 && Array.isArray(json.history)) {
    // Format 1 kept the whole history in every trainer.json.
    const { evals, ...rest } = json;
    return { ...rest, format: CHECKPOINT_FORMAT, history: { inline: { steps: json.history as unknown as StepRecord[], evals: evals ?? [] } } };
  }
  if (format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`${file} has format ${JSON.stringify(format ?? null)}, expected ${CHECKPOINT_FORMAT} (or ${CHECKPOINT_FORMAT_V1})`);
  }
  return json;
}

/** An export folder's config.json, checked for its format. */
export function readExportConfig(folder: string): ExportConfig {
  const file = path.join(folder, 'config.json');
  const json = readJson(file, 'export config') as ExportConfig;
  if (json === null || typeof json !== 'object' || json.format !== EXPORT_FORMAT) {
    throw new CheckpointError(`${file} has format ${JSON.stringify((json as { format?: unknown } | null)?.format ?? null)}, expected ${EXPORT_FORMAT}`);
  }
  return json;
}

/**
 * A model config from a JSON file: a bare GPTConfig, an export's config.json (`model`) or a
 * trainer.json (`modelConfig`); the tokenizer comes along when the file has one.
 */
export function readModelConfig(file: string): { config: GPTConfig; tokenizer: CharTokenizer | null } {
  if (!fs.existsSync(file)) throw new CheckpointError(`${file}: no such config file`);
  const raw = readJson(file, 'model config') as Record<string, unknown> | null;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CheckpointError(`${file}: a model config must be a JSON object`);
  const config = (raw.model ?? raw.modelConfig ?? raw) as GPTConfig;
  for (const k of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    if (!Number.isSafeInteger(config[k]) || config[k] <= 0) {
      throw new CheckpointError(`${file}: the model config needs ${k} (a positive integer), got ${JSON.stringify(config[k] ?? null)}`);
    }
  }
  const tok = raw.tokenizer;
  return { config, tokenizer: tok ? CharTokenizer.fromJSON(tok) : null };
}

/**
 * Opens a checkpoint (see the module comment for the kinds): its config, state dict, tokenizer
 * and metadata. `opts.config` overrides the checkpoint's config and is required for a bare
 * .safetensors file.
 */
export function openCheckpoint(p: string, opts: OpenOptions = {}): Checkpoint {
  const loc = detectCheckpoint(p);
  let config: GPTConfig | null = null;
  let tokenizer: CharTokenizer | null = null;
  let trainState: TrainState | null = null;
  let exportConfig: ExportConfig | null = null;
  if (loc.stepFolder) {
    trainState = readTrainState(loc.stepFolder);
    config = trainState.modelConfig;
    tokenizer = CharTokenizer.fromJSON(trainState.tokenizer);
  } else if (loc.kind === 'export') {
    exportConfig = readExportConfig(p);
    config = exportConfig.model;
    tokenizer = exportConfig.tokenizer ? CharTokenizer.fromJSON(exportConfig.tokenizer) : null;
  }
  if (opts.config !== undefined) {
    if (typeof opts.config === 'string') {
      const read = readModelConfig(opts.config);
      config = read.config;
      tokenizer = read.tokenizer ?? tokenizer;
    } else config = opts.config;
  }
  if (loc.kind === 'torch') return openTorchSave(loc, config, tokenizer);
  if (config === null) {
    const what = loc.weightsFile === p ? `${p} is a bare safetensors file` : `${p} holds model.safetensors but no config.json or trainer.json`;
    throw new CheckpointError(`${what}: weights without a model config; pass the config (qkv doctor ${p} --model CONFIG.json), or open the folder it came from`);
  }
  const { tensors, metadata } = loadFile(loc.weightsFile);
  return { ...loc, config, weights: tensors, tokenizer, metadata, trainState, exportConfig };
}

/**
 * A torch.save file: nanoGPT's ckpt.pt (model + model_args), or — with a config — a bare state
 * dict in nanoGPT's names. The tokenizer is nanoGPT's meta.pkl (char-level stoi/itos) next to
 * the file or at data/<dataset>/meta.pkl above it, as nanoGPT's sample.py finds it; without one
 * the checkpoint has no tokenizer (nanoGPT then uses GPT-2's BPE).
 */
function openTorchSave(loc: CheckpointLocation, config: GPTConfig | null, tokenizer: CharTokenizer | null): Checkpoint {
  const file = loc.weightsFile;
  const obj = loadTorch(file);
  let weights: Record<string, Tensor>;
  let dataset: unknown;
  if (isNanoGPTCheckpoint(obj)) {
    const parts = nanoGPTParts(obj, file);
    config ??= parts.config;
    weights = parts.weights;
    dataset = (obj.config as Record<string, unknown> | undefined)?.dataset;
  } else if (config !== null && obj !== null && typeof obj === 'object' && Object.values(obj).every((v) => v instanceof Tensor)) {
    weights = fromNanoGPT(obj as Record<string, Tensor>);
  } else {
    const keys = obj !== null && typeof obj === 'object' ? Object.keys(obj).slice(0, 8).join(', ') : typeof obj;
    throw new CheckpointError(`${file}: a torch.save file that is not a nanoGPT checkpoint (no model and model_args; it holds ${keys}); pass --model CONFIG.json if it is a GPT state dict, or read it with io.loadTorch`);
  }
  tokenizer ??= nanoGPTTokenizer(file, typeof dataset === 'string' ? dataset : null);
  return { ...loc, config, weights, tokenizer, metadata: {}, trainState: null, exportConfig: null };
}

/** nanoGPT's char tokenizer from meta.pkl ({ vocab_size, itos, stoi }), if one is found. */
function nanoGPTTokenizer(ckptFile: string, dataset: string | null): CharTokenizer | null {
  const dir = path.dirname(path.resolve(ckptFile));
  const candidates = [path.join(dir, 'meta.pkl')];
  if (dataset) for (const root of [dir, path.dirname(dir), process.cwd()]) candidates.push(path.join(root, 'data', dataset, 'meta.pkl'));
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) return null;
  const meta = loadPickle(new Uint8Array(fs.readFileSync(found))) as { itos?: Record<string, unknown>; vocab_size?: unknown };
  const itos = meta?.itos;
  if (!itos || typeof itos !== 'object') throw new CheckpointError(`${found}: nanoGPT's meta.pkl should hold itos (id → character), got keys ${Object.keys(meta ?? {}).join(', ')}`);
  const n = Object.keys(itos).length;
  const chars: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = itos[String(i)];
    if (typeof c !== 'string') throw new CheckpointError(`${found}: itos[${i}] is ${JSON.stringify(c ?? null)}, expected a character (ids must run 0 … ${n - 1})`);
    chars.push(c);
  }
  return new CharTokenizer(chars);
}

/**
 * A GPT built from a checkpoint's config with its weights loaded (strict: every key must match).
 * Ties follow the config (`tieWeights`); a file's declared ties load as equal values.
 */
export function modelFromCheckpoint(ck: Checkpoint): GPT {
  const model = new GPT(ck.config);
  model.loadStateDict(ck.weights);
  return model;
}
