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
 * Shape: x (B, T, C) → (B, T, C).
 * Example:
 *   const attn = new nn.Attention({ dim: 256, heads: 8, dimHead: 32 });
 *   const y = attn.forward(randn([32, 64, 256]));
 *   const sep = attn.convert('separate');          // same outputs and input gradients
 *   noGrad(() => attn.head(3).W_Q.zero_());         // edits attn.to_qkv.weight in place
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { cat, stack } from '../ops/shape.js';
import { eye } from '../tensor/creation.js';
import { additiveMask, scaledDotProductAttention } from '../ops/attention.js';
import { triangleMask } from '../ops/triangle.js';
import { FactoredMatrix } from '../ops/factored-matrix.js';
import { lowRankFactor } from '../ops/linalg.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { Linear } from './linear.js';
import { Dropout } from './activation.js';
import { Sequential } from './container.js';
import { HookPoint } from './hook-point.js';
import { checkLayout, mergeHeads, perHeadWeights, splitHeads, type QKVLayout } from './qkv-layout.js';
import * as init from './init.js';

export type AttentionStorage = 'fused' | 'separate' | 'merged-qk';
export const ATTENTION_STORAGES: readonly AttentionStorage[] = ['fused', 'separate', 'merged-qk'];
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
  rotary?: { dims: number; base?: number } | null;
  /** Parameter names: vit-pytorch's (default) or nanoGPT's. */
  keys?: AttentionKeys;
  dtype?: DType;
}

/** Keys and values of earlier positions, grown by each forward that is given it. */
export interface AttentionCache {
  /** (B, H, S, D) — or (B, 1, S, C) for merged-qk, whose keys are the inputs themselves. */
  k: Tensor | null;
  /** (B, H, S, D). */
  v: Tensor | null;
}

export interface AttentionForwardOptions {
  /** Append this step's keys and values to the cache and attend over all of them. */
  cache?: AttentionCache;
  /** (T, S) or broadcastable to (B, H, T, S): bool true = may attend (SDPA's convention); float = added. */
  mask?: Tensor | null;
}

const NAMES = {
  vit: { qkv: 'to_qkv', q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out', attnDrop: 'dropout', residDrop: null },
  nanogpt: { qkv: 'c_attn', q: 'c_q', k: 'c_k', v: 'c_v', out: 'c_proj', attnDrop: 'attn_dropout', residDrop: 'resid_dropout' },
} as const;

export interface ConversionReport {
  /** True when the conversion reproduces the function to float32 rounding. */
  exact: boolean;
  /** Per head, for merged-qk → factored: the rank of W_QK and the relative Frobenius error of its best rank-D factorisation. */
  heads: { rank: number; relativeError: number }[];
  /** Largest per-head relative error (0 when exact). */
  maxRelativeError: number;
}

/** One head's views (see Attention). */
export interface AttentionHead {
  W_Q: Tensor;
  W_K: Tensor;
  W_V: Tensor;
  W_O: Tensor;
  QK: FactoredMatrix;
  OV: FactoredMatrix;
}

export class Attention extends Module {
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
  readonly rotary: { dims: number; base: number } | null;
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
    const { dim, heads = 8, dimHead = 64, storage = 'fused', layout = 'blocked', qkvBias = false, outBias = true, dropout = 0, causal = false, keys = 'vit', dtype = 'float32', rotary = null } = opts;
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
    if (rotary) {
      if (!Number.isInteger(rotary.dims) || rotary.dims <= 0 || rotary.dims % 2 !== 0 || rotary.dims > dimHead) {
        throw new ArgumentError(`Attention: rotary.dims must be an even integer in [2, dimHead = ${dimHead}], got ${rotary.dims}`);
      }
      if (storage === 'merged-qk') {
        throw new ArgumentError("Attention: 'merged-qk' storage cannot use rotary embeddings: the rotation depends on the positions of q and k, so W_Q W_Kᵀ cannot absorb it into one matrix");
      }
    }
    this.rotary = rotary ? { dims: rotary.dims, base: rotary.base ?? 10000 } : null;
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
      this.param('W_QK').copy_(q.matmul(k.mT));
      const qkb = this.paramOrNull('qk_bias');
      if (qkb) {
        const bq = Tensor.empty([H, D]);
        draw(bq);
        qkb.copy_(k.matmul(bq.unsqueeze(-1)).squeeze(-1)); // (H, C): W_K_h b_q_h
      }
    });
  }

  private param(name: string): Parameter {
    return this._parameters.get(name)!;
  }

  private paramOrNull(name: string): Parameter | null {
    return this._parameters.get(name) ?? null;
  }

  private linear(role: 'qkv' | 'q' | 'k' | 'v'): Linear {
    return this._modules.get(NAMES[this.keys][role]) as Linear;
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
      q = x.unsqueeze(1).matmul(this.param('W_QK')); // (B, H, T, C): queries mapped into key space
      k = x.unsqueeze(1); // (B, 1, T, C): the keys are the inputs
      v = hooked(this.hook_v, toHeads(this.linear('v').forward(x)));
    } else {
      if (this.storage === 'fused') [q, k, v] = splitHeads(this.linear('qkv').forward(x), H, this.layout);
      else [q, k, v] = (['q', 'k', 'v'] as const).map((r) => toHeads(this.linear(r).forward(x)));
      if (this.rotary) {
        const past = opts.cache?.k ? opts.cache.k.shape[2] : 0;
        q = this.rotate(q, past);
        k = this.rotate(k, past);
      }
      q = hooked(this.hook_q, q);
      k = hooked(this.hook_k, k);
      v = hooked(this.hook_v, v);
    }
    if (opts.cache) {
      const c = opts.cache;
      if (c.k) {
        k = cat([c.k, k], -2);
        v = cat([c.v!, v], -2);
      }
      c.k = k;
      c.v = v;
    }
    const S = k.shape[k.ndim - 2];
    if (this.storage === 'merged-qk' && this.paramOrNull('qk_bias')) {
      // x_j · u_h / √D for every key j: (B, 1, S, C) @ (H, C, 1) → (B, H, S, 1) → (B, H, 1, S)
      keyBias = k.matmul(this.param('qk_bias').unsqueeze(-1)).transpose(-1, -2).mul(1 / Math.sqrt(D));
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
    return (this.residDropout.forward as (t: Tensor) => Tensor)(y);
  }

  /**
   * Rotary embedding of x (B, H, T, D) at positions past … past+T−1, GPT-NeoX's form: with
   * θ_j = base^(−2j/R) and the first R features split in halves (x₁, x₂),
   * x ↦ (x₁ cos − x₂ sin, x₂ cos + x₁ sin) per position; features R… pass through.
   */
  private rotate(x: Tensor, past: number): Tensor {
    const { dims: R, base } = this.rotary!;
    const T = x.shape[2], D = x.shape[3];
    const table = new Float64Array(T * R * 2);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < R / 2; j++) {
        const angle = (past + t) * Math.pow(base, (-2 * j) / R);
        for (const half of [0, R / 2]) {
          table[t * R + j + half] = Math.cos(angle);
          table[T * R + t * R + j + half] = Math.sin(angle);
        }
      }
    }
    const trig = Tensor.fromTypedArray(table, [2, T, R], 'float64').to(x.dtype);
    const cos = trig.select(0, 0), sin = trig.select(0, 1); // (T, R)
    const xr = x.narrow(-1, 0, R);
    const rotated = cat([xr.narrow(-1, R / 2, R / 2).neg(), xr.narrow(-1, 0, R / 2)], -1); // rotate_half
    const out = xr.mul(cos).add(rotated.mul(sin));
    return R === D ? out : cat([out, x.narrow(-1, R, D - R)], -1);
  }

  // -------------------------------------------------------------------------------------------
  // Views (read and write through to the storage)

  private noQK(name: string): never {
    throw new ArgumentError(`Attention: ${name} is not stored in 'merged-qk' storage (it keeps W_QK = W_Q W_Kᵀ per head); use attn.QK(h), attn.W_QK, or attn.convert('separate')`);
  }

  private projection(role: 'q' | 'k' | 'v'): Tensor {
    const H = this.heads, D = this.dimHead, C = this.dim;
    if (this.storage === 'fused') return perHeadWeights(this.linear('qkv').weight, H, this.layout)[['q', 'k', 'v'].indexOf(role)];
    if (this.storage === 'merged-qk' && role !== 'v') this.noQK(`W_${role.toUpperCase()}`);
    return this.linear(role).weight.view([H, D, C]).transpose(1, 2); // (H, C, D)
  }

  private projectionBias(role: 'q' | 'k' | 'v'): Tensor | null {
    if (!this.qkvBias) return null;
    const H = this.heads, D = this.dimHead;
    if (this.storage === 'fused') {
      const b = this.linear('qkv').bias!;
      const j = ['q', 'k', 'v'].indexOf(role);
      return this.layout === 'blocked' ? b.view([3, H, D]).select(0, j) : b.view([H, 3, D]).select(1, j);
    }
    if (this.storage === 'merged-qk' && role !== 'v') this.noQK(`b_${role.toUpperCase()}`);
    return this.linear(role).bias!.view([H, D]);
  }

  private write(view: Tensor, value: Tensor, name: string): void {
    if (value.shape.join() !== view.shape.join()) {
      throw new ShapeError(`Attention: ${name} has shape ${fmtShape(view.shape)}; cannot assign a tensor of shape ${fmtShape(value.shape)}`);
    }
    noGrad(() => view.copy_(value));
  }

  /** (H, C, D): q_h = x @ W_Q[h]. */
  get W_Q(): Tensor { return this.projection('q'); }
  set W_Q(v: Tensor) { this.write(noGrad(() => this.projection('q')), v, 'W_Q'); }
  /** (H, C, D). */
  get W_K(): Tensor { return this.projection('k'); }
  set W_K(v: Tensor) { this.write(noGrad(() => this.projection('k')), v, 'W_K'); }
  /** (H, C, D). */
  get W_V(): Tensor { return this.projection('v'); }
  set W_V(v: Tensor) { this.write(noGrad(() => this.projection('v')), v, 'W_V'); }
  /** (H, D, C): the output projection's slice for each head; y = Σ_h z_h @ W_O[h] + b_O. */
  get W_O(): Tensor { return this.outProj.weight.view([this.dim, this.heads, this.dimHead]).permute([1, 2, 0]); }
  set W_O(v: Tensor) { this.write(noGrad(() => this.W_O), v, 'W_O'); }
  /** (H, D) or null. */
  get b_Q(): Tensor | null { return this.projectionBias('q'); }
  get b_K(): Tensor | null { return this.projectionBias('k'); }
  get b_V(): Tensor | null { return this.projectionBias('v'); }
  /** (C) or null. */
  get b_O(): Tensor | null { return this.outProj.bias; }
  /** (H, C, C), merged-qk only. */
  get W_QK(): Tensor {
    if (this.storage !== 'merged-qk') throw new ArgumentError(`Attention: W_QK is a parameter only in 'merged-qk' storage; use attn.QK(h).AB to materialise it from '${this.storage}'`);
    return this.param('W_QK');
  }

  /** The views of head h, each (C, D) or (D, C), reading and writing through. */
  head(h: number): AttentionHead {
    if (!Number.isInteger(h) || h < 0 || h >= this.heads) throw new ArgumentError(`Attention.head: head ${h} is out of range for ${this.heads} heads`);
    const attn = this;
    const view = (name: 'W_Q' | 'W_K' | 'W_V' | 'W_O') => ({
      get: () => attn[name].select(0, h),
      set: (v: Tensor) => attn.write(noGrad(() => attn[name].select(0, h)), v, `head(${h}).${name}`),
      enumerable: true,
    });
    const out = {} as AttentionHead;
    for (const n of ['W_Q', 'W_K', 'W_V', 'W_O'] as const) Object.defineProperty(out, n, view(n));
    Object.defineProperty(out, 'QK', { get: () => attn.QK(h), enumerable: true });
    Object.defineProperty(out, 'OV', { get: () => attn.OV(h), enumerable: true });
    return out;
  }

  /** The QK circuit W_Q W_Kᵀ (C, C) of head h — or of every head (H, C, C) — kept factored. */
  QK(h?: number): FactoredMatrix {
    if (this.storage === 'merged-qk') {
      const w = h === undefined ? this.W_QK : this.W_QK.select(0, h);
      return new FactoredMatrix(w, eye(this.dim, this.dim, { dtype: w.dtype }));
    }
    const q = h === undefined ? this.W_Q : this.W_Q.select(0, h);
    const k = h === undefined ? this.W_K : this.W_K.select(0, h);
    return new FactoredMatrix(q, k.mT);
  }

  /** The OV circuit W_V W_O (C, C) of head h — or of every head (H, C, C) — kept factored. */
  OV(h?: number): FactoredMatrix {
    const v = h === undefined ? this.W_V : this.W_V.select(0, h);
    const o = h === undefined ? this.W_O : this.W_O.select(0, h);
    return new FactoredMatrix(v, o);
  }

  // -------------------------------------------------------------------------------------------
  // Conversion between storages

  /**
   * A new module computing the same function with another storage (or layout). fused ↔ separate
   * and factored → merged-qk are exact; merged-qk → factored is the best rank-D factorisation of
   * each W_QK (exact when its rank ≤ D), reported in `conversionReport` of the result.
   */
  convert(storage: AttentionStorage, opts: { layout?: QKVLayout } = {}): Attention {
    const target = new Attention({
      dim: this.dim, heads: this.heads, dimHead: this.dimHead, storage, layout: opts.layout ?? this.layout,
      qkvBias: this.qkvBias, outBias: this.outBias, dropout: this.dropoutP, causal: this.causal, keys: this.keys, dtype: this.dtype,
      rotary: this.rotary,
    });
    target.train(this.training);
    const report: ConversionReport = { exact: true, heads: [], maxRelativeError: 0 };
    noGrad(() => {
      target.outProj.weight.copy_(this.outProj.weight);
      if (this.outProj.bias) target.outProj.bias!.copy_(this.outProj.bias);
      target.W_V.copy_(this.W_V);
      if (this.qkvBias) target.projectionBias('v')!.copy_(this.projectionBias('v')!);
      if (storage !== 'merged-qk' && this.storage !== 'merged-qk') {
        target.W_Q.copy_(this.W_Q);
        target.W_K.copy_(this.W_K);
        if (this.qkvBias) {
          target.projectionBias('q')!.copy_(this.projectionBias('q')!);
          target.projectionBias('k')!.copy_(this.projectionBias('k')!);
        }
      } else if (storage === 'merged-qk' && this.storage !== 'merged-qk') {
        const q = this.W_Q.to('float64'), k = this.W_K.to('float64');
        target.param('W_QK').copy_(q.matmul(k.mT));
        // (x W_Q + b_Q)(x W_K + b_K)ᵀ = x W_QK xᵀ + b_Q·(x W_K)ᵀ + terms constant per query (which softmax ignores).
        if (this.qkvBias) target.param('qk_bias').copy_(k.matmul(this.projectionBias('q')!.to('float64').unsqueeze(-1)).squeeze(-1));
      } else if (storage === 'merged-qk') {
        target.param('W_QK').copy_(this.param('W_QK'));
        if (this.qkvBias) target.param('qk_bias').copy_(this.param('qk_bias'));
      } else {
        const wq: Tensor[] = [], wk: Tensor[] = [], bq: Tensor[] = [];
        for (let h = 0; h < this.heads; h++) {
          const f = lowRankFactor(this.param('W_QK').select(0, h).to('float64'), this.dimHead);
          const rank = f.singularValues.toFlat().filter((s) => s > this.dim * 1.2e-7 * f.singularValues.toFlat()[0]).length;
          report.heads.push({ rank, relativeError: f.relativeError });
          wq.push(f.left); // (C, D)
          wk.push(f.right.t()); // (C, D)
          if (this.qkvBias) {
            // b_Q with W_K b_Q = u (least squares; b_K = 0 is softmax-invariant): b_Q = pinv(W_K) u.
            const u = this.param('qk_bias').select(0, h).to('float64');
            const kk = f.right.t();
            const gram = kk.t().matmul(kk); // (D, D) = S_D (diagonal)
            const diag = Array.from(gram.toFlat()).filter((_, i) => i % (this.dimHead + 1) === 0);
            const inv = Tensor.fromTypedArray(Float64Array.from(diag, (g) => (g > 0 ? 1 / g : 0)), [this.dimHead], 'float64');
            bq.push(kk.t().matmul(u.unsqueeze(-1)).squeeze(-1).mul(inv));
          }
        }
        target.W_Q.copy_(stack(wq));
        target.W_K.copy_(stack(wk));
        if (this.qkvBias) {
          target.projectionBias('q')!.copy_(stack(bq));
          target.projectionBias('k')!.zero_();
        }
        report.maxRelativeError = Math.max(0, ...report.heads.map((r) => r.relativeError));
        report.exact = report.heads.every((r) => r.rank <= this.dimHead);
      }
    });
    target.conversionReport = report;
    return target;
  }

  override extraRepr(): string {
    return `dim=${this.dim}, heads=${this.heads}, dim_head=${this.dimHead}, storage='${this.storage}'${this.storage === 'fused' ? `, layout='${this.layout}'` : ''}${this.causal ? ', causal=True' : ''}${this.rotary ? `, rotary_dims=${this.rotary.dims}` : ''}`;
  }
}

