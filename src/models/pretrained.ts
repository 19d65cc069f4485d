/**
 * Pretrained-checkpoint builders: a models.GPT configured and loaded from nanoGPT, HF GPT-2 or
 * HF GPT-NeoX/Pythia state dicts (renamed by io/key-maps.ts). The head count is not in the
 * weights; it comes from the caller or the HF config.json.
 */
import { ArgumentError, StateDictError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { fromGPTNeoX, fromHFGPT2, fromNanoGPT } from '../io/key-maps.js';
import { checkOptions } from '../options.js';
import { GPT, GPT_CONFIG_KEYS, type GPTConfig } from './gpt.js';

/** The GPT architecture implied by a qkv-named state dict's shapes. */
export function inferGPTConfig(sd: Record<string, Tensor>, opts: { nHead: number } & Partial<GPTConfig>): GPTConfig {
  checkOptions(opts, GPT_CONFIG_KEYS, 'inferGPTConfig');
  const wte = sd['transformer.wte.weight'], wpe = sd['transformer.wpe.weight'];
  if (!wte || !wpe) throw new StateDictError('inferGPTConfig: transformer.wte.weight and transformer.wpe.weight are required');
  const layers = new Set(Object.keys(sd).map((k) => /^transformer\.h\.(\d+)\./.exec(k)?.[1]).filter((x): x is string => x !== undefined));
  if (!Number.isInteger(opts.nHead) || opts.nHead <= 0) throw new ArgumentError(`inferGPTConfig: nHead must be given (it is not in the weights), got ${opts.nHead}`);
  const lm = sd['lm_head.weight'];
  return {
    vocabSize: wte.shape[0],
    nEmbd: wte.shape[1],
    blockSize: wpe.shape[0],
    nLayer: layers.size,
    bias: 'transformer.h.0.ln_1.bias' in sd,
    tieWeights: !lm || lm.storage === wte.storage || lm.sub(wte).abs().max().item() === 0,
    ...opts,
  };
}

/** A GPT built from an HF GPT-2 checkpoint (its config.json fields) and state dict. */
export function gptFromHFGPT2(sd: Record<string, Tensor>, config: { n_head: number; activation_function?: string; layer_norm_epsilon?: number }): GPT {
  if (config.layer_norm_epsilon !== undefined && Math.abs(config.layer_norm_epsilon - 1e-5) > 1e-12) {
    throw new ArgumentError(`gptFromHFGPT2: layer_norm_epsilon ${config.layer_norm_epsilon} is not supported (qkv's GPT uses 1e-5)`);
  }
  const act = config.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu') throw new ArgumentError(`gptFromHFGPT2: activation_function ${JSON.stringify(act)} is not supported (gelu_new or gelu)`);
  const qsd = fromHFGPT2(sd);
  const model = new GPT(inferGPTConfig(qsd, { nHead: config.n_head, activation: act === 'gelu_new' ? 'gelu_tanh' : 'gelu' }));
  model.loadStateDict(qsd);
  return model;
}

/** A GPT built from a nanoGPT state dict (nanoGPT's exact GELU); the head count must be given. */
export function gptFromNanoGPT(sd: Record<string, Tensor>, opts: { nHead: number } & Partial<GPTConfig>): GPT {
  const qsd = fromNanoGPT(sd);
  const model = new GPT(inferGPTConfig(qsd, opts));
  model.loadStateDict(qsd);
  return model;
}

/** The fields of an HF GPT-NeoX config.json that qkv reads. */
export interface GPTNeoXConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size?: number;
  max_position_embeddings: number;
  rotary_pct?: number;
  rotary_emb_base?: number;
  use_parallel_residual?: boolean;
  hidden_act?: string;
  layer_norm_eps?: number;
  tie_word_embeddings?: boolean;
}

/** A GPT configured as GPT-NeoX (rotary, head-interleaved, parallel residual) from an HF checkpoint. */
export function gptFromGPTNeoX(sd: Record<string, Tensor>, config: GPTNeoXConfig): GPT {
  const C = config.hidden_size;
  if (config.intermediate_size !== undefined && config.intermediate_size !== 4 * C) {
    throw new ArgumentError(`gptFromGPTNeoX: intermediate_size ${config.intermediate_size} is not 4 × hidden_size (${4 * C}), which qkv's GPT MLP assumes`);
  }
  const act = config.hidden_act ?? 'gelu';
  if (act !== 'gelu' && act !== 'gelu_new') throw new ArgumentError(`gptFromGPTNeoX: hidden_act ${JSON.stringify(act)} is not supported (gelu or gelu_new)`);
  const model = new GPT({
    vocabSize: config.vocab_size, blockSize: config.max_position_embeddings, nLayer: config.num_hidden_layers,
    nHead: config.num_attention_heads, nEmbd: C, bias: true, normFirst: true,
    tieWeights: config.tie_word_embeddings ?? false, positional: 'rotary', rotaryPct: config.rotary_pct ?? 1,
    rotaryBase: config.rotary_emb_base ?? 10000, parallelResidual: config.use_parallel_residual ?? true,
    layout: 'head-interleaved', layerNormEps: config.layer_norm_eps ?? 1e-5, activation: act === 'gelu_new' ? 'gelu_tanh' : 'gelu',
  });
  model.loadStateDict(fromGPTNeoX(sd));
  return model;
}
