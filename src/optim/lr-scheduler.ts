/**
 * Learning-rate schedules that set each group's `lr` from its initial value, as
 * torch.optim.lr_scheduler: construction applies step 0, each `step()` advances one.
 */
import { ArgumentError } from '../errors.js';
import { checkOptions } from '../options.js';
import { Optimizer } from './optimizer.js';

type LrGroup = { lr: number; initialLr?: number };

export abstract class LRScheduler {
  /** Steps taken (PyTorch's last_epoch); 0 right after construction. */
  lastEpoch = -1;
  readonly baseLrs: number[];
  private lastLr: number[] = [];

  constructor(readonly optimizer: Optimizer<{ lr: number }>) {
    if (!(optimizer instanceof Optimizer)) throw new ArgumentError(`${new.target.name}: the first argument must be an optimizer, got ${JSON.stringify(optimizer) ?? typeof optimizer}`);
    const groups = optimizer.paramGroups as unknown as LrGroup[];
    for (const g of groups) g.initialLr ??= g.lr;
    this.baseLrs = groups.map((g) => g.initialLr!);
    // Subclasses call this.step() at the end of their constructor to apply step 0 (their own
    // fields are not set yet while this constructor runs).
  }

  /** The learning rate of each group at step `lastEpoch`. */
  protected abstract computeLr(): number[];

  step(): void {
    this.lastEpoch++;
    const lrs = this.computeLr();
    (this.optimizer.paramGroups as unknown as LrGroup[]).forEach((g, i) => (g.lr = lrs[i]));
    this.lastLr = lrs;
  }

  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  stateDict(): { last_epoch: number; base_lrs: number[] } {
    return { last_epoch: this.lastEpoch, base_lrs: this.baseLrs.slice() };
  }

  loadStateDict(sd: { last_epoch: number; base_lrs: number[] }): void {
    if (!Number.isInteger(sd?.last_epoch) || !Array.isArray(sd.base_lrs) || sd.base_lrs.length !== this.baseLrs.length) {
      throw new ArgumentError(`${this.constructor.name}.loadStateDict: expected { last_epoch, base_lrs[${this.baseLrs.length}] }`);
    }
    this.lastEpoch = sd.last_epoch - 1;
    this.baseLrs.splice(0, this.baseLrs.length, ...sd.base_lrs);
    this.step();
  }
}

/** lr = baseLr · lambda(step) (torch.optim.lr_scheduler.LambdaLR). */
export class LambdaLR extends LRScheduler {
  constructor(optimizer: Optimizer<{ lr: number }>, readonly lrLambda: (step: number) => number) {
    super(optimizer);
    if (typeof lrLambda !== 'function') throw new ArgumentError(`${this.constructor.name}: lrLambda must be a function (step) => factor, got ${JSON.stringify(lrLambda) ?? typeof lrLambda}`);
    this.step();
  }

  protected computeLr(): number[] {
    return this.baseLrs.map((lr) => lr * this.lrLambda(this.lastEpoch));
  }
}

export interface CosineWarmupOptions {
  /** Linear warm-up length. */
  warmupSteps: number;
  /** Step at which the cosine reaches its floor (nanoGPT's lr_decay_iters). */
  totalSteps: number;
  /** The floor as a fraction of each group's base lr (nanoGPT: 6e-5 / 6e-4 = 0.1). Default 0.1. */
  minLrRatio?: number;
}

const COSINE_KEYS = ['warmupSteps', 'totalSteps', 'minLrRatio'] as const;

/** nanoGPT's schedule as a factor of the base lr: linear warm-up, cosine decay, then the floor. */
export function cosineWarmupFactor(step: number, o: CosineWarmupOptions): number {
  return cosineFactor(step, checkCosine(o, 'cosineWarmupFactor'));
}

function checkCosine(o: CosineWarmupOptions, where: string): CosineWarmupOptions {
  checkOptions(o, COSINE_KEYS, where);
  if (!(typeof o?.warmupSteps === 'number' && o.warmupSteps >= 0) || !(typeof o.totalSteps === 'number' && o.totalSteps >= o.warmupSteps)) {
    throw new ArgumentError(`${where}: need 0 ≤ warmupSteps ≤ totalSteps, got ${o?.warmupSteps} and ${o?.totalSteps}`);
  }
  if (o.minLrRatio !== undefined && !(typeof o.minLrRatio === 'number' && o.minLrRatio >= 0 && o.minLrRatio <= 1)) {
    throw new ArgumentError(`${where}: minLrRatio must be in [0, 1], got ${JSON.stringify(o.minLrRatio)}`);
  }
  return o;
}

function cosineFactor(step: number, o: CosineWarmupOptions): number {
  const minRatio = o.minLrRatio ?? 0.1;
  if (step < o.warmupSteps) return (step + 1) / (o.warmupSteps + 1);
  if (step > o.totalSteps) return minRatio;
  const ratio = (step - o.warmupSteps) / Math.max(o.totalSteps - o.warmupSteps, 1);
  return minRatio + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (1 - minRatio);
}

/**
 * Linear warm-up over `warmupSteps`, then cosine decay to `minLrRatio`·base at `totalSteps`
 * (nanoGPT's get_lr).
 */
export class CosineWarmupLR extends LambdaLR {
  constructor(optimizer: Optimizer<{ lr: number }>, readonly opts: CosineWarmupOptions) {
    checkCosine(opts, 'CosineWarmupLR');
    super(optimizer, (step) => cosineFactor(step, opts));
  }
}
