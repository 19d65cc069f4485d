/**
 * Conversion of nn.Attention's weights between storages (fused ↔ separate ↔ merged-qk) and
 * packed layouts, as a copy from one module's views into another's.
 *
 * fused ↔ separate (any layout) and factored → merged-qk are exact; merged-qk → factored is the
 * best rank-D factorisation of each W_QK (exact when its rank ≤ D), and the report says how
 * close it came.
 */
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../tensor/tensor.js';
import { stack } from '../ops/shape.js';
import { lowRankFactor } from '../ops/linalg.js';
import { projectionBias, projectionWeight, type AttentionWeights } from './attention-views.js';

export interface ConversionReport {
  /** True when the conversion reproduces the function to float32 rounding. */
  exact: boolean;
  /** Per head, for merged-qk → factored: the rank of W_QK and the relative Frobenius error of its best rank-D factorisation. */
  heads: { rank: number; relativeError: number }[];
  /** Largest per-head relative error (0 when exact). */
  maxRelativeError: number;
}

/**
 * Writes the function of `src` into `target`, a module of the same sizes and bias settings in
 * another storage or layout (built by the caller). Returns how faithful the copy is.
 */
export function copyAttentionWeights(src: AttentionWeights, target: AttentionWeights): ConversionReport {
  const report: ConversionReport = { exact: true, heads: [], maxRelativeError: 0 };
  const bias = (a: AttentionWeights, role: 'q' | 'k' | 'v') => projectionBias(a, role)!;
  noGrad(() => {
    target.outProj.weight.copy_(src.outProj.weight);
    if (src.outProj.bias) target.outProj.bias!.copy_(src.outProj.bias);
    projectionWeight(target, 'v').copy_(projectionWeight(src, 'v'));
    if (src.qkvBias) bias(target, 'v').copy_(bias(src, 'v'));
    if (target.storage !== 'merged-qk' && src.storage !== 'merged-qk') {
      projectionWeight(target, 'q').copy_(projectionWeight(src, 'q'));
      projectionWeight(target, 'k').copy_(projectionWeight(src, 'k'));
      if (src.qkvBias) {
        bias(target, 'q').copy_(bias(src, 'q'));
        bias(target, 'k').copy_(bias(src, 'k'));
      }
    } else if (target.storage === 'merged-qk' && src.storage !== 'merged-qk') {
      const q = projectionWeight(src, 'q').to('float64'), k = projectionWeight(src, 'k').to('float64');
      const t = target.mergedQK();
      t.W_QK.copy_(q.matmul(k.mT));
      // (x W_Q + b_Q)(x W_K + b_K)ᵀ = x W_QK xᵀ + b_Q·(x W_K)ᵀ + terms constant per query (which softmax ignores).
      if (src.qkvBias) t.qk_bias!.copy_(k.matmul(bias(src, 'q').to('float64').unsqueeze(-1)).squeeze(-1));
    } else if (target.storage === 'merged-qk') {
      const s = src.mergedQK(), t = target.mergedQK();
      t.W_QK.copy_(s.W_QK);
      if (src.qkvBias) t.qk_bias!.copy_(s.qk_bias!);
    } else {
      factorMergedQK(src, target, report);
    }
  });
  return report;
}

/** merged-qk → factored: per head, W_QK ≈ W_Q W_Kᵀ of rank D (and b_Q from qk_bias). */
function factorMergedQK(src: AttentionWeights, target: AttentionWeights, report: ConversionReport): void {
  const { W_QK, qk_bias } = src.mergedQK();
  const D = src.dimHead, C = src.dim;
  const wq: Tensor[] = [], wk: Tensor[] = [], bq: Tensor[] = [];
  for (let h = 0; h < src.heads; h++) {
    const f = lowRankFactor(W_QK.select(0, h).to('float64'), D);
    const sv = f.singularValues.toFlat();
    const rank = sv.filter((s) => s > C * 1.2e-7 * sv[0]).length;
    report.heads.push({ rank, relativeError: f.relativeError });
    wq.push(f.left); // (C, D)
    wk.push(f.right.t()); // (C, D)
    if (src.qkvBias) {
      // b_Q with W_K b_Q = u (least squares; b_K = 0 is softmax-invariant): b_Q = pinv(W_K) u.
      const u = qk_bias!.select(0, h).to('float64');
      const kk = f.right.t();
      const gram = kk.t().matmul(kk); // (D, D) = S_D (diagonal)
      const diag = Array.from(gram.toFlat()).filter((_, i) => i % (D + 1) === 0);
      const inv = Tensor.fromTypedArray(Float64Array.from(diag, (g) => (g > 0 ? 1 / g : 0)), [D], 'float64');
      bq.push(kk.t().matmul(u.unsqueeze(-1)).squeeze(-1).mul(inv));
    }
  }
  projectionWeight(target, 'q').copy_(stack(wq));
  projectionWeight(target, 'k').copy_(stack(wk));
  if (src.qkvBias) {
    projectionBias(target, 'q')!.copy_(stack(bq));
    projectionBias(target, 'k')!.zero_();
  }
  report.maxRelativeError = Math.max(0, ...report.heads.map((r) => r.relativeError));
  report.exact = report.heads.every((r) => r.rank <= D);
}
