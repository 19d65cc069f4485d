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
 * These functions only rename (and transpose) tensors; models/pretrained.ts builds GPTs from them.
 */
import { StateDictError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * HF GPT-2 Conv1D weights are [in, out]; a Linear's are [out, in]: the same transpose both ways,
 * as a contiguous copy (checkpoint tensors, no graph).
 */
function transposeConv1D(w: Tensor): Tensor {
  if (w.ndim !== 2) throw new StateDictError(`a Conv1D weight must be 2-D, got ${fmtShape(w.shape)}`);
  const t = w.asStrided([w.shape[1], w.shape[0]], [w.strides[1], w.strides[0]], w.offset);
  return Tensor.fromTypedArray(t.toFlat(), t.shape, w.dtype);
}

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
      out[k] = transposeConv1D(v);
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
  for (const [k, v] of Object.entries(sd)) out[k] = CONV1D.test(k) ? transposeConv1D(v) : v;
  return out;
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

