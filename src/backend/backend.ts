/**
 * The backend interface: the only thing a kernel implementation has to provide.
 *
 * Core (tensor/, ops/) resolves shapes, broadcasting, dtypes and autograd once; a kernel receives
 * resolved views: storage, shape, strides and offset. Outputs are allocated by core and passed in.
 * Broadcast inputs arrive already expanded to the output shape (stride 0 on broadcast dims), so
 * an elementwise kernel never reasons about broadcasting.
 *
 * The set is small on purpose (tinygrad's lesson): elementwise maps, one reduction entry, strided
 * copy, batched matmul, row gather/scatter-add, and the fused ops that are worth a kernel of their
 * own (softmax, layer norm, cross-entropy, attention, the Adam step). Everything else is composed
 * in ops/.
 */
import type { DType, TypedArray } from '../dtype.js';

/** A strided window onto storage. `data[offset + Σ i_k·strides[k]]` is element (i_0, i_1, …). */
export interface View {
  readonly data: TypedArray;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

export const UNARY_OPS = [
  'neg', 'abs', 'sign', 'square', 'reciprocal', 'exp', 'log', 'sqrt', 'rsqrt',
  'tanh', 'sigmoid', 'relu', 'gelu', 'geluTanh', 'sin', 'cos', 'erf', 'floor', 'ceil', 'round',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/**
 * Binary maps. Besides arithmetic and comparisons, the derivative products of the activations
 * live here, so a backward pass is one kernel rather than a chain: `reluBackward(x, g)` is
 * g·[x>0], `geluBackward(x, g)` is g·gelu'(x), `sigmoidBackward(y, g)` is g·y(1−y) and
 * `tanhBackward(y, g)` is g·(1−y²), with y the forward output.
 */
export const BINARY_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'atan2',
  'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr',
  'reluBackward', 'geluBackward', 'geluTanhBackward', 'sigmoidBackward', 'tanhBackward',
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

/** Hyperparameters of one Adam / AdamW step (see Backend.adamStep). */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decay the parameter directly (p ← p·(1 − lr·wd)) instead of adding wd·p to the gradient. */
  decoupled: boolean;
  /** The step number t ≥ 1, for the bias corrections 1 − βᵗ. */
  step: number;
  maximize: boolean;
}

export interface Backend {
  readonly name: string;

  /** out = op(x), elementwise; x has out's shape; dtypes may differ (the kernel casts on store). */
  unary(op: UnaryOp, x: View, out: View): void;
  /** out = op(a, b), elementwise; a and b have out's shape (broadcast already expanded). */
  binary(op: BinaryOp, a: View, b: View, out: View): void;
  /** out = cond ? a : b, elementwise; all four have the same shape. */
  where(cond: View, a: View, b: View, out: View): void;
  /** dst = src with dtype conversion (float → int truncates toward zero); same shape. */
  copy(src: View, dst: View): void;

  /**
   * Reduces `x` over `axes` into `out`, a contiguous tensor of x's shape with the reduced axes
   * removed (keepdim is a view taken by core). Sums accumulate in float64. arg* write indices.
   */
  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void;

  /**
   * Batched matrix product: out[..., m, n] = Σ_k a[..., m, k] · b[..., k, n] (+ bias[n]).
   * a is [...batch, M, K], b is [...batch, K, N] with any strides (a transpose is just strides),
   * batch dims already broadcast to out's; out is contiguous [...batch, M, N]; bias, when given,
   * is contiguous [N] of out's dtype (Linear's bias, added in the same pass to the rounded
   * product, as matmul followed by add would).
   */
  matmul(a: View, b: View, out: View, bias?: View | null): void;

  /** out[i, :] = table[index[i], :]; table is contiguous [R, E]; index is flat integer [N]. */
  indexSelect(table: View, index: View, out: View): void;
  /** dst[index[i], :] += src[i, :]; dst is contiguous [R, E], src contiguous [N, E]. */
  indexAdd(dst: View, index: View, src: View): void;

  /**
   * out[…, i, …] = x[…, index[…, i, …], …] along `dim` (torch.gather); any strides; index is
   * integer with out's shape, x has out's sizes on every other dim; values checked by core.
   */
  gather(x: View, dim: number, index: View, out: View): void;
  /**
   * dst[…, index[…, i, …], …] = src[…, i, …] along `dim`, or += when reduce is 'add'
   * (torch.scatter_ / scatter_add_), in place, walking index in row-major order; src has index's
   * sizes; any strides.
   */
  scatter(dst: View, dim: number, index: View, src: View, reduce: 'none' | 'add'): void;
  /**
   * The first k of each row of contiguous x [..., L] in sorted order (ascending, or descending),
   * into contiguous values [..., k] and int64 indices [..., k]; stable; NaN above every number.
   */
  sort(x: View, k: number, descending: boolean, values: View, indices: View): void;
  /**
   * Inclusive cumulative sum or product of contiguous x along `dim` into contiguous out, from the
   * first element (or from the last when `reverse`); the running value is float64.
   */
  cumulative(op: 'sum' | 'prod', x: View, dim: number, reverse: boolean, out: View): void;

  /** Softmax (or log-softmax) of contiguous x along `dim` into contiguous out. */
  softmax(x: View, dim: number, log: boolean, out: View): void;
  /**
   * Gradient of softmax given its output y and upstream gy along `dim`, into gx:
   * softmax: gx = y·(gy − Σ gy·y); log-softmax: gx = gy − exp(y)·Σ gy.
   */
  softmaxBackward(y: View, gy: View, dim: number, log: boolean, gx: View): void;

  /**
   * Layer norm over the last dim of contiguous x [N, D] (biased variance):
   * out = (x − mean)·rstd·weight + bias; saves mean [N] and rstd [N] = 1/√(var + eps).
   * weight and bias are [D] or null.
   */
  layerNorm(x: View, weight: View | null, bias: View | null, eps: number, out: View, mean: View, rstd: View): void;
  /** Gradients of layerNorm: gx [N, D]; gWeight and gBias [D] (written, not accumulated) or null. */
  layerNormBackward(
    gy: View, x: View, weight: View | null, mean: View, rstd: View,
    gx: View, gWeight: View | null, gBias: View | null,
  ): void;

  /**
   * Cross-entropy per row of contiguous logits [N, C] against integer target [N]:
   * loss[i] = (1−ε)·(lse_i − x[i, t_i]) + ε·(lse_i − mean_c x[i, c]), and 0 where t_i is
   * ignoreIndex. Writes lse [N] (log-sum-exp, saved for backward). A target outside [0, C)
   * other than ignoreIndex is reported by returning its row; −1 means all targets were valid.
   */
  crossEntropy(logits: View, target: View, ignoreIndex: number, labelSmoothing: number, loss: View, lse: View): number;
  /** gx[i, c] = gLoss[i]·(softmax(x)[i, c] − (1−ε)·[c = t_i] − ε/C); rows with ignoreIndex get 0. */
  crossEntropyBackward(
    logits: View, target: View, lse: View, gLoss: View, ignoreIndex: number, labelSmoothing: number, gx: View,
  ): void;

  /**
   * One Adam/AdamW update in place over contiguous, equal-length param, grad, exp_avg (m) and
   * exp_avg_sq (v), plus max_exp_avg_sq for AMSGrad (else null), as torch.optim.Adam(W):
   *   g ← ±grad (+ wd·p unless decoupled);  p ← p·(1 − lr·wd) if decoupled
   *   m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  v̂ = max(vmax, v) with AMSGrad
   *   p ← p − lr/(1−β₁ᵗ) · m / (√v̂/√(1−β₂ᵗ) + eps)
   */
  adamStep(param: View, grad: View, expAvg: View, expAvgSq: View, maxExpAvgSq: View | null, hp: AdamHyper): void;

  /**
   * Fused scaled-dot-product attention (the reference in ts/attention.ts is the specification):
   * out_i = Σ_j softmax_j(scale·q_i·k_j + mask_ij) v_j, with keys j > i excluded when `causal`
   * (top-left aligned, as PyTorch), and lse_i the log-sum-exp of row i's scores (saved for the
   * backward). A row with every key masked gives out NaN and lse −inf.
   *
   * q is [...B, L, D], k [...B, S, D], v [...B, S, Dv], all with any strides (batch dims already
   * broadcast, stride 0 allowed); mask is null or an additive float view broadcast to
   * [...B, L, S]; out is contiguous [...B, L, Dv] and lse contiguous [...B, L].
   */
  attention(q: View, k: View, v: View, mask: View | null, causal: boolean, scale: number, out: View, lse: View): void;
  /**
   * Gradients of attention given the forward's out and lse and the upstream gOut
   * ([...B, L, Dv], any strides), written (not accumulated) into gq [...B, L, D], gk [...B, S, D]
   * and gv [...B, S, Dv] of the batch-expanded shapes: any strides with stride 1 on the last dim
   * and no two elements at one address (core lays them out like q, k, v, so that the heads'
   * reshapes in the backward are views, not copies).
   */
  attentionBackward(
    q: View, k: View, v: View, mask: View | null, causal: boolean, scale: number, out: View, lse: View,
    gOut: View, gq: View, gk: View, gv: View,
  ): void;
}
