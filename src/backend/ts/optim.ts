/** The fused Adam/AdamW update of the reference backend (one pass over each parameter). */
import type { AdamHyper, View } from '../backend.js';

export function adamStep(param: View, grad: View, expAvg: View, expAvgSq: View, maxExpAvgSq: View | null, hp: AdamHyper): void {
  const { lr, beta1, beta2, eps, weightDecay, decoupled, step, maximize } = hp;
  const n = param.shape.reduce((a, b) => a * b, 1);
  const p = param.data, g = grad.data, m = expAvg.data, v = expAvgSq.data;
  const po = param.offset, go = grad.offset, mo = expAvg.offset, vo = expAvgSq.offset;
  const bc1 = 1 - beta1 ** step;
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  const stepSize = lr / bc1;
  const decay = decoupled ? 1 - lr * weightDecay : 1;
  for (let i = 0; i < n; i++) {
    let gi = maximize ? -g[go + i] : g[go + i];
    let pi = p[po + i];
    if (decoupled) pi *= decay;
    else if (weightDecay !== 0) gi += weightDecay * pi;
    const mi = beta1 * m[mo + i] + (1 - beta1) * gi;
    let vi = beta2 * v[vo + i] + (1 - beta2) * gi * gi;
    m[mo + i] = mi;
    v[vo + i] = vi;
    if (maxExpAvgSq) {
      const k = maxExpAvgSq.offset + i;
      vi = Math.max(maxExpAvgSq.data[k], v[vo + i]);
      maxExpAvgSq.data[k] = vi;
    }
    p[po + i] = pi - (stepSize * m[mo + i]) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}
