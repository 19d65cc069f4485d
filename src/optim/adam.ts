/** Adam and AdamW (torch.optim.Adam / AdamW), on the backend's fused update. */
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AdamHyper } from '../backend/backend.js';
import { adamUpdate } from '../ops/optim.js';
import { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
}

type AdamGroupHyper = Required<AdamOptions>;

function check(name: string, o: AdamGroupHyper): void {
  if (!(o.lr >= 0)) throw new ArgumentError(`${name}: invalid learning rate ${o.lr}`);
  if (!(o.eps >= 0)) throw new ArgumentError(`${name}: invalid epsilon value ${o.eps}`);
  o.betas.forEach((b, i) => {
    if (!(b >= 0 && b < 1)) throw new ArgumentError(`${name}: invalid beta parameter at index ${i}: ${b}`);
  });
  if (!(o.weightDecay >= 0)) throw new ArgumentError(`${name}: invalid weight_decay value ${o.weightDecay}`);
}

class AdamBase extends Optimizer<AdamGroupHyper> {
  constructor(params: ParamsInput<AdamGroupHyper>, defaults: AdamGroupHyper, private readonly decoupled: boolean) {
    check(decoupled ? 'AdamW' : 'Adam', defaults);
    super(params, defaults);
  }

  protected updateGroup(group: ParamGroup<AdamGroupHyper>): void {
    for (const p of group.params) {
      if (!p.grad) continue;
      const s = this.stateOf(p);
      if (s.step === undefined) {
        // PyTorch's names and layout, so the state dict reads like PyTorch's.
        s.step = 0;
        s.exp_avg = p.zerosLike();
        s.exp_avg_sq = p.zerosLike();
        if (group.amsgrad) s.max_exp_avg_sq = p.zerosLike();
      }
      s.step = (s.step as number) + 1;
      const hp: AdamHyper = {
        lr: group.lr, beta1: group.betas[0], beta2: group.betas[1], eps: group.eps, weightDecay: group.weightDecay,
        decoupled: this.decoupled, step: s.step, maximize: group.maximize,
      };
      adamUpdate(p, p.grad, s.exp_avg as Tensor, s.exp_avg_sq as Tensor, group.amsgrad ? (s.max_exp_avg_sq as Tensor) : null, hp);
    }
  }
}

/**
 * Adam (Kingma & Ba 2015). Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weightDecay 0 (added to the gradient, i.e. L2), amsgrad false.
 */
export class Adam extends AdamBase {
  constructor(params: ParamsInput<AdamGroupHyper>, opts: AdamOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...opts }, false);
  }
}

/**
 * AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay p ← p·(1 − lr·wd).
 * Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weightDecay 0.01.
 */
export class AdamW extends AdamBase {
  constructor(params: ParamsInput<AdamGroupHyper>, opts: AdamOptions = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...opts }, true);
  }
}
