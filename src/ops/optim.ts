/**
 * The fused optimizer ops: one Adam/AdamW update of a parameter and its state, in place, on the
 * backend's kernel (Backend.adamStep), with the composed twin it is tested against. optim/ holds
 * the optimizers (hyperparameters, state, param groups); the arithmetic lives here with the
 * other ops.
 */
import { backend } from '../backend/index.js';
import type { AdamHyper } from '../backend/backend.js';
import type { Tensor } from '../tensor/tensor.js';

/** One update of p in place: the fused kernel when everything is contiguous, else the composed form. */
export function adamUpdate(p: Tensor, grad: Tensor, m: Tensor, v: Tensor, vmax: Tensor | null, hp: AdamHyper): void {
  const all = [p, grad, m, v, ...(vmax ? [vmax] : [])];
  if (all.every((t) => t.isContiguous() && t.dtype === p.dtype)) {
    backend().adamStep(p.view_(), grad.view_(), m.view_(), v.view_(), vmax?.view_() ?? null, hp);
    for (const t of [p, m, v, ...(vmax ? [vmax] : [])]) t.storage.version++;
  } else {
    adamUpdateComposed(p, grad, m, v, vmax, hp);
  }
}

/** The composed twin of the fused step, from tensor ops (PyTorch's single-tensor algorithm). */
export function adamUpdateComposed(p: Tensor, grad: Tensor, m: Tensor, v: Tensor, vmax: Tensor | null, hp: AdamHyper): void {
  let g = hp.maximize ? grad.neg() : grad;
  if (hp.decoupled) p.mul_(1 - hp.lr * hp.weightDecay);
  else if (hp.weightDecay !== 0) g = g.add(p.mul(hp.weightDecay));
  m.mul_(hp.beta1).add_(g.mul(1 - hp.beta1));
  v.mul_(hp.beta2).add_(g.mul(g).mul(1 - hp.beta2));
  const bc1 = 1 - hp.beta1 ** hp.step;
  const bc2Sqrt = Math.sqrt(1 - hp.beta2 ** hp.step);
  let vv = v;
  if (vmax) {
    vmax.copy_(vmax.maximum(v));
    vv = vmax;
  }
  const denom = vv.sqrt().div(bc2Sqrt).add(hp.eps);
  p.sub_(m.div(denom).mul(hp.lr / bc1));
}
