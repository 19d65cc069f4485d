/** SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD). */
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';

export interface SGDOptions {
  /** Required, as in PyTorch. */
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  maximize?: boolean;
}

type SGDHyper = Required<SGDOptions>;

/**
 * d = g + wd·p;  with momentum: b = d on the first step, then b = μ·b + (1 − dampening)·d;
 * d = d + μ·b (Nesterov) or b;  p = p − lr·d.
 */
export class SGD extends Optimizer<SGDHyper> {
  constructor(params: ParamsInput<SGDHyper>, opts: SGDOptions) {
    const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false, maximize = false } = opts ?? ({} as SGDOptions);
    if (!(lr >= 0)) throw new ArgumentError(`SGD: invalid learning rate ${lr} (lr is required)`);
    if (momentum < 0) throw new ArgumentError(`SGD: invalid momentum value ${momentum}`);
    if (weightDecay < 0) throw new ArgumentError(`SGD: invalid weight_decay value ${weightDecay}`);
    if (nesterov && (momentum <= 0 || dampening !== 0)) throw new ArgumentError('SGD: Nesterov momentum requires a momentum and zero dampening');
    super(params, { lr, momentum, dampening, weightDecay, nesterov, maximize });
  }

  protected updateGroup(group: ParamGroup<SGDHyper>): void {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    for (const p of group.params) {
      if (!p.grad) continue;
      let d: Tensor = maximize ? p.grad.neg() : p.grad;
      if (weightDecay !== 0) d = d.add(p.mul(weightDecay));
      if (momentum !== 0) {
        const s = this.stateOf(p);
        let buf = s.momentum_buffer as Tensor | undefined;
        if (!buf) buf = s.momentum_buffer = d.clone();
        else buf.mul_(momentum).add_(d.mul(1 - dampening));
        d = nesterov ? d.add(buf.mul(momentum)) : buf;
      }
      p.sub_(d.mul(lr));
    }
  }
}
