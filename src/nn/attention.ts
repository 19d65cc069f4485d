/**
 * Attention: the vit-pytorch attention block with first-class W_Q, W_K, W_V, W_O.
 *
 * One function, three storages of its weights (problems 1 and 4 of DESIGN.md):
 *
 * - 'fused'     one `to_qkv` Linear (3·H·D, C), packed in `layout` ('blocked' by default, like
 *               vit-pytorch's chunk(3); 'head-interleaved' like GPT-NeoX). The fastest.
 * - 'separate'  `to_q`, `to_k`, `to_v`, each Linear (H·D, C).
 * - 'merged-qk' a trainable bilinear W_QK (H, C, C) per head instead of W_Q and W_K
 *               (scores = x W_QK xᵀ), plus `to_v`. With qkvBias, a key-bias vector
 *               `qk_bias` (H, C) carries the one bias term that is not softmax-invariant.
 *
 * Output: `to_out` = Sequential(Linear(H·D, C), Dropout) (keys `to_out.0.weight`,
 * `to_out.0.bias`). With `keys: 'nanogpt'` the names are nanoGPT's instead: `c_attn`, `c_q/c_k/c_v`,
 * `c_proj` (and dropouts `attn_dropout`, `resid_dropout`), which is what models.GPT uses.
 *
 * Init — every storage starts as PyTorch's Linear would for the fused layer:
 * fused and separate weights (and biases) ~ U(±1/√C): a Linear's bound depends only on fan_in = C,
 * so splitting (3·H·D, C) into three (H·D, C) keeps the distribution exactly. merged-qk starts
 * as the product W_Q W_Kᵀ of two such draws (and qk_bias = W_K b_q): its function at init has
 * exactly the fused model's distribution, rank ≤ D included. A fresh full-rank C×C draw would
 * instead change the scale and rank of the attention logits.
 *
 * Views read and write through to whatever storage is in use: `W_Q`, `W_K`, `W_V` (H, C, D),
 * `W_O` (H, D, C), `b_Q`, `b_K`, `b_V` (H, D), `b_O` (C), `W_QK` (merged-qk), `head(h)`, and the
 * circuits `QK(h)` = W_Q W_Kᵀ and `OV(h)` = W_V W_O as factored C×C matrices (unscaled, as in
 * TransformerLens; the scores are x·QK·xᵀ/√D).
 *
 * This file holds the module and its forward; the views are in attention-views.ts, the storage
 * conversion in attention-storage.ts, the rotary embedding in rotary.ts.
 *
 * Shape: x (B, T, C) → (B, T, C).
 * Example:
 *   const attn = new nn.Attention({ dim: 256, heads: 8, dimHead: 32 });
 *   const y = attn.forward(randn([32, 64, 256]));
 *   const sep = attn.convert('separate');          // same outputs and input gradients
 *   noGrad(() => attn.head(3).W_Q.zero_());         // edits attn.to_qkv.weight in place
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { keep } from '../tensor/allocator.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { cat } from '../ops/shape.js';
import { additiveMask, scaledDotProductAttention } from '../ops/attention.js';
import { triangleMask } from '../ops/triangle.js';
import type { FactoredMatrix } from '../ops/factored-matrix.js';
import { checkOptions, checkBool, checkNumber, isOptionsObject } from '../options.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { Linear } from './linear.js';
import { Dropout } from './activation.js';
import { Sequential } from './container.js';
import { HookPoint } from './hook-point.js';
import { checkLayout, mergeHeads, splitHeads, type QKVLayout } from './qkv-layout.js';
import { applyRotary, resolveRotary, type ResolvedRotary, type RotaryOptions } from './rotary.js';
import {
  ATTENTION_STORAGES, headViews, mergedQKWeight, ovCircuit, projectionBias, projectionWeight, qkCircuit, setWholeView, wholeView,
  type AttentionHead, type AttentionStorage, type AttentionWeights, type QKVRole,
} from './attention-views.js';
import { copyAttentionWeights, type ConversionReport } from './attention-storage.js';
import * as init from './init.js';

export { ATTENTION_STORAGES };
export type { AttentionHead, AttentionStorage, ConversionReport };
export type AttentionKeys = 'vit' | 'nanogpt';

export interface AttentionOptions {
  /** Model width C. */
  dim: number;
  /** Heads H. Default 8. */
  heads?: number;
  /** Head size D. Default 64. */
  dimHead?: number;
  /** Default 'fused'. */
  storage?: AttentionStorage;
  /** Packing of the fused projection. Default 'blocked'. */
  layout?: QKVLayout;
  /** Bias on the q, k, v projections. Default false (vit-pytorch). */
  qkvBias?: boolean;
  /** Bias on the output projection. Default true. */
  outBias?: boolean;
  /** Dropout on the attention weights and after the output projection (training only). Default 0. */
  dropout?: number;
  /** Each position attends only to itself and earlier ones. Default false. */
  causal?: boolean;
  /**
   * Rotary position embeddings (RoFormer; GPT-NeoX's rotate-half form) on the first `dims`
   * features of every q and k head (NeoX's rotary_pct · D), with frequency base `base` (10000).
   */
  rotary?: RotaryOptions | null;
  /** Parameter names: vit-pytorch's (default) or nanoGPT's. */
  keys?: AttentionKeys;
  dtype?: DType;
}

/**
 * Keys and values of earlier positions, grown by each forward that is given it. With a
 * `capacity` (GPT.createCache sets the context length), the first forward allocates buffers of
 * that many positions and later ones write into them in place — no copy of the past per step;
 * `k` and `v` are then views of the filled part. Without one, each step concatenates.
 */
export interface AttentionCache {
  /** (B, H, S, D) — or (B, 1, S, C) for merged-qk, whose keys are the inputs themselves. */
  k: Tensor | null;
  /** (B, H, S, D). */
  v: Tensor | null;
  /** Positions the cache can hold (preallocated); absent: grown by concatenation. */
  capacity?: number;
  /** The preallocated buffers (B, H, capacity, D), when `capacity` is set. */
  buffers?: { k: Tensor; v: Tensor } | null;
}

/** Appends `k`, `v` (…, T, D) to the cache; returns the keys and values of every position so far. */
function appendToCache(c: AttentionCache, k: Tensor, v: Tensor): [Tensor, Tensor] {
  const past = c.k ? c.k.shape[c.k.ndim - 2] : 0;
  const T = k.shape[k.ndim - 2];
  if (c.capacity === undefined || (isGradEnabled() && (k.requiresGrad || v.requiresGrad))) {
    // Grown by concatenation (and so differentiable through the past, when a graph is recorded).
    const all: [Tensor, Tensor] = c.k ? [cat([c.k, k], -2), cat([c.v!, v], -2)] : [k, v];
    [c.k, c.v] = [keep(all[0]), keep(all[1])];
    c.buffers = null;
    return all;
  }
  if (past + T > c.capacity) {
    throw new ShapeError(`Attention: the cache holds ${c.capacity} positions; ${past} cached + ${T} new do not fit`);
  }
  if (!c.buffers || c.buffers.k.shape.join() !== [...k.shape.slice(0, -2), c.capacity, k.shape[k.ndim - 1]].join()) {
    if (past > 0) throw new ShapeError(`Attention: keys of shape ${fmtShape(k.shape)} do not fit the cache's buffers`);
    const buf = (t: Tensor) => keep(Tensor.empty([...t.shape.slice(0, -2), c.capacity!, t.shape[t.ndim - 1]], t.dtype));
    c.buffers = { k: buf(k), v: buf(v) };
  }
  noGrad(() => {
    c.buffers!.k.narrow(-2, past, T).copy_(k);
    c.buffers!.v.narrow(-2, past, T).copy_(v);
  });
  c.k = c.buffers.k.narrow(-2, 0, past + T);
  c.v = c.buffers.v.narrow(-2, 0, past + T);
  return [c.k, c.v];
}

export interface AttentionForwardOptions {
  /** Append this step's keys and values to the cache and attend over all of them. */
  cache?: AttentionCache;
  /** (T, S) or broadcastable to (B, H, T, S): bool true = may attend (SDPA's convention); float = added. */
  mask?: Tensor | null;
}

const OPTION_KEYS = ['dim', 'heads', 'dimHead', 'storage', 'layout', 'qkvBias', 'outBias', 'dropout', 'causal', 'rotary', 'keys', 'dtype'] as const;

const NAMES = {
  vit: { qkv: 'to_qkv', q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out', attnDrop: 'dropout', residDrop: null },
  nanogpt: { qkv: 'c_attn', q: 'c_q', k: 'c_k', v: 'c_v', out: 'c_proj', attnDrop: 'attn_dropout', residDrop: 'resid_dropout' },
} as const;

export class Attention extends Module implements AttentionWeights {
  readonly dim: number;
  readonly heads: number;
  readonly dimHead: number;
  readonly storage: AttentionStorage;
  readonly layout: QKVLayout;
  readonly qkvBias: boolean;
  readonly outBias: boolean;
  readonly dropoutP: number;
  readonly causal: boolean;
  readonly keys: AttentionKeys;
  readonly dtype: DType;
  readonly rotary: ResolvedRotary | null;
  /** Set on a module returned by convert(): how faithful the conversion was. */
  conversionReport: ConversionReport | null = null;

  declare hook_q: HookPoint;
  declare hook_k: HookPoint;
  declare hook_v: HookPoint;
  declare hook_attn_scores: HookPoint;
  declare hook_pattern: HookPoint;
  declare hook_z: HookPoint;

  constructor(opts: AttentionOptions) {
    super();
    if (!isOptionsObject(opts)) throw new ArgumentError(`nn.Attention: takes one options object { dim, heads?, dimHead?, … }, got ${JSON.stringify(opts) ?? typeof opts}`);
    const { dim, heads = 8, dimHead = 64, storage = 'fused', layout = 'blocked', qkvBias = false, outBias = true, dropout = 0, causal = false, keys = 'vit', dtype = 'float32', rotary = null } = checkOptions(opts, OPTION_KEYS, 'nn.Attention');
    for (const [k, v] of [['qkvBias', qkvBias], ['outBias', outBias], ['causal', causal]] as const) checkBool(v, k, 'Attention');
    checkNumber(dropout, 'dropout', 'Attention', 0, 1);
    for (const [k, v] of [['dim', dim], ['heads', heads], ['dimHead', dimHead]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new ArgumentError(`Attention: ${k} must be a positive integer, got ${v}`);
    }
    if (!ATTENTION_STORAGES.includes(storage)) throw new ArgumentError(`Attention: storage must be one of ${ATTENTION_STORAGES.join(', ')}, got ${JSON.stringify(storage)}`);
    if (keys !== 'vit' && keys !== 'nanogpt') throw new ArgumentError(`Attention: keys must be 'vit' or 'nanogpt', got ${JSON.stringify(keys)}`);
    this.dim = dim;
    this.heads = heads;
    this.dimHead = dimHead;
    this.storage = storage;
    this.layout = checkLayout(layout, 'Attention');
    this.qkvBias = qkvBias;
    this.outBias = outBias;
    this.dropoutP = dropout;
    this.causal = causal;
    this.keys = keys;
    this.dtype = dtype;
    this.rotary = rotary ? resolveRotary(rotary, dimHead, 'Attention') : null;
    if (this.rotary && storage === 'merged-qk') {
      throw new ArgumentError("Attention: 'merged-qk' storage cannot use rotary embeddings: the rotation depends on the positions of q and k, so W_Q W_Kᵀ cannot absorb it into one matrix");
    }
    const C = dim, HD = heads * dimHead, n = NAMES[keys];
    if (storage === 'fused') {
      this.registerModule(n.qkv, new Linear(C, 3 * HD, { bias: qkvBias, dtype }));
    } else if (storage === 'separate') {
      for (const name of [n.q, n.k, n.v]) this.registerModule(name, new Linear(C, HD, { bias: qkvBias, dtype }));
    } else {
      this.registerParameter('W_QK', new Parameter(Tensor.empty([heads, C, C], dtype)));
      this.registerParameter('qk_bias', qkvBias ? new Parameter(Tensor.empty([heads, C], dtype)) : null);
      this.registerModule(n.v, new Linear(C, HD, { bias: qkvBias, dtype }));
    }
    if (n.residDrop === null) {
      this.registerModule(n.out, new Sequential(new Linear(HD, C, { bias: outBias, dtype }), new Dropout(dropout)));
    } else {
      this.registerModule(n.out, new Linear(HD, C, { bias: outBias, dtype }));
    }
    this.registerModule(n.attnDrop, new Dropout(dropout));
    if (n.residDrop !== null) this.registerModule(n.residDrop, new Dropout(dropout));
    for (const h of ['hook_q', 'hook_k', 'hook_v', 'hook_attn_scores', 'hook_pattern', 'hook_z']) this.registerModule(h, new HookPoint());
    this.resetParameters();
  }

  override resetParameters(): void {
    if (this.storage !== 'merged-qk') return; // the Linears initialised themselves
    const bound = 1 / Math.sqrt(this.dim);
    this.initMergedFromFactors((t) => init.uniform_(t, -bound, bound));
  }

  /**
   * merged-qk init: draws W_Q, W_K (and b_Q) with `draw` — as the factored model would draw
   * them — and stores W_QK = W_Q W_Kᵀ (and qk_bias = W_K b_Q). See the class doc for why.
   */
  initMergedFromFactors(draw: (t: Tensor) => void): void {
    if (this.storage !== 'merged-qk') throw new ArgumentError(`Attention.initMergedFromFactors: storage is '${this.storage}', not 'merged-qk'`);
    noGrad(() => {
      const { heads: H, dimHead: D, dim: C } = this;
      const wq = Tensor.empty([H * D, C]), wk = Tensor.empty([H * D, C]);
      draw(wq);
      draw(wk);
      const q = wq.view([H, D, C]).transpose(1, 2), k = wk.view([H, D, C]).transpose(1, 2); // (H, C, D)
      const { W_QK, qk_bias: qkb } = this.mergedQK();
      W_QK.copy_(q.matmul(k.mT));
      if (qkb) {
        const bq = Tensor.empty([H, D]);
        draw(bq);
        qkb.copy_(k.matmul(bq.unsqueeze(-1)).squeeze(-1)); // (H, C): W_K_h b_q_h
      }
    });
  }

  /** @internal The fused projection ('qkv') or a separate one ('q', 'k', 'v'), as stored. */
  projectionLinear(role: 'qkv' | QKVRole): Linear {
    const m = this._modules.get(NAMES[this.keys][role]);
    if (!(m instanceof Linear)) throw new ArgumentError(`Attention: no '${role}' projection in '${this.storage}' storage`);
    return m;
  }

  /** @internal merged-qk storage: W_QK (H, C, C) and qk_bias (H, C) or null. */
  mergedQK(): { W_QK: Parameter; qk_bias: Parameter | null } {
    const W_QK = this._parameters.get('W_QK');
    if (!W_QK) throw new ArgumentError(`Attention: W_QK is a parameter only in 'merged-qk' storage, not '${this.storage}'`);
    return { W_QK, qk_bias: this._parameters.get('qk_bias') ?? null };
  }

  /** The output projection Linear (H·D → C). */
  get outProj(): Linear {
    const m = this._modules.get(NAMES[this.keys].out)!;
    return (m instanceof Sequential ? m[0] : m) as Linear;
  }

  private get residDropout(): Module {
    const n = NAMES[this.keys];
    return n.residDrop === null ? ((this._modules.get(n.out) as Sequential)[1] as Module) : this._modules.get(n.residDrop)!;
  }

  private get attnDropout(): Dropout {
    return this._modules.get(NAMES[this.keys].attnDrop) as Dropout;
  }

  // -------------------------------------------------------------------------------------------
  // Forward

  override forward(x: Tensor, opts: AttentionForwardOptions = {}): Tensor {
    checkOptions(opts, ['cache', 'mask'], 'Attention.forward');
    if (x.ndim !== 3 || x.shape[2] !== this.dim) {
      throw new ShapeError(`Attention: expected input (B, T, ${this.dim}), got ${fmtShape(x.shape)}`);
    }
    const [B, T] = x.shape;
    const H = this.heads, D = this.dimHead;
    const toHeads = (t: Tensor) => t.view([B, T, H, D]).transpose(1, 2); // (B, T, H·D) → (B, H, T, D)
    const hooked = (hp: HookPoint, t: Tensor) => (hp.hasHooks() ? hp.forward(t.transpose(1, 2)).transpose(1, 2) : t); // hooks see (B, T, H, D)

    let q: Tensor, k: Tensor, v: Tensor;
    let keyBias: Tensor | null = null;
    if (this.storage === 'merged-qk') {
      q = x.unsqueeze(1).matmul(this.mergedQK().W_QK); // (B, H, T, C): queries mapped into key space
      k = x.unsqueeze(1); // (B, 1, T, C): the keys are the inputs
      v = hooked(this.hook_v, toHeads(this.projectionLinear('v').forward(x)));
    } else {
      if (this.storage === 'fused') [q, k, v] = splitHeads(this.projectionLinear('qkv').forward(x), H, this.layout);
      else [q, k, v] = (['q', 'k', 'v'] as const).map((r) => toHeads(this.projectionLinear(r).forward(x)));
      if (this.rotary) {
        const past = opts.cache?.k ? opts.cache.k.shape[2] : 0;
        q = applyRotary(q, past, this.rotary);
        k = applyRotary(k, past, this.rotary);
      }
      q = hooked(this.hook_q, q);
      k = hooked(this.hook_k, k);
      v = hooked(this.hook_v, v);
    }
    if (opts.cache) [k, v] = appendToCache(opts.cache, k, v);
    const S = k.shape[k.ndim - 2];
    const qkBias = this.storage === 'merged-qk' ? this.mergedQK().qk_bias : null;
    if (qkBias) {
      // x_j · u_h / √D for every key j: (B, 1, S, C) @ (H, C, 1) → (B, H, S, 1) → (B, H, 1, S)
      keyBias = k.matmul(qkBias.unsqueeze(-1)).transpose(-1, -2).mul(1 / Math.sqrt(D));
    }
    let mask: Tensor | null = opts.mask ? additiveMask(opts.mask, true, x.dtype) : null;
    if (this.causal) {
      // Query i (absolute position S − T + i) may attend to keys j ≤ S − T + i.
      const causal = additiveMask(triangleMask(T, S, S - T, false), true, x.dtype);
      mask = mask ? mask.add(causal) : causal;
    }
    if (keyBias) mask = mask ? mask.add(keyBias) : keyBias;

    const scale = 1 / Math.sqrt(D);
    let z: Tensor; // (B, H, T, D)
    if (this.hook_attn_scores.hasHooks() || this.hook_pattern.hasHooks()) {
      let scores = q.matmul(k.mT).mul(scale);
      if (mask) scores = scores.add(mask);
      scores = this.hook_attn_scores.forward(scores);
      const pattern = this.hook_pattern.forward(scores.softmax(-1));
      z = this.attnDropout.forward(pattern).matmul(v);
    } else {
      z = scaledDotProductAttention(q, k, v, { attnMask: mask, scale, dropoutP: this.dropoutP, training: this.training });
    }
    z = hooked(this.hook_z, z);
    const y = this.outProj.forward(mergeHeads(z)); // (B, T, H·D) → (B, T, C)
    return this.residDropout.forward(y);
  }

  // -------------------------------------------------------------------------------------------
  // Views (read and write through to the storage)

  /** (H, C, D): q_h = x @ W_Q[h]. */
  get W_Q(): Tensor { return projectionWeight(this, 'q'); }
  set W_Q(v: Tensor) { setWholeView(this, 'W_Q', v); }
  /** (H, C, D). */
  get W_K(): Tensor { return projectionWeight(this, 'k'); }
  set W_K(v: Tensor) { setWholeView(this, 'W_K', v); }
  /** (H, C, D). */
  get W_V(): Tensor { return projectionWeight(this, 'v'); }
  set W_V(v: Tensor) { setWholeView(this, 'W_V', v); }
  /** (H, D, C): the output projection's slice for each head; y = Σ_h z_h @ W_O[h] + b_O. */
  get W_O(): Tensor { return wholeView(this, 'W_O'); }
  set W_O(v: Tensor) { setWholeView(this, 'W_O', v); }
  /** (H, D) or null. */
  get b_Q(): Tensor | null { return projectionBias(this, 'q'); }
  get b_K(): Tensor | null { return projectionBias(this, 'k'); }
  get b_V(): Tensor | null { return projectionBias(this, 'v'); }
  /** (C) or null. */
  get b_O(): Tensor | null { return this.outProj.bias; }
  /** (H, C, C), merged-qk only. */
  get W_QK(): Tensor { return mergedQKWeight(this); }

  /** The views of head h, each (C, D) or (D, C), reading and writing through. */
  head(h: number): AttentionHead {
    return headViews(this, h);
  }

  /** The QK circuit W_Q W_Kᵀ (C, C) of head h — or of every head (H, C, C) — kept factored. */
  QK(h?: number): FactoredMatrix {
    return qkCircuit(this, h);
  }

  /** The OV circuit W_V W_O (C, C) of head h — or of every head (H, C, C) — kept factored. */
  OV(h?: number): FactoredMatrix {
    return ovCircuit(this, h);
  }

  // -------------------------------------------------------------------------------------------
  // Conversion between storages

  /**
   * A new module computing the same function with another storage (or layout). fused ↔ separate
   * and factored → merged-qk are exact; merged-qk → factored is the best rank-D factorisation of
   * each W_QK (exact when its rank ≤ D), reported in `conversionReport` of the result.
   */
  convert(storage: AttentionStorage, opts: { layout?: QKVLayout } = {}): Attention {
    checkOptions(opts, ['layout'], 'Attention.convert');
    const target = new Attention({
      dim: this.dim, heads: this.heads, dimHead: this.dimHead, storage, layout: opts.layout ?? this.layout,
      qkvBias: this.qkvBias, outBias: this.outBias, dropout: this.dropoutP, causal: this.causal, keys: this.keys, dtype: this.dtype,
      rotary: this.rotary,
    });
    target.train(this.training);
    const report = copyAttentionWeights(this, target);
    target.conversionReport = report;
    return target;
  }

  override extraRepr(): string {
    return `dim=${this.dim}, heads=${this.heads}, dim_head=${this.dimHead}, storage='${this.storage}'${this.storage === 'fused' ? `, layout='${this.layout}'` : ''}${this.causal ? ', causal=True' : ''}${this.rotary ? `, rotary_dims=${this.rotary.dims}` : ''}`;
  }
}

