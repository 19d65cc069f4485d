/**
 * PyTorch checkpoints (torch.save files, read by io.loadTorch) into qkv modules:
 *
 * - `loadNanoGPT(ckpt)`: nanoGPT's `ckpt.pt` → a models.GPT configured from its `model_args`.
 * - `loadTorchModule(module, file)`: a torch.save'd state dict into any module, keeping ties.
 *
 * nanoGPT's train.py saves `{ model, optimizer, model_args, iter_num, best_val_loss, config }`
 * where `model` is `raw_model.state_dict()`: nanoGPT's parameter names (which qkv's GPT uses),
 * prefixed `_orig_mod.` when the model was torch.compile'd, with the causal-mask buffers
 * `transformer.h.<i>.attn.bias` (1, 1, T, T) when it was trained without flash attention
 * (PyTorch < 2), and `lm_head.weight` sharing its storage with `transformer.wte.weight` (nanoGPT
 * ties them).
 */
import { StateDictError, fmtShape } from '../errors.js';
import { checkOptions } from '../options.js';
import { Tensor } from '../tensor/tensor.js';
import { loadTorch } from '../io/torch/files.js';
import type { TorchLoadOptions } from '../io/torch/load.js';
import { fromNanoGPT } from '../io/key-maps.js';
import { findTies, retie } from '../nn/serialization.js';
import type { Module, LoadResult } from '../nn/module.js';
import { GPT, type GPTConfig } from './gpt.js';

/** nanoGPT's GPTConfig, as its checkpoints store it (`model_args`). */
export interface NanoGPTModelArgs {
  n_layer: number;
  n_head: number;
  n_embd: number;
  block_size: number;
  bias: boolean;
  vocab_size: number;
  dropout: number;
}

/** A nanoGPT checkpoint as train.py writes it (the fields qkv reads are checked; others are kept). */
export interface NanoGPTCheckpoint {
  model: Record<string, Tensor>;
  model_args: NanoGPTModelArgs;
  optimizer?: unknown;
  iter_num?: number;
  best_val_loss?: Tensor | number;
  config?: Record<string, unknown>;
}

type Source = string | Uint8Array | ArrayBuffer;
const isSource = (v: unknown): v is Source => typeof v === 'string' || v instanceof Uint8Array || v instanceof ArrayBuffer;
const isPlain = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

const ARGS: Record<keyof NanoGPTModelArgs, 'int' | 'bool' | 'rate'> = {
  n_layer: 'int', n_head: 'int', n_embd: 'int', block_size: 'int', bias: 'bool', vocab_size: 'int', dropout: 'rate',
};

/** Checks `model_args` as nanoGPT's `GPTConfig(**model_args)` would take it. */
function checkModelArgs(args: unknown, where: string): NanoGPTModelArgs {
  if (!isPlain(args)) throw new StateDictError(`${where}: model_args is ${args instanceof Map ? 'a Map (load with the default { dicts: "object" })' : typeof args}, not a dict`);
  for (const k of Object.keys(args)) {
    if (!(k in ARGS)) throw new StateDictError(`${where}: model_args has an unknown field ${JSON.stringify(k)} (nanoGPT's GPTConfig has ${Object.keys(ARGS).join(', ')})`);
  }
  for (const [k, kind] of Object.entries(ARGS)) {
    const v = args[k];
    if (v === undefined || v === null) throw new StateDictError(`${where}: model_args.${k} is missing`);
    const ok = kind === 'int' ? typeof v === 'number' && Number.isInteger(v) && v > 0
      : kind === 'bool' ? typeof v === 'boolean'
        : typeof v === 'number' && v >= 0 && v < 1;
    if (!ok) throw new StateDictError(`${where}: model_args.${k} is ${JSON.stringify(v)}, not ${kind === 'int' ? 'a positive int' : kind === 'bool' ? 'a bool' : 'a dropout rate in [0, 1)'}`);
  }
  return args as unknown as NanoGPTModelArgs;
}

function checkStateDict(sd: unknown, where: string): Record<string, Tensor> {
  if (!isPlain(sd)) throw new StateDictError(`${where} is ${sd instanceof Map ? 'a Map (load with the default { dicts: "object" })' : Array.isArray(sd) ? 'a list' : typeof sd}, not a state dict (name → tensor)`);
  for (const [k, v] of Object.entries(sd)) {
    if (!(v instanceof Tensor)) throw new StateDictError(`${where}[${JSON.stringify(k)}] is not a tensor; a state dict maps names to tensors`);
  }
  return sd as Record<string, Tensor>;
}

/**
 * Builds qkv's GPT from a nanoGPT checkpoint: a `ckpt.pt` path, its bytes, or the object
 * `io.loadTorch` returned. Reads `model_args` (n_layer, n_head, n_embd, block_size, bias,
 * vocab_size, dropout) into a GPTConfig (pre-LN, exact GELU, as nanoGPT), strips the `_orig_mod.`
 * prefix, checks and drops the causal-mask buffers `….attn.bias` (each must be the lower-triangular
 * ones it stands for), ties `lm_head` to `wte` when the checkpoint shares their storage (nanoGPT
 * always does) and loads the weights strictly. `overrides.dropout` replaces the checkpoint's dropout
 * (e.g. 0 for fine-tuning without it; `eval()` disables dropout for sampling anyway).
 *
 * Example: `const gpt = models.loadNanoGPT('out/ckpt.pt'); gpt.eval(); gpt.generate(idx, 100)`
 */
export function loadNanoGPT(source: Source | NanoGPTCheckpoint, overrides: { dropout?: number } = {}, opts?: TorchLoadOptions): GPT {
  checkOptions(overrides, ['dropout'], 'models.loadNanoGPT');
  const where = typeof source === 'string' ? `models.loadNanoGPT: ${source}` : 'models.loadNanoGPT';
  const ckpt: unknown = isSource(source) ? loadTorch(source, opts) : source;
  const { config, weights } = nanoGPTParts(ckpt, where);
  const model = new GPT({ ...config, ...overrides });
  model.loadStateDict(weights);
  return model;
}

/** Whether `ckpt` (what io.loadTorch returned) has nanoGPT's checkpoint structure. */
export function isNanoGPTCheckpoint(ckpt: unknown): ckpt is NanoGPTCheckpoint {
  return isPlain(ckpt) && 'model' in ckpt && 'model_args' in ckpt;
}

/**
 * A nanoGPT checkpoint's GPT config (from `model_args`) and its state dict under qkv's names
 * (`_orig_mod.` stripped, the causal-mask buffers checked and dropped); what loadNanoGPT and the
 * checkpoint opener build a GPT from.
 */
export function nanoGPTParts(ckpt: unknown, where: string): { config: GPTConfig; weights: Record<string, Tensor> } {
  if (!isPlain(ckpt)) throw new StateDictError(`${where}: the checkpoint is not a dict with model and model_args`);
  for (const k of ['model', 'model_args']) if (!(k in ckpt)) throw new StateDictError(`${where}: the checkpoint has no ${JSON.stringify(k)} entry (keys: ${Object.keys(ckpt).join(', ')}); is this nanoGPT's ckpt.pt?`);
  const args = checkModelArgs(ckpt.model_args, where);
  const raw = checkStateDict(ckpt.model, `${where}: model`);
  const sd: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(raw)) sd[k.startsWith('_orig_mod.') ? k.slice('_orig_mod.'.length) : k] = v;
  for (const [k, v] of Object.entries(sd)) {
    if (!/\.attn\.bias$/.test(k) || v.ndim !== 4) continue;
    const T = args.block_size;
    if (v.shape.join() !== `1,1,${T},${T}`) throw new StateDictError(`${where}: the causal mask ${k} has shape ${fmtShape(v.shape)}, expected [1,1,${T},${T}] for block_size ${T}`);
    const m = v.reshape([T, T]).toArray() as number[][];
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        if (m[i][j] !== (j <= i ? 1 : 0)) throw new StateDictError(`${where}: the mask ${k} is not causal (element [${i}, ${j}] is ${m[i][j]}); qkv's GPT always applies the lower-triangular mask`);
      }
    }
  }
  const weights = fromNanoGPT(sd);
  const wte = weights['transformer.wte.weight'], head = weights['lm_head.weight'];
  const tied = wte !== undefined && head !== undefined && wte.storage === head.storage && wte.offset === head.offset
    && wte.shape.join() === head.shape.join() && wte.strides.join() === head.strides.join();
  const config: GPTConfig = {
    vocabSize: args.vocab_size, blockSize: args.block_size, nLayer: args.n_layer, nHead: args.n_head, nEmbd: args.n_embd,
    dropout: args.dropout, bias: args.bias, normFirst: true, activation: 'gelu', tieWeights: tied,
  };
  return { config, weights };
}

/**
 * Loads a torch.save'd state dict (a path, bytes, or the object io.loadTorch returned) into
 * `module`, keeping ties: keys whose tensors are the same view of one storage (tied weights, e.g.
 * `transformer.wte.weight` and `lm_head.weight`) end up as one Parameter — where the module holds
 * two separate Parameters of that shape, the later key is pointed at the earlier one's, as
 * `loadModule` does for safetensors ties. Strict by default (missing/unexpected keys are errors).
 */
export function loadTorchModule(
  module: Module, source: Source | Record<string, Tensor>, opts: { strict?: boolean } & TorchLoadOptions = {},
): LoadResult & { retied: string[] } {
  const { strict = true, ...torchOpts } = checkOptions(opts, ['strict', 'dicts', 'widen', 'castFloats', 'checkCrc'], 'models.loadTorchModule');
  const sd = checkStateDict(isSource(source) ? loadTorch(source, torchOpts) : source, 'models.loadTorchModule: the state dict');
  const retied = retie(module, findTies(sd), 'models.loadTorchModule: the checkpoint');
  const r = module.loadStateDict(sd, { strict });
  return { ...r, retied };
}

