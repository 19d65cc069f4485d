/**
 * FactoredMatrix: a product A·B kept as its two factors (TransformerLens's FactoredMatrix).
 *
 * The QK circuit of a head, W_Q W_Kᵀ, is C×C but of rank ≤ D; storing the factors costs 2·C·D
 * numbers instead of C², and most questions (its norm, its singular values, applying it to a
 * vector) can be answered without forming it. `AB` materialises when asked.
 *
 * Shape: A (…, m, k), B (…, k, n): the matrix is (…, m, n); leading dims batch (e.g. heads).
 */
import { ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { svd } from './linalg.js';

export class FactoredMatrix {
  constructor(readonly A: Tensor, readonly B: Tensor) {
    if (A.ndim < 2 || B.ndim < 2 || A.shape[A.ndim - 1] !== B.shape[B.ndim - 2]) {
      throw new ShapeError(`FactoredMatrix: A (…, m, k) and B (…, k, n) must share k; got ${fmtShape(A.shape)} and ${fmtShape(B.shape)}`);
    }
  }

  /** (…, m, n). */
  get shape(): number[] {
    const lead = this.A.ndim >= this.B.ndim ? this.A.shape.slice(0, -2) : this.B.shape.slice(0, -2);
    return [...lead, this.A.shape[this.A.ndim - 2], this.B.shape[this.B.ndim - 1]];
  }

  /** The inner dimension k: an upper bound on the rank. */
  get innerDim(): number {
    return this.A.shape[this.A.ndim - 1];
  }

  /** The full product A·B (…, m, n). */
  get AB(): Tensor {
    return this.A.matmul(this.B);
  }

  /** The small product B·A (…, k, k): same non-zero eigenvalues as A·B. */
  get BA(): Tensor {
    return this.B.matmul(this.A);
  }

  /** (A·B)ᵀ = Bᵀ·Aᵀ, still factored. */
  transpose(): FactoredMatrix {
    return new FactoredMatrix(this.B.mT, this.A.mT);
  }

  /** (A·B)·M, still factored: A · (B·M). */
  matmul(m: Tensor): FactoredMatrix {
    return new FactoredMatrix(this.A, this.B.matmul(m));
  }

  /** M·(A·B), still factored: (M·A) · B. */
  rmatmul(m: Tensor): FactoredMatrix {
    return new FactoredMatrix(m.matmul(this.A), this.B);
  }

  /** Frobenius norm without forming A·B: ‖AB‖² = trace((AᵀA)(BBᵀ)). Shape (…). */
  norm(): Tensor {
    const g = this.A.mT.matmul(this.A); // (…, k, k)
    const h = this.B.matmul(this.B.mT); // (…, k, k)
    return g.mul(h.mT).sum([-2, -1]).clamp(0).sqrt();
  }

  /**
   * Singular values of one (unbatched) factored matrix, from the k×k core: with A = Q_A R_A and
   * Bᵀ = Q_B R_B, the singular values of AB are those of R_A R_Bᵀ. Descending, length k.
   */
  singularValues(): Tensor {
    if (this.A.ndim !== 2 || this.B.ndim !== 2) {
      throw new ShapeError(`FactoredMatrix.singularValues: expects one matrix, got batch shape ${fmtShape(this.shape.slice(0, -2))}; select a head first`);
    }
    // R factors from the Gram matrices' SVDs: A = U_A S_A V_Aᵀ ⇒ the core is S_A V_Aᵀ · V_B S_B.
    const a = svd(this.A), b = svd(this.B.t());
    const core = a.V.mul(a.S).t().matmul(b.V.mul(b.S)); // (k, k)
    return svd(core).S;
  }
}
