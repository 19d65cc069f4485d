/** Losses: crossEntropy (fused log-softmax + NLL, with ignoreIndex and label smoothing) and mseLoss. */
import { attach } from '../autograd/node.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { backend } from '../backend/index.js';
import { isFloating } from '../dtype.js';
import { contiguous, reshape } from './shape.js';
import { logSoftmax } from './softmax.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** Targets equal to this contribute no loss and no gradient, and are not counted by 'mean'. Default −100. */
  ignoreIndex?: number;
  /** Default 'mean'. */
  reduction?: Reduction;
  /** ε in [0, 1]: the target becomes (1−ε)·onehot + ε/C. Default 0. */
  labelSmoothing?: number;
}

function checkReduction(r: string, op: string): Reduction {
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new ArgumentError(`${op}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(r)}`);
  return r;
}

/**
 * Cross-entropy between logits and class indices (or class probabilities), as
 * torch.nn.functional.cross_entropy.
 *
 * Shape: input (C), (N, C) or (N, C, d1, …); target (), (N) or (N, d1, …) of int64/int32 class
 * indices, or the input's shape of probabilities. Output: scalar, or target's shape for 'none'.
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const reduction = checkReduction(opts.reduction ?? 'mean', 'crossEntropy');
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new ArgumentError(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  if (!isFloating(input.dtype)) throw new DTypeError(`crossEntropy: input must be floating point logits, got ${input.dtype}`);
  if (input.ndim === 0) throw new ShapeError('crossEntropy: input must have at least 1 dim (C), got a 0-D tensor');

  // Move classes to the last dim and flatten the rest: (M, C).
  const C = input.ndim === 1 ? input.shape[0] : input.shape[1];
  const moved = input.ndim <= 2 ? input : input.movedim(1, -1);
  const logits = reshape(moved, [-1, C]);

  if (isFloating(target.dtype)) {
    if (target.shape.join() !== input.shape.join()) {
      throw new ShapeError(`crossEntropy: probability targets must have the input's shape ${fmtShape(input.shape)}, got ${fmtShape(target.shape)}`);
    }
    let p = reshape(input.ndim <= 2 ? target : target.movedim(1, -1), [-1, C]);
    if (eps > 0) p = p.mul(1 - eps).add(eps / C);
    const rows = logSoftmax(logits, -1).mul(p).sum(-1).neg(); // (M)
    if (reduction === 'none') return reshape(rows, moved.shape.slice(0, -1));
    return reduction === 'sum' ? rows.sum() : rows.mean();
  }
  if (target.dtype !== 'int64' && target.dtype !== 'int32') {
    throw new DTypeError(`crossEntropy: target must hold class indices (int64 or int32) or probabilities (float), got ${target.dtype}`);
  }
  const expectTarget = input.ndim === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
  if (target.shape.join() !== expectTarget.join()) {
    throw new ShapeError(`crossEntropy: target has shape ${fmtShape(target.shape)}; for input ${fmtShape(input.shape)} it must be ${fmtShape(expectTarget)}`);
  }
  const x = contiguous(logits);
  const t = contiguous(reshape(target, [-1]));
  const M = x.shape[0];
  const losses = Tensor.uninitialized([M], input.dtype);
  const lse = Tensor.uninitialized([M], input.dtype);
  const bad = backend().crossEntropy(x.view_(), t.view_(), ignoreIndex, eps, losses.view_(), lse.view_());
  if (bad >= 0) {
    throw new ArgumentError(`crossEntropy: target ${t.toFlat()[bad]} at position ${bad} is out of range for ${C} classes (valid: 0…${C - 1}, or ignoreIndex ${ignoreIndex})`);
  }
  attach(losses, 'CrossEntropyBackward', [x], (g) => {
    const gx = Tensor.uninitialized([M, C], g.dtype);
    backend().crossEntropyBackward(x.view_(), t.view_(), lse.view_(), contiguous(g).view_(), ignoreIndex, eps, gx.view_());
    return [gx];
  }, [x]);
  if (reduction === 'none') return reshape(losses, target.shape);
  if (reduction === 'sum') return losses.sum();
  const td = t.toFlat();
  let count = 0;
  for (let i = 0; i < td.length; i++) if (td[i] !== ignoreIndex) count++;
  return losses.sum().div(count); // 0/0 = NaN when every target is ignored, as in PyTorch
}

/** Mean (or sum) of squared differences; input and target must have the same shape. */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const reduction = checkReduction(opts.reduction ?? 'mean', 'mseLoss');
  if (input.shape.join() !== target.shape.join()) {
    throw new ShapeError(`mseLoss: input ${fmtShape(input.shape)} and target ${fmtShape(target.shape)} must have the same shape (PyTorch would broadcast with a warning; qkv refuses)`);
  }
  const d = input.sub(target);
  const sq = d.mul(d);
  return reduction === 'none' ? sq : reduction === 'sum' ? sq.sum() : sq.mean();
}

/** The composed twin of crossEntropy for (N, C) logits and index targets, from primitives. */
export function crossEntropyComposed(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const eps = opts.labelSmoothing ?? 0;
  const C = input.shape[1];
  const logp = logSoftmax(input, 1); // (N, C)
  const valid = target.ne(ignoreIndex);
  const safeT = target.maskedFill(valid.logicalNot(), 0);
  const onehot = Tensor.arange(C, 'int64').eq(safeT.unsqueeze(1)).to(input.dtype); // (N, C)
  const q = onehot.mul(1 - eps).add(eps / C);
  const rows = logp.mul(q).sum(1).neg().mul(valid.to(input.dtype)); // (N)
  const reduction = opts.reduction ?? 'mean';
  if (reduction === 'none') return rows;
  return reduction === 'sum' ? rows.sum() : rows.sum().div(valid.sum().item());
}
