/**
 * Fused kernels of the reference backend: softmax, layer norm, cross-entropy, row gather and
 * scatter-add. Inputs are contiguous (core makes them so); statistics accumulate in float64.
 * Each has a composed twin in ops/ built from primitives, and a test that the two agree.
 */
import type { View } from '../backend.js';

/** Splits a contiguous shape around `dim` into (outer, n, inner). */
function around(shape: readonly number[], dim: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let d = 0; d < dim; d++) outer *= shape[d];
  for (let d = dim + 1; d < shape.length; d++) inner *= shape[d];
  return [outer, shape[dim], inner];
}

export function softmax(x: View, dim: number, log: boolean, out: View): void {
  const [outer, n, inner] = around(x.shape, dim);
  const xd = x.data, od = out.data;
  for (let o = 0; o < outer; o++) {
    for (let p = 0; p < inner; p++) {
      const base = o * n * inner + p;
      let m = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = xd[x.offset + base + i * inner];
        if (v > m || v !== v) m = v;
      }
      // A row that is all −inf (fully masked) has no finite max; PyTorch gives NaN there.
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.exp(xd[x.offset + base + i * inner] - m);
      if (log) {
        const lse = m + Math.log(s);
        for (let i = 0; i < n; i++) od[out.offset + base + i * inner] = xd[x.offset + base + i * inner] - lse;
      } else {
        const inv = 1 / s;
        for (let i = 0; i < n; i++) od[out.offset + base + i * inner] = Math.exp(xd[x.offset + base + i * inner] - m) * inv;
      }
    }
  }
}

export function softmaxBackward(y: View, gy: View, dim: number, log: boolean, gx: View): void {
  const [outer, n, inner] = around(y.shape, dim);
  const yd = y.data, gd = gy.data, xd = gx.data;
  for (let o = 0; o < outer; o++) {
    for (let p = 0; p < inner; p++) {
      const base = o * n * inner + p;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const k = base + i * inner;
        s += log ? gd[gy.offset + k] : gd[gy.offset + k] * yd[y.offset + k];
      }
      for (let i = 0; i < n; i++) {
        const k = base + i * inner;
        const yv = yd[y.offset + k], g = gd[gy.offset + k];
        xd[gx.offset + k] = log ? g - Math.exp(yv) * s : yv * (g - s);
      }
    }
  }
}

export function layerNorm(
  x: View, weight: View | null, bias: View | null, eps: number, out: View, mean: View, rstd: View,
): void {
  const D = x.shape[x.shape.length - 1];
  const N = mean.shape.reduce((p, s) => p * s, 1);
  const xd = x.data, od = out.data;
  for (let r = 0; r < N; r++) {
    const base = r * D;
    let s = 0;
    for (let j = 0; j < D; j++) s += xd[x.offset + base + j];
    const mu = s / D;
    let v = 0;
    for (let j = 0; j < D; j++) {
      const c = xd[x.offset + base + j] - mu;
      v += c * c;
    }
    const rs = 1 / Math.sqrt(v / D + eps);
    mean.data[mean.offset + r] = mu;
    rstd.data[rstd.offset + r] = rs;
    for (let j = 0; j < D; j++) {
      let y = (xd[x.offset + base + j] - mu) * rs;
      if (weight) y *= weight.data[weight.offset + j];
      if (bias) y += bias.data[bias.offset + j];
      od[out.offset + base + j] = y;
    }
  }
}

/**
 * With x̂ = (x − μ)·r and g = gy·w: gx = r·(g − mean(g) − x̂·mean(g·x̂)); gw = Σ_rows gy·x̂; gb = Σ_rows gy.
 */
export function layerNormBackward(
  gy: View, x: View, weight: View | null, mean: View, rstd: View,
  gx: View, gWeight: View | null, gBias: View | null,
): void {
  const D = x.shape[x.shape.length - 1];
  const N = mean.shape.reduce((p, s) => p * s, 1);
  const gw = gWeight ? new Float64Array(D) : null;
  const gb = gBias ? new Float64Array(D) : null;
  const g = new Float64Array(D);
  const xh = new Float64Array(D);
  for (let r = 0; r < N; r++) {
    const base = r * D;
    const mu = mean.data[mean.offset + r], rs = rstd.data[rstd.offset + r];
    let sg = 0, sgx = 0;
    for (let j = 0; j < D; j++) {
      const gyv = gy.data[gy.offset + base + j];
      xh[j] = (x.data[x.offset + base + j] - mu) * rs;
      g[j] = weight ? gyv * weight.data[weight.offset + j] : gyv;
      sg += g[j];
      sgx += g[j] * xh[j];
      if (gw) gw[j] += gyv * xh[j];
      if (gb) gb[j] += gyv;
    }
    sg /= D;
    sgx /= D;
    for (let j = 0; j < D; j++) gx.data[gx.offset + base + j] = rs * (g[j] - sg - xh[j] * sgx);
  }
  if (gWeight && gw) for (let j = 0; j < D; j++) gWeight.data[gWeight.offset + j] = gw[j];
  if (gBias && gb) for (let j = 0; j < D; j++) gBias.data[gBias.offset + j] = gb[j];
}

export function crossEntropy(
  logits: View, target: View, ignoreIndex: number, labelSmoothing: number, loss: View, lse: View,
): number {
  const [N, C] = logits.shape;
  const xd = logits.data;
  for (let i = 0; i < N; i++) {
    const t = target.data[target.offset + i];
    const base = logits.offset + i * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (xd[base + c] > m || xd[base + c] !== xd[base + c]) m = xd[base + c];
    let s = 0, sum = 0;
    for (let c = 0; c < C; c++) {
      s += Math.exp(xd[base + c] - m);
      sum += xd[base + c];
    }
    const l = m + Math.log(s);
    lse.data[lse.offset + i] = l;
    if (t === ignoreIndex) {
      loss.data[loss.offset + i] = 0;
      continue;
    }
    if (!(t >= 0 && t < C) || t !== Math.floor(t)) return i;
    const nll = l - xd[base + t];
    loss.data[loss.offset + i] = labelSmoothing === 0 ? nll : (1 - labelSmoothing) * nll + labelSmoothing * (l - sum / C);
  }
  return -1;
}

export function crossEntropyBackward(
  logits: View, target: View, lse: View, gLoss: View, ignoreIndex: number, labelSmoothing: number, gx: View,
): void {
  const [N, C] = logits.shape;
  const xd = logits.data, od = gx.data;
  for (let i = 0; i < N; i++) {
    const t = target.data[target.offset + i];
    const base = i * C;
    if (t === ignoreIndex) {
      for (let c = 0; c < C; c++) od[gx.offset + base + c] = 0;
      continue;
    }
    const g = gLoss.data[gLoss.offset + i];
    const l = lse.data[lse.offset + i];
    const eps = labelSmoothing / C;
    for (let c = 0; c < C; c++) {
      const p = Math.exp(xd[logits.offset + base + c] - l);
      od[gx.offset + base + c] = g * (p - (c === t ? 1 - labelSmoothing : 0) - eps);
    }
  }
}

export function indexSelect(table: View, index: View, out: View): void {
  const E = table.shape[1];
  const n = index.shape.reduce((p, s) => p * s, 1);
  for (let i = 0; i < n; i++) {
    const row = index.data[index.offset + i];
    const src = table.offset + row * E;
    const dst = out.offset + i * E;
    for (let j = 0; j < E; j++) out.data[dst + j] = table.data[src + j];
  }
}

export function indexAdd(dst: View, index: View, src: View): void {
  const E = dst.shape[1];
  const n = index.shape.reduce((p, s) => p * s, 1);
  for (let i = 0; i < n; i++) {
    const row = index.data[index.offset + i];
    const d = dst.offset + row * E;
    const s = src.offset + i * E;
    for (let j = 0; j < E; j++) dst.data[d + j] += src.data[s + j];
  }
}
