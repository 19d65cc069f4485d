/**
 * Fused scaled-dot-product attention of the reference backend: the specification of
 * Backend.attention / attentionBackward, in float64 row by row.
 *
 * For each batch element and query row i:
 *   s_j = scale · q_i·k_j + mask_ij   (−inf where causal and j > i)
 *   m = max_j s_j,  l = Σ_j exp(s_j − m),  p_j = exp(s_j − m) / l
 *   out_i = Σ_j p_j v_j,  lse_i = m + log l
 * A row where every key is masked (m = −inf) has out NaN (as softmax of all −inf) and lse −inf.
 * The backward recomputes p from lse: with D_i = Σ_d gOut_id·out_id,
 *   gv_j += p_ij gOut_i;  ds_ij = p_ij (gOut_i·v_j − D_i) · scale;  gq_i += ds_ij k_j;  gk_j += ds_ij q_i
 */
import type { View } from '../backend.js';
import { contiguousStrides, forEachElement } from './strided.js';

interface Dims {
  batch: number[];
  L: number;
  S: number;
  D: number;
  Dv: number;
}

function dims(q: View, k: View, v: View): Dims {
  const r = q.shape.length;
  return { batch: q.shape.slice(0, r - 2), L: q.shape[r - 2], S: k.shape[r - 2], D: q.shape[r - 1], Dv: v.shape[r - 1] };
}

function batchStrides(x: View | null, nb: number): number[] {
  return x ? x.strides.slice(0, nb) : new Array<number>(nb).fill(0);
}

/** Scores of query row i (offsets of this batch element given) into s; returns the row max. */
function scoreRow(
  q: View, k: View, mask: View | null, causal: boolean, scale: number,
  qo: number, ko: number, mo: number, i: number, d: Dims, s: Float64Array,
): number {
  const r = q.shape.length;
  const qsl = q.strides[r - 2], qsd = q.strides[r - 1], ksl = k.strides[r - 2], ksd = k.strides[r - 1];
  const qd = q.data, kd = k.data;
  let m = -Infinity;
  for (let j = 0; j < d.S; j++) {
    let dot = 0;
    for (let c = 0; c < d.D; c++) dot += qd[qo + i * qsl + c * qsd] * kd[ko + j * ksl + c * ksd];
    let x = dot * scale;
    if (mask) x += mask.data[mo + i * mask.strides[r - 2] + j * mask.strides[r - 1]];
    if (causal && j > i) x = -Infinity;
    s[j] = x;
    if (x > m || x !== x) m = x;
  }
  return m;
}

export function attention(
  q: View, k: View, v: View, mask: View | null, causal: boolean, scale: number, out: View, lse: View,
): void {
  const d = dims(q, k, v);
  const nb = d.batch.length, r = nb + 2;
  const vsl = v.strides[r - 2], vsd = v.strides[r - 1];
  const outB = contiguousStrides(d.batch).map((s) => s * d.L * d.Dv);
  const lseB = contiguousStrides(d.batch).map((s) => s * d.L);
  const s = new Float64Array(d.S);
  const acc = new Float64Array(d.Dv);
  forEachElement(
    d.batch,
    [batchStrides(q, nb), batchStrides(k, nb), batchStrides(v, nb), batchStrides(mask, nb), outB, lseB],
    [q.offset, k.offset, v.offset, mask ? mask.offset : 0, out.offset, lse.offset],
    (offs) => {
      const [qo, ko, vo, mo, oo, lo] = offs;
      for (let i = 0; i < d.L; i++) {
        const m = scoreRow(q, k, mask, causal, scale, qo, ko, mo, i, d, s);
        const row = oo + i * d.Dv;
        if (m === -Infinity) {
          for (let c = 0; c < d.Dv; c++) out.data[row + c] = NaN;
          lse.data[lo + i] = -Infinity;
          continue;
        }
        let l = 0;
        acc.fill(0);
        for (let j = 0; j < d.S; j++) {
          const p = Math.exp(s[j] - m);
          l += p;
          if (p === 0) continue;
          const vj = vo + j * vsl;
          for (let c = 0; c < d.Dv; c++) acc[c] += p * v.data[vj + c * vsd];
        }
        for (let c = 0; c < d.Dv; c++) out.data[row + c] = acc[c] / l;
        lse.data[lo + i] = m + Math.log(l);
      }
    },
  );
}

export function attentionBackward(
  q: View, k: View, v: View, mask: View | null, causal: boolean, scale: number, out: View, lse: View,
  gOut: View, gq: View, gk: View, gv: View,
): void {
  const d = dims(q, k, v);
  const nb = d.batch.length, r = nb + 2;
  const qsl = q.strides[r - 2], qsd = q.strides[r - 1], ksl = k.strides[r - 2], ksd = k.strides[r - 1];
  const vsl = v.strides[r - 2], vsd = v.strides[r - 1], gsl = gOut.strides[r - 2], gsd = gOut.strides[r - 1];
  const cs = contiguousStrides(d.batch);
  const gqsl = gq.strides[r - 2], gksl = gk.strides[r - 2], gvsl = gv.strides[r - 2];
  const s = new Float64Array(d.S);
  const gqRow = new Float64Array(d.D);
  const gkAcc = new Float64Array(d.S * d.D), gvAcc = new Float64Array(d.S * d.Dv);
  forEachElement(
    d.batch,
    [batchStrides(q, nb), batchStrides(k, nb), batchStrides(v, nb), batchStrides(mask, nb), batchStrides(gOut, nb),
      cs.map((x) => x * d.L * d.Dv), cs.map((x) => x * d.L), batchStrides(gq, nb), batchStrides(gk, nb), batchStrides(gv, nb)],
    [q.offset, k.offset, v.offset, mask ? mask.offset : 0, gOut.offset, out.offset, lse.offset, gq.offset, gk.offset, gv.offset],
    (offs) => {
      const [qo, ko, vo, mo, go, oo, lo, gqo, gko, gvo] = offs;
      gkAcc.fill(0);
      gvAcc.fill(0);
      for (let i = 0; i < d.L; i++) {
        scoreRow(q, k, mask, causal, scale, qo, ko, mo, i, d, s);
        const li = lse.data[lo + i];
        let Di = 0;
        for (let c = 0; c < d.Dv; c++) Di += gOut.data[go + i * gsl + c * gsd] * out.data[oo + i * d.Dv + c];
        gqRow.fill(0);
        for (let j = 0; j < d.S; j++) {
          const p = Math.exp(s[j] - li);
          if (p === 0) continue;
          let dp = 0;
          for (let c = 0; c < d.Dv; c++) {
            const g = gOut.data[go + i * gsl + c * gsd];
            gvAcc[j * d.Dv + c] += p * g;
            dp += g * v.data[vo + j * vsl + c * vsd];
          }
          const ds = p * (dp - Di) * scale;
          for (let c = 0; c < d.D; c++) {
            gqRow[c] += ds * k.data[ko + j * ksl + c * ksd];
            gkAcc[j * d.D + c] += ds * q.data[qo + i * qsl + c * qsd];
          }
        }
        for (let c = 0; c < d.D; c++) gq.data[gqo + i * gqsl + c] = gqRow[c];
      }
      for (let j = 0; j < d.S; j++) {
        for (let c = 0; c < d.D; c++) gk.data[gko + j * gksl + c] = gkAcc[j * d.D + c];
        for (let c = 0; c < d.Dv; c++) gv.data[gvo + j * gvsl + c] = gvAcc[j * d.Dv + c];
      }
    },
  );
}
