/**
 * Checkpoint key maps between models.GPT and the layouts people bring:
 *
 * - nanoGPT: the same names (qkv's GPT uses them), possibly prefixed `_orig_mod.` by
 *   torch.compile, possibly with the causal-mask buffers `….attn.bias` of older nanoGPT.
 * - HF GPT-2 (GPT2LMHeadModel / GPT2Model): `transformer.` prefix optional, Conv1D weights stored
 *   [in, out] (transposed here to Linear's [out, in]), buffers `attn.bias` / `attn.masked_bias`,
 *   and usually no `lm_head.weight` (it is tied to wte). Uses gelu_new (GELU, tanh approximation).
 *
 * - HF GPT-NeoX / Pythia (GPTNeoXForCausalLM): `gpt_neox.embed_in`, `gpt_neox.layers.{i}.…`,
 *   `embed_out` (untied); query_key_value packed head-interleaved; rotary embeddings on
 *   rotary_pct of each head; parallel residual; buffers `attention.bias`, `attention.masked_bias`,
 *   `attention.rotary_emb.inv_freq`.
 *
 * Importers return qkv-named state dicts; `inferGPTConfig` reads the architecture off the shapes
 * (the head count is not in the weights and must be given).
 */
import { ArgumentError, StateDictError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { fromConv1D, toConv1D } from '../nn/qkv-layout.js';
import { GPT, type GPTConfig } from '../models/gpt.js';

const CONV1D = /\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

/** A nanoGPT state dict → qkv GPT names (strips `_orig_mod.`, drops causal-mask buffers). */
export function fromNanoGPT(sd: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k0, v] of Object.entries(sd)) {
    const k = k0.replace(/^_orig_mod\./, '');
    if (/\.attn\.bias$/.test(k) && v.ndim === 4) continue; // registered tril mask, not a parameter
    out[k] = v;
  }
  return out;
}

/** An HF GPT-2 state dict → qkv GPT names: Conv1D weights transposed, buffers dropped, lm_head tied if absent. */
export function fromHFGPT2(sd: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k0, v] of Object.entries(sd)) {
    if (/\.attn\.(bias|masked_bias)$/.test(k0)) continue;
    const k = k0.startsWith('transformer.') || k0 === 'lm_head.weight' ? k0 : `transformer.${k0}`;
    if (CONV1D.test(k)) {
      if (v.ndim !== 2) throw new StateDictError(`fromHFGPT2: ${k0} should be a 2-D Conv1D weight [in, out], got ${fmtShape(v.shape)}`);
      out[k] = fromConv1D(v);
    } else {
      out[k] = v;
    }
  }
  if (!('lm_head.weight' in out)) {
    if (!('transformer.wte.weight' in out)) throw new StateDictError('fromHFGPT2: the state dict has neither lm_head.weight nor transformer.wte.weight');
    out['lm_head.weight'] = out['transformer.wte.weight'];
  }
  return out;
}

/** qkv GPT state dict → HF GPT2LMHeadModel names (Conv1D weights transposed back to [in, out]). */
export function toHFGPT2(sd: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(sd)) out[k] = CONV1D.test(k) ? toConv1D(v) : v;
  return out;
}

/** The GPT architecture implied by a qkv-named state dict's shapes. */
export function inferGPTConfig(sd: Record<string, Tensor>, opts: { nHead: number } & Partial<GPTConfig>): GPTConfig {
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

const NEOX_LAYER: [RegExp, string][] = [
  [/^input_layernorm\./, 'ln_1.'],
  [/^post_attention_layernorm\./, 'ln_2.'],
  [/^attention\.query_key_value\./, 'attn.c_attn.'],
  [/^attention\.dense\./, 'attn.c_proj.'],
  [/^mlp\.dense_h_to_4h\./, 'mlp.c_fc.'],
  [/^mlp\.dense_4h_to_h\./, 'mlp.c_proj.'],
];

/** An HF GPT-NeoX state dict → qkv GPT names (buffers dropped; the packing stays head-interleaved). */
export function fromGPTNeoX(sd: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(sd)) {
    if (/\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/.test(k)) continue;
    let m: RegExpExecArray | null;
    if (k === 'gpt_neox.embed_in.weight') out['transformer.wte.weight'] = v;
    else if (k.startsWith('gpt_neox.final_layer_norm.')) out[`transformer.ln_f.${k.slice('gpt_neox.final_layer_norm.'.length)}`] = v;
    else if (k === 'embed_out.weight') out['lm_head.weight'] = v;
    else if ((m = /^gpt_neox\.layers\.(\d+)\.(.*)$/.exec(k))) {
      const rule = NEOX_LAYER.find(([re]) => re.test(m![2]));
      if (!rule) throw new StateDictError(`fromGPTNeoX: unknown key ${k}`);
      out[`transformer.h.${m[1]}.${m[2].replace(rule[0], rule[1])}`] = v;
    } else {
      throw new StateDictError(`fromGPTNeoX: unknown key ${k}`);
    }
  }
  return out;
}

/** qkv GPT state dict (head-interleaved, rotary) → HF GPT-NeoX names. */
export function toGPTNeoX(sd: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(sd)) {
    let m: RegExpExecArray | null;
    if (k === 'transformer.wte.weight') out['gpt_neox.embed_in.weight'] = v;
    else if (k.startsWith('transformer.ln_f.')) out[`gpt_neox.final_layer_norm.${k.slice('transformer.ln_f.'.length)}`] = v;
    else if (k === 'lm_head.weight') out['embed_out.weight'] = v;
    else if ((m = /^transformer\.h\.(\d+)\.(.*)$/.exec(k))) {
      const back = NEOX_LAYER.find(([, q]) => m![2].startsWith(q));
      if (!back) throw new StateDictError(`toGPTNeoX: ${k} has no GPT-NeoX name`);
      const hf = back[0].source.replace(/^\^/, '').replace(/\\\./g, '.');
      out[`gpt_neox.layers.${m[1]}.${hf}${m[2].slice(back[1].length)}`] = v;
    } else {
      throw new StateDictError(`toGPTNeoX: ${k} has no GPT-NeoX name`);
    }
  }
  return out;
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
