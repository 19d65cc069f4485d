/**
 * GPT: a nanoGPT-style decoder-only transformer (Karpathy's nanoGPT model.py, in qkv).
 *
 * Parameter names are nanoGPT's (`transformer.wte.weight`, `transformer.h.0.attn.c_attn.weight`,
 * …, `lm_head.weight`), so a nanoGPT state dict saved as safetensors loads directly.
 *
 *   x = drop(wte(idx) + wpe(pos))                              (B, T, C)
 *   pre-LN (default): x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))
 *   post-LN:          x = ln_1(x + attn(x)); x = ln_2(x + mlp(x))
 *   logits = lm_head(ln_f(x))                                  (B, T, V)
 *
 * Init (nanoGPT): Linear and Embedding weights N(0, 0.02), biases 0, and the residual
 * projections (attn.c_proj, mlp.c_proj) N(0, 0.02/√(2·nLayer)) — each of the 2·nLayer residual
 * branches adds to the stream, so their sum keeps a width-independent scale (GPT-2 paper, §2.3).
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/allocator.js';
import { cat } from '../ops/shape.js';
import { crossEntropy } from '../ops/loss.js';
import { multinomial, topKFilter } from '../ops/sampling.js';
import type { Generator } from '../tensor/random.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/linear.js';
import { Embedding } from '../nn/embedding.js';
import { LayerNorm } from '../nn/normalization.js';
import { Dropout, GELU } from '../nn/activation.js';
import { ModuleDict, ModuleList } from '../nn/container.js';
import { HookPoint } from '../nn/hook-point.js';
import { Attention, type AttentionCache, type AttentionStorage } from '../nn/attention.js';
import type { QKVLayout } from '../nn/qkv-layout.js';
import { tie } from '../nn/tie.js';
import * as init from '../nn/init.js';
import { AdamW } from '../optim/adam.js';
import type { Parameter } from '../nn/parameter.js';
import { checkLayout } from '../nn/qkv-layout.js';
import { ATTENTION_STORAGES } from '../nn/attention.js';
import { checkOptions, callOptions, checkBool, checkNumber, isOptionsObject } from '../options.js';

export interface GPTConfig {
  vocabSize: number;
  /** Context length (positions). */
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Default 0. */
  dropout?: number;
  /** Biases in Linears and LayerNorms (nanoGPT's `bias`). Default true. */
  bias?: boolean;
  /** Pre-LN (GPT-2, nanoGPT) when true, the default; post-LN (original transformer) when false. */
  normFirst?: boolean;
  /** One parameter for wte.weight and lm_head.weight. Default true. */
  tieWeights?: boolean;
  /** Storage of W_Q, W_K, W_V (see nn.Attention). Default 'fused'. */
  attention?: AttentionStorage;
  /** MLP activation: exact GELU (nanoGPT, default) or the tanh approximation (HF GPT-2's gelu_new). */
  activation?: 'gelu' | 'gelu_tanh';
  /** Position information: a learned table wpe (GPT-2, default) or rotary embeddings in attention (GPT-NeoX). */
  positional?: 'learned' | 'rotary';
  /** Fraction of each head's features that rotate (GPT-NeoX's rotary_pct; Pythia uses 0.25). Default 1. */
  rotaryPct?: number;
  /** Rotary frequency base. Default 10000. */
  rotaryBase?: number;
  /** x + attn(ln_1(x)) + mlp(ln_2(x)) in one step (GPT-NeoX's use_parallel_residual). Default false. */
  parallelResidual?: boolean;
  /** Packing of the fused q, k, v projection. Default 'blocked' (nanoGPT, GPT-2); GPT-NeoX is 'head-interleaved'. */
  layout?: QKVLayout;
  /** LayerNorm epsilon. Default 1e-5. */
  layerNormEps?: number;
}

export type ResolvedGPTConfig = Required<GPTConfig>;

/** Every key of GPTConfig (a config with any other key is refused, naming the nearest of these). */
export const GPT_CONFIG_KEYS: readonly (keyof GPTConfig)[] = [
  'vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'dropout', 'bias', 'normFirst', 'tieWeights', 'attention',
  'activation', 'positional', 'rotaryPct', 'rotaryBase', 'parallelResidual', 'layout', 'layerNormEps',
];

/**
 * The config with every default filled in, after checking it: an unknown key (nanoGPT's
 * `n_layer`, a typo) is an ArgumentError naming the nearest valid key (`nLayer`), and every value
 * is checked for its type and range.
 */
export function resolveGPTConfig(c: GPTConfig): ResolvedGPTConfig {
  if (!isOptionsObject(c)) throw new ArgumentError(`GPT: the config must be an object { vocabSize, blockSize, nLayer, nHead, nEmbd, … }, got ${JSON.stringify(c) ?? typeof c}`);
  checkOptions(c, GPT_CONFIG_KEYS, 'GPT config');
  const given = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as unknown as GPTConfig;
  const r: ResolvedGPTConfig = {
    dropout: 0, bias: true, normFirst: true, tieWeights: true, attention: 'fused', activation: 'gelu',
    positional: 'learned', rotaryPct: 1, rotaryBase: 10000, parallelResidual: false, layout: 'blocked', layerNormEps: 1e-5, ...given,
  };
  for (const k of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    if (!Number.isInteger(r[k]) || r[k] <= 0) throw new ArgumentError(`GPT: config.${k} must be a positive integer, got ${r[k]}`);
  }
  for (const k of ['bias', 'normFirst', 'tieWeights', 'parallelResidual'] as const) checkBool(r[k], k, 'GPT config');
  checkNumber(r.dropout, 'dropout', 'GPT config', 0, 1);
  checkNumber(r.rotaryBase, 'rotaryBase', 'GPT config', Number.MIN_VALUE);
  checkNumber(r.layerNormEps, 'layerNormEps', 'GPT config', 0);
  if (!(r.rotaryPct > 0 && r.rotaryPct <= 1)) throw new ArgumentError(`GPT: config.rotaryPct must be in (0, 1], got ${r.rotaryPct}`);
  if (!ATTENTION_STORAGES.includes(r.attention)) throw new ArgumentError(`GPT: config.attention must be one of ${ATTENTION_STORAGES.join(', ')}, got ${JSON.stringify(r.attention)}`);
  if (r.activation !== 'gelu' && r.activation !== 'gelu_tanh') throw new ArgumentError(`GPT: config.activation must be 'gelu' or 'gelu_tanh', got ${JSON.stringify(r.activation)}`);
  checkLayout(r.layout, 'GPT config');
  if (r.nEmbd % r.nHead !== 0) throw new ArgumentError(`GPT: nEmbd ${r.nEmbd} must be divisible by nHead ${r.nHead}`);
  if (r.positional !== 'learned' && r.positional !== 'rotary') throw new ArgumentError(`GPT: positional must be 'learned' or 'rotary', got ${JSON.stringify(r.positional)}`);
  if (r.parallelResidual && !r.normFirst) throw new ArgumentError('GPT: parallelResidual needs normFirst (pre-LN)');
  return r;
}

/** The feed-forward block: c_fc (C → 4C), GELU, c_proj (4C → C), dropout. */
export class MLP extends Module {
  declare c_fc: Linear;
  declare gelu: GELU;
  declare c_proj: Linear;
  declare dropout: Dropout;
  declare hook_pre: HookPoint;
  declare hook_post: HookPoint;

  constructor(config: GPTConfig) {
    super();
    const c = resolveGPTConfig(config);
    this.registerModule('c_fc', new Linear(c.nEmbd, 4 * c.nEmbd, { bias: c.bias }));
    this.registerModule('gelu', new GELU(c.activation === 'gelu_tanh' ? 'tanh' : 'none'));
    this.registerModule('c_proj', new Linear(4 * c.nEmbd, c.nEmbd, { bias: c.bias }));
    this.registerModule('dropout', new Dropout(c.dropout));
    this.registerModule('hook_pre', new HookPoint());
    this.registerModule('hook_post', new HookPoint());
  }

  override forward(x: Tensor): Tensor {
    const pre = this.hook_pre.forward(this.c_fc.forward(x)); // (B, T, 4C)
    const post = this.hook_post.forward(this.gelu.forward(pre));
    return this.dropout.forward(this.c_proj.forward(post));
  }
}

/** One transformer block: attention and MLP, each with a LayerNorm and a residual connection. */
export class Block extends Module {
  declare ln_1: LayerNorm;
  declare attn: Attention;
  declare ln_2: LayerNorm;
  declare mlp: MLP;
  declare hook_resid_pre: HookPoint;
  declare hook_attn_out: HookPoint;
  declare hook_resid_mid: HookPoint;
  declare hook_mlp_out: HookPoint;
  declare hook_resid_post: HookPoint;
  readonly normFirst: boolean;
  readonly parallelResidual: boolean;

  constructor(config: GPTConfig) {
    super();
    const c = resolveGPTConfig(config);
    this.normFirst = c.normFirst;
    this.parallelResidual = c.parallelResidual;
    const C = c.nEmbd, D = C / c.nHead;
    const rotaryDims = 2 * Math.floor((D * c.rotaryPct) / 2);
    this.registerModule('ln_1', new LayerNorm(C, { bias: c.bias, eps: c.layerNormEps }));
    this.registerModule('attn', new Attention({
      dim: C, heads: c.nHead, dimHead: D, storage: c.attention, layout: c.layout, qkvBias: c.bias, outBias: c.bias,
      dropout: c.dropout, causal: true, keys: 'nanogpt',
      rotary: c.positional === 'rotary' ? { dims: rotaryDims, base: c.rotaryBase } : null,
    }));
    this.registerModule('ln_2', new LayerNorm(C, { bias: c.bias, eps: c.layerNormEps }));
    this.registerModule('mlp', new MLP(c));
    for (const h of ['hook_resid_pre', 'hook_attn_out', 'hook_resid_mid', 'hook_mlp_out', 'hook_resid_post']) this.registerModule(h, new HookPoint());
  }

  override forward(x: Tensor, cache?: AttentionCache): Tensor {
    x = this.hook_resid_pre.forward(x);
    if (this.parallelResidual) {
      const a = this.hook_attn_out.forward(this.attn.forward(this.ln_1.forward(x), { cache }));
      const m = this.hook_mlp_out.forward(this.mlp.forward(this.ln_2.forward(x)));
      return this.hook_resid_post.forward(x.add(a).add(m));
    }
    if (this.normFirst) {
      x = this.hook_resid_mid.forward(x.add(this.hook_attn_out.forward(this.attn.forward(this.ln_1.forward(x), { cache }))));
      return this.hook_resid_post.forward(x.add(this.hook_mlp_out.forward(this.mlp.forward(this.ln_2.forward(x)))));
    }
    x = this.hook_resid_mid.forward(this.ln_1.forward(x.add(this.hook_attn_out.forward(this.attn.forward(x, { cache })))));
    return this.hook_resid_post.forward(this.ln_2.forward(x.add(this.hook_mlp_out.forward(this.mlp.forward(x)))));
  }
}

export interface GPTOutput {
  /** (B, T, V), or (B, 1, V) with lastOnly. */
  logits: Tensor;
  /** Mean cross-entropy over targets ≠ −1, when targets were given. */
  loss: Tensor | null;
}

export interface GPTForwardOptions {
  /** Keys and values of earlier positions, one entry per layer (createCache()). */
  cache?: AttentionCache[];
  /** Logits for the last position only (B, 1, V), as nanoGPT at inference. */
  lastOnly?: boolean;
}

export interface GenerateOptions {
  /** Divides the logits; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Reuse keys and values of earlier positions (same tokens as recomputing). Default true. */
  useCache?: boolean;
  generator?: Generator;
}

export class GPT extends Module {
  readonly config: ResolvedGPTConfig;
  declare transformer: ModuleDict;
  declare lm_head: Linear;
  declare hook_embed: HookPoint;
  declare hook_pos_embed: HookPoint;

  constructor(config: GPTConfig) {
    super();
    const c = (this.config = resolveGPTConfig(config));
    const h = new ModuleList(Array.from({ length: c.nLayer }, () => new Block(c)));
    this.registerModule('transformer', new ModuleDict<Module>({
      wte: new Embedding(c.vocabSize, c.nEmbd),
      ...(c.positional === 'learned' ? { wpe: new Embedding(c.blockSize, c.nEmbd) } : {}),
      drop: new Dropout(c.dropout),
      h,
      ln_f: new LayerNorm(c.nEmbd, { bias: c.bias, eps: c.layerNormEps }),
    }));
    this.registerModule('lm_head', new Linear(c.nEmbd, c.vocabSize, { bias: false }));
    this.registerModule('hook_embed', new HookPoint());
    this.registerModule('hook_pos_embed', new HookPoint());
    // lm_head.weight = wte.weight (Hugging Face's direction; nanoGPT assigns the other way). The
    // direction does not matter here: resetParameters() below draws the shared weight N(0, 0.02).
    if (c.tieWeights) tie(this.lm_head, this.wte);
    this.resetParameters();
  }

  get wte(): Embedding { return this.transformer.get('wte') as Embedding; }
  /** The learned position table, or null with rotary embeddings. */
  get wpe(): Embedding | null { return this.config.positional === 'learned' ? (this.transformer.get('wpe') as Embedding) : null; }
  get blocks(): ModuleList<Block> { return this.transformer.get('h') as ModuleList<Block>; }
  get lnF(): LayerNorm { return this.transformer.get('ln_f') as LayerNorm; }

  override resetParameters(): void {
    const std = 0.02;
    const residualStd = 0.02 / Math.sqrt(2 * this.config.nLayer);
    for (const [name, m] of this.namedModules()) {
      if (m instanceof Linear) {
        init.normal_(m.weight, 0, name.endsWith('c_proj') ? residualStd : std);
        if (m.bias) init.zeros_(m.bias);
      } else if (m instanceof Embedding) {
        init.normal_(m.weight, 0, std);
      } else if (m instanceof LayerNorm) {
        m.resetParameters();
      } else if (m instanceof Attention && m.storage === 'merged-qk') {
        m.initMergedFromFactors((t) => init.normal_(t, 0, std));
      }
    }
  }

  /**
   * Args: idx (B, T) int64 token ids; targets (B, T) int64 (−1 = ignore); `cache` continues from
   * earlier positions; `lastOnly` computes logits for the last position only (as nanoGPT does
   * at inference).
   */
  override forward(idx: Tensor, targets?: Tensor | null, opts: GPTForwardOptions = {}): GPTOutput {
    checkOptions(opts, ['cache', 'lastOnly'], 'GPT.forward');
    if (idx.ndim !== 2) throw new ShapeError(`GPT: idx must be (B, T) token ids, got ${fmtShape(idx.shape)}`);
    const [, T] = idx.shape;
    const past = opts.cache?.[0]?.k ? opts.cache[0].k.shape[2] : 0;
    if (past + T > this.config.blockSize) {
      throw new ShapeError(`GPT: cannot forward a sequence of length ${past + T}${past ? ` (${past} cached + ${T} new)` : ''}; the block size is only ${this.config.blockSize}`);
    }
    if (opts.cache && opts.cache.length !== this.config.nLayer) throw new ArgumentError(`GPT: the cache has ${opts.cache.length} layers, the model ${this.config.nLayer}; use model.createCache()`);
    let x = this.hook_embed.forward(this.wte.forward(idx)); // (B, T, C)
    if (this.wpe) {
      const pos = Tensor.arange(T, 'int64').add(past); // (T)
      x = x.add(this.hook_pos_embed.forward(this.wpe.forward(pos))); // + (T, C)
    }
    x = (this.transformer.get('drop') as Dropout).forward(x);
    let i = 0;
    for (const block of this.blocks) x = block.forward(x, opts.cache?.[i++]);
    x = this.lnF.forward(x);
    if (targets) {
      const logits = this.lm_head.forward(x); // (B, T, V)
      const V = this.config.vocabSize;
      const loss = crossEntropy(logits.reshape([-1, V]), targets.reshape([-1]), { ignoreIndex: -1 });
      return { logits, loss };
    }
    return { logits: this.lm_head.forward(opts.lastOnly ? x.slice(1, T - 1) : x), loss: null };
  }

  /** An empty key/value cache, one entry per layer, holding up to blockSize positions in place. */
  createCache(): AttentionCache[] {
    return Array.from({ length: this.config.nLayer }, () => ({ k: null, v: null, capacity: this.config.blockSize }));
  }

  /**
   * Appends `maxNewTokens` tokens to idx (B, T), sampling from the model (no graph is recorded).
   * With the cache, each step feeds only the new token; when the context outgrows blockSize the
   * window is cropped and recomputed, exactly as nanoGPT's recompute does. Put the model in
   * eval() first if it has dropout. Options go in an object or positionally as nanoGPT's
   * `generate(idx, max_new_tokens, temperature, top_k)`.
   */
  generate(idx: Tensor, maxNewTokens: number, opts?: GenerateOptions): Tensor;
  generate(idx: Tensor, maxNewTokens: number, temperature: number, topK?: number | null, opts?: GenerateOptions): Tensor;
  generate(idx: Tensor, maxNewTokens: number, ...rest: unknown[]): Tensor {
    const o = callOptions<Omit<GenerateOptions, 'topK'> & { topK?: number | null }>('GPT.generate', rest, ['temperature', 'topK'], ['temperature', 'topK', 'useCache', 'generator']);
    const { temperature = 1, useCache = true, generator } = o;
    const topK = o.topK ?? undefined;
    if (topK !== undefined && !(Number.isInteger(topK) && topK > 0)) throw new ArgumentError(`GPT.generate: topK must be a positive integer, got ${JSON.stringify(topK)}`);
    checkBool(useCache, 'useCache', 'GPT.generate');
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new ArgumentError(`GPT.generate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
    if (!(temperature >= 0)) throw new ArgumentError(`GPT.generate: temperature must be ≥ 0, got ${temperature}`);
    return noGrad(() => {
      const bs = this.config.blockSize;
      let seq = idx;
      let cache: AttentionCache[] | null = null;
      for (let step = 0; step < maxNewTokens; step++) {
        // Each step in a tidy() scope: its activations go back to the pool at once (the cache is kept).
        const next = tidy(() => {
          const T = seq.shape[1];
          let logits: Tensor;
          if (useCache && cache && T <= bs) {
            logits = this.forward(seq.slice(1, T - 1), null, { cache, lastOnly: true }).logits;
          } else {
            cache = useCache ? this.createCache() : null;
            const context = T > bs ? seq.slice(1, T - bs) : seq;
            logits = this.forward(context, null, { cache: cache ?? undefined, lastOnly: true }).logits;
            if (T > bs) cache = null; // a cropped window: the next step recomputes (positions shift)
          }
          let last = logits.select(1, 0); // (B, V)
          if (temperature === 0) return last.argmax(-1, true);
          last = last.div(temperature);
          if (topK !== undefined) last = topKFilter(last, topK);
          return multinomial(last.softmax(-1), 1, false, generator);
        });
        seq = cat([seq, next], 1);
      }
      return seq;
    });
  }

  /**
   * Parameters counted once (ties included). `nonEmbedding: true` subtracts the position
   * embeddings, as nanoGPT's get_num_params(non_embedding=True) — which is nanoGPT's default but
   * not qkv's; `numParameters(true)` is the positional form.
   */
  override numParameters(opts: boolean | { nonEmbedding?: boolean; trainableOnly?: boolean } = {}): number {
    const { nonEmbedding = false, trainableOnly = false } = typeof opts === 'boolean' ? { nonEmbedding: opts } : checkOptions(opts, ['nonEmbedding', 'trainableOnly'], 'GPT.numParameters');
    const n = super.numParameters({ trainableOnly });
    return nonEmbedding && this.wpe ? n - this.wpe.weight.numel() : n;
  }

  /** nanoGPT's weight-decay split: tensors with ≥ 2 dims decay (matmuls, embeddings), the rest (biases, norms) do not. */
  weightDecayGroups(weightDecay: number): { params: Parameter[]; weightDecay: number }[] {
    const params = this.parameters().filter((p) => p.requiresGrad);
    return [
      { params: params.filter((p) => p.ndim >= 2), weightDecay },
      { params: params.filter((p) => p.ndim < 2), weightDecay: 0 },
    ];
  }

  /**
   * Metadata recorded with the weights when a GPT is saved: the model config and the packing of
   * its fused q, k, v projections, so a loader (and `qkv doctor`) can check that the weights are
   * read the way they were written.
   */
  checkpointMetadata(): Record<string, string> {
    return { format: 'pt', 'qkv.model': 'GPT', 'qkv.layout': this.config.layout, 'qkv.config': JSON.stringify(this.config) };
  }

  /**
   * AdamW over weightDecayGroups (nanoGPT's configure_optimizers): options
   * { weightDecay (0.1), lr (6e-4), betas ([0.9, 0.95]) } or positionally as nanoGPT's
   * (weight_decay, learning_rate, betas).
   */
  configureOptimizers(opts?: { weightDecay?: number; lr?: number; betas?: [number, number] }): AdamW;
  configureOptimizers(weightDecay: number, lr?: number, betas?: [number, number], deviceType?: 'cpu'): AdamW;
  configureOptimizers(...rest: unknown[]): AdamW {
    const { weightDecay = 0.1, lr = 6e-4, betas = [0.9, 0.95] } = callOptions<{ weightDecay?: number; lr?: number; betas?: [number, number] }>(
      'GPT.configureOptimizers', rest, ['weightDecay', 'lr', 'betas', 'deviceType'], ['weightDecay', 'lr', 'betas'],
      { deviceType: { torch: 'device_type', ok: (v) => v === undefined || v === 'cpu' } },
    );
    return new AdamW(this.weightDecayGroups(weightDecay), { lr, betas });
  }
}
