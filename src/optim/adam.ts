/** Adam and AdamW (torch.optim.Adam / AdamW), on the backend's fused update. */
import { callOptions, onlyFalse, type Unsupported } from '../options.js';
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AdamHyper } from '../backend/backend.js';
import { adamUpdate } from '../ops/optim.js';
import { keep } from '../tensor/allocator.js';
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

const ADAM_KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'] as const;
/** PyTorch's positional order after params. */
const ADAM_POSITIONAL = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad'] as const;
/** Implementation switches of PyTorch's Adam: the same numbers whatever their value, or refused. */
const ADAM_UNSUPPORTED: Record<string, Unsupported> = {
  foreach: { torch: 'foreach', ok: (v) => v === undefined || v === null || typeof v === 'boolean' },
  fused: { torch: 'fused', ok: (v) => v === undefined || v === null || typeof v === 'boolean' },
  capturable: onlyFalse('capturable', 'CUDA graphs do not apply'),
  differentiable: onlyFalse('differentiable', 'the step is not differentiable'),
};

/** Checks one group's hyperparameters (the defaults, or a group's own values), as PyTorch does. */
function check(name: string, o: Partial<AdamGroupHyper>): void {
  if (o.lr !== undefined && !(typeof o.lr === 'number' && o.lr >= 0)) throw new ArgumentError(`${name}: invalid learning rate ${JSON.stringify(o.lr)}`);
  if (o.eps !== undefined && !(typeof o.eps === 'number' && o.eps >= 0)) throw new ArgumentError(`${name}: invalid epsilon value ${JSON.stringify(o.eps)}`);
  if (o.betas !== undefined) {
    if (!Array.isArray(o.betas) || o.betas.length !== 2) throw new ArgumentError(`${name}: betas must be two numbers [beta1, beta2], got ${JSON.stringify(o.betas)}`);
    o.betas.forEach((b, i) => {
      if (!(typeof b === 'number' && b >= 0 && b < 1)) throw new ArgumentError(`${name}: invalid beta parameter at index ${i}: ${b}`);
    });
  }
  if (o.weightDecay !== undefined && !(typeof o.weightDecay === 'number' && o.weightDecay >= 0)) throw new ArgumentError(`${name}: invalid weight_decay value ${JSON.stringify(o.weightDecay)}`);
  for (const k of ['amsgrad', 'maximize'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new ArgumentError(`${name}: ${k} must be true or false, got ${JSON.stringify(o[k])}`);
  }
}

class AdamBase extends Optimizer<AdamGroupHyper> {
  constructor(params: ParamsInput<AdamGroupHyper>, defaults: AdamGroupHyper, private readonly decoupled: boolean) {
    check(decoupled ? 'AdamW' : 'Adam', defaults);
    super(params, defaults);
  }

  protected override checkGroup(group: Partial<AdamGroupHyper>): void {
    check(this.constructor.name, group);
  }

  protected updateGroup(group: ParamGroup<AdamGroupHyper>): void {
    for (const p of group.params) {
      if (!p.grad) continue;
      const s = this.stateOf(p);
      if (s.step === undefined) {
        // PyTorch's names and layout, so the state dict reads like PyTorch's.
        s.step = 0;
        s.exp_avg = keep(p.zerosLike());
        s.exp_avg_sq = keep(p.zerosLike());
        if (group.amsgrad) s.max_exp_avg_sq = keep(p.zerosLike());
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

/** The options of Adam/AdamW from PyTorch's call forms (options object, or positional lr, betas, eps, weightDecay, amsgrad). */
function adamOptions(where: string, rest: unknown[]): AdamOptions {
  const o = callOptions<AdamOptions>(where, rest, ADAM_POSITIONAL, ADAM_KEYS, ADAM_UNSUPPORTED);
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as AdamOptions;
}

/**
 * Adam (Kingma & Ba 2015). Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weightDecay 0 (added to the gradient, i.e. L2), amsgrad false. Options in an object or
 * positionally as PyTorch's `Adam(params, 0.01)`; param groups may override any of them.
 */
export class Adam extends AdamBase {
  constructor(params: ParamsInput<AdamGroupHyper>, opts?: AdamOptions);
  constructor(params: ParamsInput<AdamGroupHyper>, lr: number, opts?: AdamOptions);
  constructor(params: ParamsInput<AdamGroupHyper>, lr: number, betas?: [number, number], eps?: number, weightDecay?: number, amsgrad?: boolean, opts?: AdamOptions);
  constructor(params: ParamsInput<AdamGroupHyper>, ...rest: unknown[]) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...adamOptions('optim.Adam', rest) }, false);
  }
}

/**
 * AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay p ← p·(1 − lr·wd).
 * Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weightDecay 0.01.
 */
export class AdamW extends AdamBase {
  constructor(params: ParamsInput<AdamGroupHyper>, opts?: AdamOptions);
  constructor(params: ParamsInput<AdamGroupHyper>, lr: number, opts?: AdamOptions);
  constructor(params: ParamsInput<AdamGroupHyper>, lr: number, betas?: [number, number], eps?: number, weightDecay?: number, amsgrad?: boolean, opts?: AdamOptions);
  constructor(params: ParamsInput<AdamGroupHyper>, ...rest: unknown[]) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...adamOptions('optim.AdamW', rest) }, true);
  }
}
