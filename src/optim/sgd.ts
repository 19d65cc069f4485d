/** SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD). */
import { callOptions, onlyFalse } from '../options.js';
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/allocator.js';
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

function checkSGD(where: string, o: Partial<SGDHyper>): void {
  if (o.lr !== undefined && !(typeof o.lr === 'number' && o.lr >= 0)) throw new ArgumentError(`${where}: invalid learning rate ${JSON.stringify(o.lr)}`);
  if (o.momentum !== undefined && !(typeof o.momentum === 'number' && o.momentum >= 0)) throw new ArgumentError(`${where}: invalid momentum value ${JSON.stringify(o.momentum)}`);
  if (o.dampening !== undefined && typeof o.dampening !== 'number') throw new ArgumentError(`${where}: invalid dampening value ${JSON.stringify(o.dampening)}`);
  if (o.weightDecay !== undefined && !(typeof o.weightDecay === 'number' && o.weightDecay >= 0)) throw new ArgumentError(`${where}: invalid weight_decay value ${JSON.stringify(o.weightDecay)}`);
  for (const k of ['nesterov', 'maximize'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new ArgumentError(`${where}: ${k} must be true or false, got ${JSON.stringify(o[k])}`);
  }
}

/**
 * d = g + wd·p;  with momentum: b = d on the first step, then b = μ·b + (1 − dampening)·d;
 * d = d + μ·b (Nesterov) or b;  p = p − lr·d.
 *
 * Options in an object or positionally as PyTorch's `SGD(params, 0.1, 0.9)` (lr, momentum,
 * dampening, weightDecay, nesterov); lr is required, as in PyTorch 1.13.
 */
export class SGD extends Optimizer<SGDHyper> {
  constructor(params: ParamsInput<SGDHyper>, opts: SGDOptions);
  constructor(params: ParamsInput<SGDHyper>, lr: number, momentum?: number, dampening?: number, weightDecay?: number, nesterov?: boolean, opts?: Omit<SGDOptions, 'lr'>);
  constructor(params: ParamsInput<SGDHyper>, ...rest: unknown[]) {
    const o = callOptions<Partial<SGDOptions>>('optim.SGD', rest, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov'], ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize'], {
      foreach: { torch: 'foreach', ok: (v) => v === undefined || v === null || typeof v === 'boolean' },
      differentiable: onlyFalse('differentiable', 'the step is not differentiable'),
    });
    const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false, maximize = false } = o;
    if (lr === undefined) throw new ArgumentError('SGD: invalid learning rate undefined (lr is required)');
    checkSGD('SGD', { lr, momentum, dampening, weightDecay, nesterov, maximize });
    if (nesterov && (momentum <= 0 || dampening !== 0)) throw new ArgumentError('SGD: Nesterov momentum requires a momentum and zero dampening');
    super(params, { lr, momentum, dampening, weightDecay, nesterov, maximize });
  }

  protected override checkGroup(group: Partial<SGDHyper>): void {
    checkSGD('SGD', group);
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
        if (!buf) buf = s.momentum_buffer = keep(d.clone());
        else buf.mul_(momentum).add_(d.mul(1 - dampening));
        d = nesterov ? d.add(buf.mul(momentum)) : buf;
      }
      p.sub_(d.mul(lr));
    }
  }
}
