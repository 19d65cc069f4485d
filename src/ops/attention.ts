/**
 * Scaled dot-product attention: softmax(q kᵀ · scale + mask) v, with PyTorch's
 * F.scaled_dot_product_attention conventions.
 *
 * The default path is one fused kernel (Backend.attention: the L×S score matrix is never
 * stored; the backward recomputes it from the saved log-sum-exp) with its own gradient rule.
 * The composed path — matmul, mask, softmax, dropout, matmul from primitives — is kept as its
 * twin: tests check that the two agree, and it runs whenever the fused kernel cannot: attention
 * dropout in training, a float mask that requires grad, or integer inputs.
 */
import { attach } from '../autograd/node.js';
import { enableGrad, isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { ArgumentError, AutogradError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { checkOptions } from '../options.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastShapes } from '../tensor/shape.js';
import { backend } from '../backend/index.js';
import { isFloating } from '../dtype.js';
import { broadcastView } from './elementwise.js';
import { sumTo } from './reduce.js';
import { dropout } from './dropout.js';
import { triangleMask } from './triangle.js';

export interface SdpaOptions {
  /**
   * Bool: true where a query MAY attend (SDPA's convention; nn.MultiheadAttention's is the
   * opposite). Float: added to the scores. Broadcasts to (…, L, S).
   */
  attnMask?: Tensor | null;
  dropoutP?: number;
  /** Query i attends to keys j ≤ i (top-left aligned, as PyTorch). */
  isCausal?: boolean;
  /** Default 1/√D. */
  scale?: number;
  /** Dropout is applied only when training (default true, like the functional form). */
  training?: boolean;
}

/** Turns a mask into an additive float mask: bool `allowed` → 0 / −inf. */
export function additiveMask(mask: Tensor, allowedWhenTrue: boolean, dtype: Tensor['dtype']): Tensor {
  if (mask.dtype === 'bool') {
    // One pass over the (row-major) mask values; attention builds one per layer per step.
    const flags = mask.toFlat();
    const out = Tensor.uninitialized(mask.shape, dtype);
    const d = out.storage.data;
    for (let i = 0; i < flags.length; i++) d[i] = (flags[i] !== 0) === allowedWhenTrue ? 0 : -Infinity;
    return out;
  }
  if (!mask.isFloatingPoint()) throw new DTypeError(`attention: a mask must be bool or floating point, got ${mask.dtype}`);
  return mask;
}

function checkShapes(q: Tensor, k: Tensor, v: Tensor): void {
  if (q.ndim < 2 || k.ndim < 2 || v.ndim < 2) {
    throw new ShapeError(`scaledDotProductAttention: q, k and v need at least 2 dims (…, L, D); got q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`);
  }
  const D = q.shape[q.ndim - 1], S = k.shape[k.ndim - 2];
  if (k.shape[k.ndim - 1] !== D || v.shape[v.ndim - 2] !== S) {
    throw new ShapeError(`scaledDotProductAttention: q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)} do not fit (need q (…, L, D), k (…, S, D), v (…, S, Dv))`);
  }
}

/**
 * Attention probabilities softmax(q kᵀ·scale + mask) and the output probs · v.
 *
 * Shape: q (…, L, D), k (…, S, D), v (…, S, Dv) → out (…, L, Dv), weights (…, L, S)
 *
 * `out` comes from the fused kernel when it applies; `weights` are then computed only if read
 * (composed, with their own graph), from the q, k and mask of this call — reading them after one
 * of those was modified in place is an error.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions = {}): { out: Tensor; weights: Tensor } {
  checkShapes(q, k, v);
  const dropping = (opts.dropoutP ?? 0) > 0 && (opts.training ?? true);
  const mask = opts.attnMask ? additiveMask(opts.attnMask, true, q.dtype) : null;
  const fusable = !dropping && isFloating(q.dtype) && k.dtype === q.dtype && v.dtype === q.dtype &&
    (mask === null || (mask.dtype === q.dtype && !(mask.requiresGrad && isGradEnabled())));
  if (!fusable) return attentionComposed(q, k, v, opts);

  const out = fusedAttention(q, k, v, mask, opts.isCausal ?? false, opts.scale ?? 1 / Math.sqrt(q.shape[q.ndim - 1]));
  const gradOn = isGradEnabled();
  const inputs = mask ? [q, k, mask] : [q, k];
  const versions = inputs.map((t) => t.storage.version);
  let weights: Tensor | null = null;
  const result = { out } as { out: Tensor; weights: Tensor };
  Object.defineProperty(result, 'weights', {
    enumerable: true,
    get(): Tensor {
      if (weights === null) {
        if (inputs.some((t, i) => t.storage.version !== versions[i])) {
          throw new AutogradError('attention: the weights were read after q, k or the mask was modified in place; read them before modifying the inputs');
        }
        const w = () => attentionWeights(q, k, mask, opts);
        weights = gradOn ? enableGrad(w) : noGrad(w);
      }
      return weights;
    },
  });
  return result;
}

/** softmax(q kᵀ·scale + causal + mask) along the keys: (…, L, S). */
function attentionWeights(q: Tensor, k: Tensor, mask: Tensor | null, opts: SdpaOptions): Tensor {
  const D = q.shape[q.ndim - 1], L = q.shape[q.ndim - 2], S = k.shape[k.ndim - 2];
  let scores = q.matmul(k.mT).mul(opts.scale ?? 1 / Math.sqrt(D)); // (…, L, S)
  if (opts.isCausal) scores = scores.maskedFill(triangleMask(L, S, 1, true), -Infinity);
  if (mask) scores = scores.add(mask);
  return scores.softmax(-1);
}

/** The fused kernel and its gradient rule; mask is additive (or null) and does not need a gradient. */
function fusedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, causal: boolean, scale: number): Tensor {
  const L = q.shape[q.ndim - 2], D = q.shape[q.ndim - 1], S = k.shape[k.ndim - 2], Dv = v.shape[v.ndim - 1];
  let batch = broadcastShapes(q.shape.slice(0, -2), k.shape.slice(0, -2), 'scaledDotProductAttention (batch dims of q and k)');
  batch = broadcastShapes(batch, v.shape.slice(0, -2), 'scaledDotProductAttention (batch dims of v)');
  if (mask) {
    if (broadcastShapes(mask.shape.slice(-2), [L, S], 'scaledDotProductAttention (attnMask)').join() !== [L, S].join()) {
      throw new ShapeError(`scaledDotProductAttention: attnMask of shape ${fmtShape(mask.shape)} does not broadcast to the scores (…, ${L}, ${S})`);
    }
    batch = broadcastShapes(batch, mask.shape.slice(0, -2), 'scaledDotProductAttention (batch dims of the mask)');
  }
  const qv = broadcastView(q, [...batch, L, D]);
  const kv = broadcastView(k, [...batch, S, D]);
  const vv = broadcastView(v, [...batch, S, Dv]);
  const mv = mask ? broadcastView(mask, [...batch, L, S]) : null;
  const out = Tensor.uninitialized([...batch, L, Dv], q.dtype);
  const lse = Tensor.uninitialized([...batch, L], q.dtype);
  backend().attention(qv, kv, vv, mv, causal, scale, out.view_(), lse.view_());
  return attach(out, 'ScaledDotProductAttentionBackward', [q, k, v], (g) => {
    const gq = gradLayoutLike(q, [...batch, L, D]);
    const gk = gradLayoutLike(k, [...batch, S, D]);
    const gv = gradLayoutLike(v, [...batch, S, Dv]);
    backend().attentionBackward(qv, kv, vv, mv, causal, scale, out.view_(), lse.view_(), g.view_(), gq.view_(), gk.view_(), gv.view_());
    return [
      q.requiresGrad ? sumTo(gq, q.shape) : null,
      k.requiresGrad ? sumTo(gk, k.shape) : null,
      v.requiresGrad ? sumTo(gv, v.shape) : null,
    ];
  }, mask ? [q, k, v, mask, out] : [q, k, v, out]);
}

/**
 * An uninitialized gradient for `t` (of the batch-expanded `shape`) laid out in t's memory order,
 * so that it flows back through the views that made t — heads split off a packed projection,
 * (B, T, H, D) → (B, H, T, D) — as views, not copies. Contiguous when t was broadcast or its last
 * dim is not its innermost.
 */
function gradLayoutLike(t: Tensor, shape: number[]): Tensor {
  const r = shape.length;
  if (t.shape.join() !== shape.join()) return Tensor.uninitialized(shape, t.dtype);
  const order = shape.map((_, i) => i).sort((a, b) => t.strides[b] - t.strides[a] || a - b); // outermost first
  if (order[r - 1] !== r - 1) return Tensor.uninitialized(shape, t.dtype);
  const strides = new Array<number>(r);
  let n = 1;
  for (let i = r - 1; i >= 0; i--) {
    strides[order[i]] = n;
    n *= shape[order[i]];
  }
  return Tensor.uninitialized([n], t.dtype).asStrided(shape, strides, 0);
}

/** The composed twin of `attention`, from primitives (matmul, mask, softmax, dropout, matmul). */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions = {}): { out: Tensor; weights: Tensor } {
  checkShapes(q, k, v);
  const D = q.shape[q.ndim - 1], L = q.shape[q.ndim - 2], S = k.shape[k.ndim - 2];
  let scores = q.matmul(k.mT).mul(opts.scale ?? 1 / Math.sqrt(D)); // (…, L, S)
  if (opts.isCausal) scores = scores.maskedFill(triangleMask(L, S, 1, true), -Infinity);
  if (opts.attnMask) scores = scores.add(additiveMask(opts.attnMask, true, scores.dtype));
  let weights = scores.softmax(-1);
  if (opts.dropoutP && opts.dropoutP > 0) weights = dropout(weights, opts.dropoutP, opts.training ?? true);
  return { out: weights.matmul(v), weights };
}

const SDPA_KEYS = ['attnMask', 'dropoutP', 'isCausal', 'scale', 'training'];

/**
 * F.scaled_dot_product_attention: the attention output only, with PyTorch 2's signature —
 * `(q, k, v, attnMask = null, dropoutP = 0, isCausal = false, scale = null)` — or its options
 * object `(q, k, v, { attnMask, dropoutP, isCausal, scale, training })`. A bool attnMask is true
 * where attention is allowed (PyTorch's SDPA convention). Runs on the fused kernel unless
 * dropout is active in training or the mask needs a gradient.
 *
 * Shape: q (…, L, D), k (…, S, D), v (…, S, Dv) → (…, L, Dv)
 */
export function scaledDotProductAttention(
  q: Tensor, k: Tensor, v: Tensor,
  attnMaskOrOpts: Tensor | null | SdpaOptions = null, dropoutP = 0, isCausal = false, scale: number | null = null,
): Tensor {
  let opts: SdpaOptions;
  if (attnMaskOrOpts === null || attnMaskOrOpts instanceof Tensor) {
    opts = { attnMask: attnMaskOrOpts, dropoutP, isCausal, ...(scale === null ? {} : { scale }) };
  } else {
    if (arguments.length > 4) throw new ArgumentError('scaledDotProductAttention: pass either an options object or positional (attnMask, dropoutP, isCausal, scale), not both');
    opts = checkOptions(attnMaskOrOpts, SDPA_KEYS, 'scaledDotProductAttention');
  }
  if (opts.isCausal && opts.attnMask) throw new ArgumentError('scaledDotProductAttention: pass either attnMask or isCausal, not both (as PyTorch)');
  return attention(q, k, v, opts).out;
}
