/** MultiheadAttention with PyTorch's packed parameters, init, masks and return values. */
import { DEVICE, callOptions, checkBool, checkNumber, onlyFalse } from '../options.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { attention, additiveMask } from '../ops/attention.js';
import { triangleMask } from '../ops/triangle.js';
import { linear } from '../ops/matmul.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { Linear } from './linear.js';
import { mergeHeads, splitPacked } from './qkv-layout.js';
import * as init from './init.js';

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights in training mode. Default 0. */
  dropout?: number;
  /** Biases on the input and output projections. Default true. */
  bias?: boolean;
  /** Inputs and outputs are (B, L, E) instead of (L, B, E). Default false. */
  batchFirst?: boolean;
  /** Key and value feature sizes; when they differ from embedDim, q/k/v get separate weights. */
  kdim?: number;
  vdim?: number;
  dtype?: DType;
}

export interface MultiheadAttentionForwardOptions {
  /** (B, S) or (S): bool true = ignore this key; float = added. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights. Default true. */
  needWeights?: boolean;
  /** (L, S) or (B·H, L, S): bool true = NOT allowed to attend; float = added to the scores. */
  attnMask?: Tensor | null;
  /** Average the returned weights over heads (B, L, S), or return them per head (B, H, L, S). Default true. */
  averageAttnWeights?: boolean;
  /**
   * Apply a causal mask. PyTorch treats is_causal as a hint that attnMask is causal and requires
   * the mask too; qkv builds the causal mask when attnMask is not given.
   */
  isCausal?: boolean;
}

/**
 * Multi-head attention (Vaswani et al. 2017), torch.nn.MultiheadAttention.
 *
 * Parameters (PyTorch's names): in_proj_weight (3E, E) packed [W_q; W_k; W_v] blocked by rows,
 * xavier_uniform over the whole packed matrix (fan_out 3E); in_proj_bias (3E) zeros;
 * out_proj = Linear(E, E) with its default weight init and a zero bias. With kdim or vdim ≠ E:
 * q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim), each xavier_uniform.
 *
 * Shape: query (L, B, E) [batchFirst: (B, L, E)] or unbatched (L, E); key (S, B, kdim);
 * value (S, B, vdim) → output like query; weights (B, L, S), or (B, H, L, S) per head.
 *
 * The optional arguments go in an options object or positionally in PyTorch's order (dropout,
 * bias, add_bias_kv, add_zero_attn, kdim, vdim, batch_first); add_bias_kv and add_zero_attn are
 * not implemented (refused when true). forward takes { keyPaddingMask, needWeights, attnMask,
 * averageAttnWeights, isCausal } or the same positionally after query, key, value.
 *
 * Example:
 *   const mha = new nn.MultiheadAttention(64, 8, { batchFirst: true });
 *   const [out, w] = mha.forward(x, x, x, { attnMask: causal });
 */
export class MultiheadAttention extends Module {
  declare in_proj_weight: Parameter | null;
  declare q_proj_weight: Parameter | null;
  declare k_proj_weight: Parameter | null;
  declare v_proj_weight: Parameter | null;
  declare in_proj_bias: Parameter | null;
  declare out_proj: Linear;
  readonly headDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;

  constructor(embedDim: number, numHeads: number, opts?: MultiheadAttentionOptions);
  constructor(embedDim: number, numHeads: number, dropout: number, bias?: boolean, addBiasKv?: false, addZeroAttn?: false, kdim?: number | null, vdim?: number | null, batchFirst?: boolean, opts?: MultiheadAttentionOptions);
  constructor(readonly embedDim: number, readonly numHeads: number, ...rest: unknown[]) {
    super();
    const where = 'nn.MultiheadAttention';
    const opts = callOptions<MultiheadAttentionOptions>(where, rest, ['dropout', 'bias', 'addBiasKv', 'addZeroAttn', 'kdim', 'vdim', 'batchFirst'],
      ['dropout', 'bias', 'batchFirst', 'kdim', 'vdim', 'dtype'], {
        addBiasKv: onlyFalse('add_bias_kv', 'learned key/value bias rows are not implemented'),
        addZeroAttn: onlyFalse('add_zero_attn', 'the extra zero key/value is not implemented'),
        device: DEVICE,
      });
    if (!Number.isInteger(embedDim) || !Number.isInteger(numHeads) || !Number.isInteger(embedDim / numHeads) || embedDim <= 0 || numHeads <= 0) {
      throw new ArgumentError(`MultiheadAttention: embed_dim ${embedDim} must be divisible by num_heads ${numHeads}`);
    }
    checkNumber(opts.dropout, 'dropout', where, 0, 1);
    checkBool(opts.bias, 'bias', where);
    checkBool(opts.batchFirst, 'batchFirst', where);
    for (const k of ['kdim', 'vdim'] as const) {
      const d = opts[k];
      if (d !== undefined && d !== null && !(Number.isInteger(d) && d > 0)) throw new ArgumentError(`${where}: ${k} must be a positive integer or null, got ${JSON.stringify(d)}`);
    }
    this.headDim = embedDim / numHeads;
    this.kdim = opts.kdim ?? embedDim;
    this.vdim = opts.vdim ?? embedDim;
    this.dropout = opts.dropout ?? 0;
    this.batchFirst = opts.batchFirst ?? false;
    const dtype = opts.dtype ?? 'float32';
    const E = embedDim;
    const param = (shape: number[]) => new Parameter(Tensor.empty(shape, dtype));
    if (this.kdim === E && this.vdim === E) {
      this.registerParameter('in_proj_weight', param([3 * E, E]));
      this.registerParameter('q_proj_weight', null);
      this.registerParameter('k_proj_weight', null);
      this.registerParameter('v_proj_weight', null);
    } else {
      this.registerParameter('q_proj_weight', param([E, E]));
      this.registerParameter('k_proj_weight', param([E, this.kdim]));
      this.registerParameter('v_proj_weight', param([E, this.vdim]));
      this.registerParameter('in_proj_weight', null);
    }
    const bias = opts.bias ?? true;
    this.registerParameter('in_proj_bias', bias ? param([3 * E]) : null);
    this.registerModule('out_proj', new Linear(E, E, { bias, dtype }));
    this.resetParameters();
  }

  override resetParameters(): void {
    if (this.in_proj_weight) init.xavierUniform_(this.in_proj_weight);
    else for (const w of [this.q_proj_weight, this.k_proj_weight, this.v_proj_weight]) init.xavierUniform_(w!);
    if (this.in_proj_bias) init.zeros_(this.in_proj_bias);
    if (this.out_proj.bias) init.zeros_(this.out_proj.bias);
  }

  /**
   * The three projection weights as (E, ·) views: rows [0,E), [E,2E), [2E,3E) of the packed
   * matrix (the 'blocked' layout of qkv-layout.ts), or the separate weights with kdim/vdim.
   */
  projectionWeights(): [Tensor, Tensor, Tensor] {
    if (this.in_proj_weight) return splitPacked(this.in_proj_weight, this.numHeads, 'blocked');
    return [this.q_proj_weight!, this.k_proj_weight!, this.v_proj_weight!];
  }

  /** The three projection biases (E) as views of in_proj_bias (blocked), or nulls without bias. */
  projectionBiases(): [Tensor, Tensor, Tensor] | [null, null, null] {
    return this.in_proj_bias ? splitPacked(this.in_proj_bias, this.numHeads, 'blocked') : [null, null, null];
  }

  override forward(query: Tensor, key: Tensor, value: Tensor, opts?: MultiheadAttentionForwardOptions): [Tensor, Tensor | null];
  override forward(query: Tensor, key: Tensor, value: Tensor, keyPaddingMask: Tensor | null, needWeights?: boolean, attnMask?: Tensor | null, averageAttnWeights?: boolean, isCausal?: boolean): [Tensor, Tensor | null];
  override forward(query: Tensor, key: Tensor, value: Tensor, ...rest: unknown[]): [Tensor, Tensor | null] {
    const opts = callOptions<MultiheadAttentionForwardOptions>('MultiheadAttention.forward', rest,
      ['keyPaddingMask', 'needWeights', 'attnMask', 'averageAttnWeights', 'isCausal'], ['keyPaddingMask', 'needWeights', 'attnMask', 'averageAttnWeights', 'isCausal']);
    const { needWeights = true, averageAttnWeights = true, isCausal = false } = opts;
    const E = this.embedDim, H = this.numHeads, D = this.headDim;
    const batched = query.ndim === 3;
    if (query.ndim !== 2 && query.ndim !== 3) {
      throw new ShapeError(`MultiheadAttention: query must be (L, E), (L, B, E) or with batchFirst (B, L, E); got ${fmtShape(query.shape)}`);
    }
    if (key.ndim !== query.ndim || value.ndim !== query.ndim) {
      throw new ShapeError(`MultiheadAttention: query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must have the same rank`);
    }
    // Work batch-first: (B, L, E).
    const toBatchFirst = (t: Tensor) => (!batched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1));
    const q0 = toBatchFirst(query), k0 = toBatchFirst(key), v0 = toBatchFirst(value);
    const [B, L] = q0.shape, S = k0.shape[1];
    if (q0.shape[2] !== E) throw new ShapeError(`MultiheadAttention: query has embedding dim ${q0.shape[2]}, expected embed_dim ${E} (query ${fmtShape(query.shape)})`);
    if (k0.shape[2] !== this.kdim || v0.shape[2] !== this.vdim) {
      throw new ShapeError(`MultiheadAttention: key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must end in kdim ${this.kdim} and vdim ${this.vdim}`);
    }
    if (k0.shape[0] !== B || v0.shape[0] !== B || v0.shape[1] !== S) {
      throw new ShapeError(`MultiheadAttention: key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must match query ${fmtShape(query.shape)} in batch, and each other in length`);
    }

    const [wq, wk, wv] = this.projectionWeights();
    const [bq, bk, bv] = this.projectionBiases();
    const heads = (t: Tensor, n: number) => t.view([B, n, H, D]).transpose(1, 2); // (B, H, n, D)
    const q = heads(linear(q0, wq, bq), L);
    const k = heads(linear(k0, wk, bk), S);
    const v = heads(linear(v0, wv, bv), S);

    const mask = this.combinedMask(opts.attnMask ?? null, opts.keyPaddingMask ?? null, isCausal, B, L, S, q.dtype, batched);
    // The weights are computed only when read (the fused kernel never forms them).
    const att = attention(q, k, v, { attnMask: mask, dropoutP: this.dropout, training: this.training });
    // (B, H, L, D) → (B, L, E)
    let y = this.out_proj.forward(mergeHeads(att.out));
    y = !batched ? y.squeeze(0) : this.batchFirst ? y : y.transpose(0, 1);
    if (!needWeights) return [y, null];
    let w = averageAttnWeights ? att.weights.mean(1) : att.weights; // (B, L, S) or (B, H, L, S)
    if (!batched) w = w.squeeze(0);
    return [y, w];
  }

  /** One additive float mask broadcastable to (B, H, L, S), or null. */
  private combinedMask(
    attnMask: Tensor | null, keyPaddingMask: Tensor | null, isCausal: boolean,
    B: number, L: number, S: number, dtype: DType, batched: boolean,
  ): Tensor | null {
    const H = this.numHeads;
    let mask: Tensor | null = null;
    if (attnMask) {
      if (attnMask.dtype !== 'bool' && !attnMask.isFloatingPoint()) {
        throw new DTypeError(`MultiheadAttention: only float and bool attn_mask are supported, got ${attnMask.dtype}`);
      }
      if (attnMask.ndim === 2) {
        if (attnMask.shape[0] !== L || attnMask.shape[1] !== S) {
          throw new ShapeError(`MultiheadAttention: the shape of the 2D attn_mask is ${fmtShape(attnMask.shape)}, but should be ${fmtShape([L, S])}`);
        }
        mask = additiveMask(attnMask, false, dtype);
      } else if (attnMask.ndim === 3) {
        if (attnMask.shape.join() !== [B * H, L, S].join()) {
          throw new ShapeError(`MultiheadAttention: the shape of the 3D attn_mask is ${fmtShape(attnMask.shape)}, but should be ${fmtShape([B * H, L, S])}`);
        }
        mask = additiveMask(attnMask, false, dtype).view([B, H, L, S]);
      } else {
        throw new ShapeError(`MultiheadAttention: attn_mask's dimension ${attnMask.ndim} is not supported (shape ${fmtShape(attnMask.shape)})`);
      }
    } else if (isCausal) {
      mask = additiveMask(triangleMask(L, S, 1, true), false, dtype);
    }
    if (keyPaddingMask) {
      const expected = batched ? [B, S] : [S];
      if (keyPaddingMask.shape.join() !== expected.join()) {
        throw new ShapeError(`MultiheadAttention: expecting key_padding_mask shape of ${fmtShape(expected)}, but got ${fmtShape(keyPaddingMask.shape)}`);
      }
      const kpm = additiveMask(keyPaddingMask, false, dtype).view([B, 1, 1, S]);
      mask = mask ? mask.add(kpm) : kpm;
    }
    return mask;
  }
}
