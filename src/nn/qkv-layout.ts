/**
 * Packed-QKV layouts as data (problem 2 of DESIGN.md).
 *
 * A fused projection computes q, k and v for all heads at once: a (…, 3·H·D) output from a
 * (3·H·D, C) weight. How those 3·H·D features are ordered is a convention of the checkpoint:
 *
 * - 'blocked' (PyTorch MultiheadAttention, GPT-2, nanoGPT, vit-pytorch): [q | k | v], each a
 *   block of H·D features, head-major inside: feature j·H·D + h·D + d is part j ∈ {q,k,v} of head h.
 *   Split with chunk(3) first, then view into heads.
 * - 'head-interleaved' (GPT-NeoX, Pythia, BLOOM): per head, q, k, v of D each: feature
 *   h·3D + j·D + d. View into (H, 3·D) first, then split.
 *
 * Reading one layout as the other gives tensors of the right shapes and the wrong values. Here
 * the layout is an argument, so the split is right by construction.
 *
 * HF GPT-2 stores its fused projection as a Conv1D whose weight is [in, out] = [C, 3·H·D], the
 * transpose of a Linear weight: `fromConv1D` / `toConv1D` convert.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { cat, stack } from '../ops/shape.js';

export type QKVLayout = 'blocked' | 'head-interleaved';
export const QKV_LAYOUTS: readonly QKVLayout[] = ['blocked', 'head-interleaved'];

export function checkLayout(layout: string, where: string): QKVLayout {
  if (!(QKV_LAYOUTS as readonly string[]).includes(layout)) {
    throw new ArgumentError(`${where}: unknown QKV layout ${JSON.stringify(layout)}; expected 'blocked' or 'head-interleaved'`);
  }
  return layout as QKVLayout;
}

function checkPacked(width: number, nHeads: number, where: string, shape: readonly number[]): number {
  if (!Number.isInteger(nHeads) || nHeads <= 0 || width % (3 * nHeads) !== 0) {
    throw new ShapeError(`${where}: packed width ${width} (shape ${fmtShape(shape)}) is not 3 × nHeads (${nHeads}) × headDim`);
  }
  return width / (3 * nHeads);
}

/**
 * Splits a packed projection output (…, T, 3·H·D) into q, k, v of shape (…, H, T, D).
 * The views share the packed tensor's storage.
 */
export function splitHeads(packed: Tensor, nHeads: number, layout: QKVLayout): [Tensor, Tensor, Tensor] {
  checkLayout(layout, 'splitHeads');
  const r = packed.ndim;
  if (r < 2) throw new ShapeError(`splitHeads: expected (…, T, 3·H·D), got ${fmtShape(packed.shape)}`);
  const D = checkPacked(packed.shape[r - 1], nHeads, 'splitHeads', packed.shape);
  const lead = packed.shape.slice(0, r - 1); // (…, T)
  const parts: Tensor[] = layout === 'blocked'
    ? packed.chunk(3, -1).map((t) => t.view([...lead, nHeads, D])) // (…, T, H, D)
    : [0, 1, 2].map((j) => packed.view([...lead, nHeads, 3, D]).select(-2, j)); // (…, T, H, D)
  return parts.map((t) => t.transpose(-3, -2)) as [Tensor, Tensor, Tensor]; // (…, H, T, D)
}

/**
 * The inverse of splitHeads: q, k, v (…, H, T, D) → packed (…, T, 3·H·D) in `layout`.
 */
export function packHeads(q: Tensor, k: Tensor, v: Tensor, layout: QKVLayout): Tensor {
  checkLayout(layout, 'packHeads');
  if (q.shape.join() !== k.shape.join() || q.shape.join() !== v.shape.join() || q.ndim < 3) {
    throw new ShapeError(`packHeads: q, k, v must share a shape (…, H, T, D); got ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`);
  }
  const [H, T, D] = q.shape.slice(-3);
  const lead = q.shape.slice(0, -3);
  const perToken = [q, k, v].map((t) => t.transpose(-3, -2)); // (…, T, H, D)
  if (layout === 'blocked') return cat(perToken.map((t) => t.reshape([...lead, T, H * D])), -1);
  return stack(perToken, -2).reshape([...lead, T, 3 * H * D]); // (…, T, H, 3, D) → (…, T, 3HD)
}

/** Merges heads (…, H, T, D) → (…, T, H·D), the input of the output projection (head-major). */
export function mergeHeads(x: Tensor): Tensor {
  if (x.ndim < 3) throw new ShapeError(`mergeHeads: expected (…, H, T, D), got ${fmtShape(x.shape)}`);
  const [H, T, D] = x.shape.slice(-3);
  return x.transpose(-3, -2).reshape([...x.shape.slice(0, -3), T, H * D]);
}

/**
 * Reorders the rows of a packed weight (3·H·D, C) — or a packed bias (3·H·D) — from one layout
 * to the other. A pure permutation: exact.
 */
export function convertPackedLayout(w: Tensor, nHeads: number, from: QKVLayout, to: QKVLayout): Tensor {
  checkLayout(from, 'convertPackedLayout');
  checkLayout(to, 'convertPackedLayout');
  if (w.ndim !== 1 && w.ndim !== 2) throw new ShapeError(`convertPackedLayout: expected a packed weight (3·H·D, C) or bias (3·H·D), got ${fmtShape(w.shape)}`);
  const D = checkPacked(w.shape[0], nHeads, 'convertPackedLayout', w.shape);
  if (from === to) return w.clone();
  const rest = w.shape.slice(1);
  // blocked rows are (3, H, D); interleaved rows are (H, 3, D): swap the two leading row dims.
  const src = from === 'blocked' ? [3, nHeads, D] : [nHeads, 3, D];
  return w.reshape([...src, ...rest]).transpose(0, 1).reshape(w.shape);
}

/**
 * Per-head projection matrices of a packed weight (3·H·D, C) in `layout`, as views:
 * W_Q, W_K, W_V each (H, C, D), so that q_h = x @ W_Q[h].
 */
export function perHeadWeights(w: Tensor, nHeads: number, layout: QKVLayout): [Tensor, Tensor, Tensor] {
  checkLayout(layout, 'perHeadWeights');
  if (w.ndim !== 2) throw new ShapeError(`perHeadWeights: expected a packed weight (3·H·D, C), got ${fmtShape(w.shape)}`);
  const D = checkPacked(w.shape[0], nHeads, 'perHeadWeights', w.shape);
  const C = w.shape[1];
  const rows: Tensor[] = layout === 'blocked'
    ? w.chunk(3, 0).map((t) => t.view([nHeads, D, C]))
    : [0, 1, 2].map((j) => w.view([nHeads, 3, D, C]).select(1, j));
  return rows.map((t) => t.transpose(1, 2)) as [Tensor, Tensor, Tensor]; // (H, C, D)
}

/**
 * The q, k and v parts of a packed weight (3·H·D, C) or packed bias (3·H·D) in `layout`, each
 * (H·D, C) or (H·D) with rows head-major (what a separate projection's Linear holds). Views of
 * the packed tensor for 'blocked' (rows [0, HD), [HD, 2HD), [2HD, 3HD)); copies that keep the
 * graph for 'head-interleaved'.
 */
export function splitPacked(w: Tensor, nHeads: number, layout: QKVLayout): [Tensor, Tensor, Tensor] {
  checkLayout(layout, 'splitPacked');
  if (w.ndim !== 1 && w.ndim !== 2) throw new ShapeError(`splitPacked: expected a packed weight (3·H·D, C) or bias (3·H·D), got ${fmtShape(w.shape)}`);
  const D = checkPacked(w.shape[0], nHeads, 'splitPacked', w.shape);
  if (layout === 'blocked') return w.chunk(3, 0) as [Tensor, Tensor, Tensor];
  const rest = w.shape.slice(1);
  return [0, 1, 2].map((j) => w.view([nHeads, 3, D, ...rest]).select(1, j).reshape([nHeads * D, ...rest])) as [Tensor, Tensor, Tensor];
}

/** HF GPT-2 Conv1D weight [in, out] → Linear weight [out, in] (a contiguous copy). */
export function fromConv1D(w: Tensor): Tensor {
  if (w.ndim !== 2) throw new ShapeError(`fromConv1D: expected a 2-D Conv1D weight [in, out], got ${fmtShape(w.shape)}`);
  return w.t().contiguous();
}

/** Linear weight [out, in] → HF GPT-2 Conv1D weight [in, out]. */
export function toConv1D(w: Tensor): Tensor {
  if (w.ndim !== 2) throw new ShapeError(`toConv1D: expected a 2-D Linear weight [out, in], got ${fmtShape(w.shape)}`);
  return w.t().contiguous();
}
