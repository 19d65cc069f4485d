/**
 * nn.Attention's weight views: W_Q, W_K, W_V (H, C, D), W_O (H, D, C), the biases b_Q, b_K,
 * b_V (H, D) and b_O (C), one head's views, and the factored QK / OV circuits — read and written
 * through to whatever storage the module uses (problem 1 of DESIGN.md).
 *
 * q_h = x @ W_Q[h] + b_Q[h];  y = Σ_h z_h @ W_O[h] + b_O;  QK(h) = W_Q[h] W_K[h]ᵀ, OV(h) = W_V[h] W_O[h]
 * (unscaled, as in TransformerLens; the scores are x·QK·xᵀ/√D).
 *
 * The functions take the module through `AttentionWeights`, the little it must expose, so this
 * file and the storage conversion sit below the module file.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import type { Tensor } from '../tensor/tensor.js';
import { eye } from '../tensor/creation.js';
import { FactoredMatrix } from '../ops/factored-matrix.js';
import type { Linear } from './linear.js';
import type { Parameter } from './parameter.js';
import { perHeadWeights, type QKVLayout } from './qkv-layout.js';

export type AttentionStorage = 'fused' | 'separate' | 'merged-qk';
export const ATTENTION_STORAGES: readonly AttentionStorage[] = ['fused', 'separate', 'merged-qk'];

export type QKVRole = 'q' | 'k' | 'v';
const ROLES: readonly QKVRole[] = ['q', 'k', 'v'];

/** What the views need from an attention module. */
export interface AttentionWeights {
  readonly dim: number;
  readonly heads: number;
  readonly dimHead: number;
  readonly storage: AttentionStorage;
  readonly layout: QKVLayout;
  readonly qkvBias: boolean;
  /** The output projection Linear (H·D → C). */
  readonly outProj: Linear;
  /** The fused projection ('qkv', fused storage) or a separate one ('q', 'k', 'v'), as stored. */
  projectionLinear(role: 'qkv' | QKVRole): Linear;
  /** merged-qk storage: W_QK (H, C, C) and the key-bias vectors qk_bias (H, C) or null. */
  mergedQK(): { W_QK: Parameter; qk_bias: Parameter | null };
}

/** One head's views (see nn.Attention). */
export interface AttentionHead {
  W_Q: Tensor;
  W_K: Tensor;
  W_V: Tensor;
  W_O: Tensor;
  QK: FactoredMatrix;
  OV: FactoredMatrix;
}

function noQK(name: string): never {
  throw new ArgumentError(`Attention: ${name} is not stored in 'merged-qk' storage (it keeps W_QK = W_Q W_Kᵀ per head); use attn.QK(h), attn.W_QK, or attn.convert('separate')`);
}

/** W_Q, W_K or W_V (H, C, D) as a view of the stored weight. */
export function projectionWeight(a: AttentionWeights, role: QKVRole): Tensor {
  const H = a.heads, D = a.dimHead, C = a.dim;
  if (a.storage === 'fused') return perHeadWeights(a.projectionLinear('qkv').weight, H, a.layout)[ROLES.indexOf(role)];
  if (a.storage === 'merged-qk' && role !== 'v') noQK(`W_${role.toUpperCase()}`);
  return a.projectionLinear(role).weight.view([H, D, C]).transpose(1, 2); // (H, C, D)
}

/** b_Q, b_K or b_V (H, D) as a view of the stored bias, or null without qkvBias. */
export function projectionBias(a: AttentionWeights, role: QKVRole): Tensor | null {
  if (!a.qkvBias) return null;
  const H = a.heads, D = a.dimHead;
  if (a.storage === 'fused') {
    const b = a.projectionLinear('qkv').bias!;
    const j = ROLES.indexOf(role);
    return a.layout === 'blocked' ? b.view([3, H, D]).select(0, j) : b.view([H, 3, D]).select(1, j);
  }
  if (a.storage === 'merged-qk' && role !== 'v') noQK(`b_${role.toUpperCase()}`);
  return a.projectionLinear(role).bias!.view([H, D]);
}

/** W_O (H, D, C): the output projection's slice for each head. */
export function outputWeight(a: AttentionWeights): Tensor {
  return a.outProj.weight.view([a.dim, a.heads, a.dimHead]).permute([1, 2, 0]);
}

/** merged-qk's W_QK (H, C, C); an error naming the alternative in the other storages. */
export function mergedQKWeight(a: AttentionWeights): Parameter {
  if (a.storage !== 'merged-qk') throw new ArgumentError(`Attention: W_QK is a parameter only in 'merged-qk' storage; use attn.QK(h).AB to materialise it from '${a.storage}'`);
  return a.mergedQK().W_QK;
}

/** Copies `value` into the view `view` (no graph), after checking the shape. */
export function writeView(view: Tensor, value: Tensor, name: string): void {
  if (value.shape.join() !== view.shape.join()) {
    throw new ShapeError(`Attention: ${name} has shape ${fmtShape(view.shape)}; cannot assign a tensor of shape ${fmtShape(value.shape)}`);
  }
  noGrad(() => view.copy_(value));
}

type WholeView = 'W_Q' | 'W_K' | 'W_V' | 'W_O';

/** The whole (H, ·, ·) view by name. */
export function wholeView(a: AttentionWeights, name: WholeView): Tensor {
  return name === 'W_O' ? outputWeight(a) : projectionWeight(a, name === 'W_Q' ? 'q' : name === 'W_K' ? 'k' : 'v');
}

/** Writes a whole view by name (shape-checked, no graph). */
export function setWholeView(a: AttentionWeights, name: WholeView, value: Tensor): void {
  writeView(noGrad(() => wholeView(a, name)), value, name);
}

/** The views of head h, each (C, D) or (D, C), reading and writing through. */
export function headViews(a: AttentionWeights, h: number): AttentionHead {
  if (!Number.isInteger(h) || h < 0 || h >= a.heads) throw new ArgumentError(`Attention.head: head ${h} is out of range for ${a.heads} heads`);
  const view = (name: WholeView) => ({
    get: () => wholeView(a, name).select(0, h),
    set: (v: Tensor) => writeView(noGrad(() => wholeView(a, name).select(0, h)), v, `head(${h}).${name}`),
    enumerable: true,
  });
  const out = {} as AttentionHead;
  for (const n of ['W_Q', 'W_K', 'W_V', 'W_O'] as const) Object.defineProperty(out, n, view(n));
  Object.defineProperty(out, 'QK', { get: () => qkCircuit(a, h), enumerable: true });
  Object.defineProperty(out, 'OV', { get: () => ovCircuit(a, h), enumerable: true });
  return out;
}

/** The QK circuit W_Q W_Kᵀ (C, C) of head h — or of every head (H, C, C) — kept factored. */
export function qkCircuit(a: AttentionWeights, h?: number): FactoredMatrix {
  if (a.storage === 'merged-qk') {
    const w = mergedQKWeight(a);
    const wh = h === undefined ? w : w.select(0, h);
    return new FactoredMatrix(wh, eye(a.dim, a.dim, { dtype: wh.dtype }));
  }
  const q = projectionWeight(a, 'q'), k = projectionWeight(a, 'k');
  return h === undefined ? new FactoredMatrix(q, k.mT) : new FactoredMatrix(q.select(0, h), k.select(0, h).mT);
}

/** The OV circuit W_V W_O (C, C) of head h — or of every head (H, C, C) — kept factored. */
export function ovCircuit(a: AttentionWeights, h?: number): FactoredMatrix {
  const v = projectionWeight(a, 'v'), o = outputWeight(a);
  return h === undefined ? new FactoredMatrix(v, o) : new FactoredMatrix(v.select(0, h), o.select(0, h));
}
