/**
 * Small dense linear algebra in float64 (not differentiable): the SVD that factorises a merged
 * W_QK back into W_Q, W_K, and what FactoredMatrix needs.
 */
import { ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { cat } from './shape.js';

export interface SVD {
  /** (m, k) left singular vectors as columns. */
  U: Tensor;
  /** (k) singular values, descending. */
  S: Tensor;
  /** (n, k) right singular vectors as columns: A = U diag(S) Vᵀ. */
  V: Tensor;
}

/**
 * Thin SVD of a 2-D matrix by one-sided Jacobi rotations (Hestenes), k = min(m, n). Accurate to
 * float64 rounding; O(k²·max(m, n)) per sweep, meant for matrices up to a few hundred wide.
 */
export function svd(a: Tensor): SVD {
  if (a.ndim !== 2) throw new ShapeError(`svd: expected a 2-D matrix, got ${fmtShape(a.shape)}`);
  const [m0, n0] = a.shape;
  if (m0 < n0) {
    const t = svd(a.t());
    return { U: t.V, S: t.S, V: t.U };
  }
  const m = m0, n = n0;
  const src = a.to('float64').toFlat();
  // Columns stored contiguously: col[j][i] = a[i, j].
  const col = Array.from({ length: n }, (_, j) => Float64Array.from({ length: m }, (_, i) => src[i * n + j]));
  const v = Array.from({ length: n }, (_, j) => Float64Array.from({ length: n }, (_, i) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const cp = col[p], cq = col[q];
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < m; i++) {
          alpha += cp[i] * cp[i];
          beta += cq[i] * cq[i];
          gamma += cp[i] * cq[i];
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < m; i++) {
          const x = cp[i], y = cq[i];
          cp[i] = c * x - s * y;
          cq[i] = s * x + c * y;
        }
        const vp = v[p], vq = v[q];
        for (let i = 0; i < n; i++) {
          const x = vp[i], y = vq[i];
          vp[i] = c * x - s * y;
          vq[i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const sig = col.map((c) => Math.sqrt(c.reduce((acc, x) => acc + x * x, 0)));
  const order = sig.map((_, j) => j).sort((x, y) => sig[y] - sig[x]);
  const U = new Float64Array(m * n), S = new Float64Array(n), V = new Float64Array(n * n);
  order.forEach((j, r) => {
    S[r] = sig[j];
    for (let i = 0; i < m; i++) U[i * n + r] = sig[j] > 0 ? col[j][i] / sig[j] : 0;
    for (let i = 0; i < n; i++) V[i * n + r] = v[j][i];
  });
  return {
    U: Tensor.fromTypedArray(U, [m, n], 'float64'),
    S: Tensor.fromTypedArray(S, [n], 'float64'),
    V: Tensor.fromTypedArray(V, [n, n], 'float64'),
  };
}

/** Numerical rank: singular values above max(m, n)·ε·σ_max, with ε the dtype's machine epsilon. */
export function matrixRank(a: Tensor, eps = a.dtype === 'float64' ? 2.2e-16 : 1.2e-7): number {
  const { S } = svd(a);
  const s = S.toFlat();
  const tol = Math.max(...a.shape) * eps * (s[0] ?? 0);
  return Array.from(s).filter((x) => x > tol).length;
}

/**
 * Best rank-r approximation A ≈ L R (Eckart–Young), with L = U_r √S_r (m, r) and
 * R = √S_r V_rᵀ (r, n), and the relative Frobenius error ‖A − L R‖ / ‖A‖ = √(Σ_{i>r} σᵢ²) / √(Σ σᵢ²).
 * When min(m, n) < r the factors are padded with zeros to width r.
 */
export function lowRankFactor(a: Tensor, r: number): { left: Tensor; right: Tensor; relativeError: number; singularValues: Tensor } {
  const { U, S, V } = svd(a);
  const rr = Math.min(r, S.shape[0]);
  const root = S.narrow(0, 0, rr).sqrt(); // (rr)
  let left = U.narrow(1, 0, rr).mul(root); // (m, rr)
  let right = V.narrow(1, 0, rr).mul(root).t(); // (rr, n)
  if (rr < r) {
    left = cat([left, Tensor.zeros([left.shape[0], r - rr], 'float64')], 1);
    right = cat([right, Tensor.zeros([r - rr, right.shape[1]], 'float64')], 0);
  }
  const s2 = Array.from(S.toFlat(), (x) => x * x);
  const total = s2.reduce((x, y) => x + y, 0);
  const rest = s2.slice(rr).reduce((x, y) => x + y, 0);
  return { left, right, relativeError: total > 0 ? Math.sqrt(rest / total) : 0, singularValues: S };
}
