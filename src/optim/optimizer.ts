/**
 * Optimizer: parameter groups with their hyperparameters, per-parameter state, zeroGrad, and
 * state dicts in PyTorch's layout ({ state: {index: {...}}, param_groups: [{..., params: [index]}] },
 * with PyTorch's snake_case names), as torch.optim.Optimizer.
 */
import { ArgumentError, StateDictError } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/allocator.js';
import '../ops/tensor-methods.js'; // modules and optimizers use the complete Tensor class
import { checkOptions } from '../options.js';

export type ParamGroupInput<H> = { params: Iterable<Tensor> } & Partial<H>;
export type ParamsInput<H> = Iterable<Tensor> | ParamGroupInput<H>[];
export type ParamGroup<H> = H & { params: Tensor[] };
export type ParamState = Record<string, Tensor | number>;

export interface OptimizerStateDict {
  state: Record<string, ParamState>;
  param_groups: Record<string, unknown>[];
}

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

export abstract class Optimizer<H extends { lr: number }> {
  readonly paramGroups: ParamGroup<H>[] = [];
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: ParamsInput<H>, readonly defaults: H) {
    if (params instanceof Tensor) throw new ArgumentError(`${new.target.name}: params must be an iterable of tensors or of groups, not one tensor (use [t])`);
    if (params === null || typeof (params as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
      throw new ArgumentError(`${new.target.name}: params must be an iterable of tensors (model.parameters()) or of parameter groups, got ${JSON.stringify(params) ?? typeof params}`);
    }
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw new ArgumentError(`${this.constructor.name}: got an empty parameter list`);
    const groups = list[0] instanceof Tensor ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<H>] : (list as ParamGroupInput<H>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /**
   * Adds a group; hyperparameters it leaves out come from the defaults. A key that is not a
   * hyperparameter of this optimizer (`weight_decay` for weightDecay, a typo) is an error.
   */
  addParamGroup(group: ParamGroupInput<H>): void {
    if (group === null || typeof group !== 'object' || !('params' in group)) {
      throw new ArgumentError(`${this.constructor.name}: a parameter group must be an object { params, …hyperparameters }, got ${JSON.stringify(group) ?? typeof group}`);
    }
    checkOptions(group, ['params', ...Object.keys(this.defaults)], `${this.constructor.name} parameter group`);
    const { params: input, ...hyper } = group;
    this.checkGroup(Object.fromEntries(Object.entries(hyper).filter(([, v]) => v !== undefined)) as Partial<H>);
    if (input instanceof Tensor) throw new ArgumentError(`${this.constructor.name}: a group's params must be an iterable of tensors, not one tensor (use [t])`);
    if (input === null || typeof (input as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
      throw new ArgumentError(`${this.constructor.name}: a group's params must be an iterable of tensors`);
    }
    const params = [...new Set(input)];
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new ArgumentError(`${this.constructor.name}: parameters must be tensors`);
      if (!p.isLeaf) throw new ArgumentError(`${this.constructor.name}: can't optimize a non-leaf tensor (shape [${p.shape.join(',')}])`);
      if (this.paramGroups.some((g) => g.params.includes(p))) {
        throw new ArgumentError(`${this.constructor.name}: some parameters appear in more than one parameter group`);
      }
    }
    const own = Object.fromEntries(Object.entries(hyper).filter(([, v]) => v !== undefined));
    this.paramGroups.push({ ...this.defaults, ...own, params } as ParamGroup<H>);
  }

  /** Checks a group's own hyperparameters (subclasses check their ranges). */
  protected checkGroup(_group: Partial<H>): void {}

  /** Clears gradients: to null (default, PyTorch's set_to_none) or to zeros. */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (setToNone) p.grad = null;
        else if (p.grad) p.grad.zero_();
      }
    }
  }

  /**
   * One update of every parameter that has a gradient. `closure`, if given, re-evaluates the
   * model and returns the loss (it runs with grad enabled, before the update).
   */
  step(closure?: () => Tensor): Tensor | null {
    const loss = closure ? closure() : null;
    noGrad(() => {
      for (const group of this.paramGroups) this.updateGroup(group);
    });
    return loss;
  }

  protected abstract updateGroup(group: ParamGroup<H>): void;

  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /** Parameters are numbered in group order; state tensors are the live ones (clone to keep a copy). */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const groups = this.paramGroups.map((g) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) if (k !== 'params') out[snake(k)] = v;
      out.params = g.params.map((p) => {
        index.set(p, index.size);
        return index.size - 1;
      });
      return out;
    });
    const state: Record<string, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[String(i)] = { ...s };
    }
    return { state, param_groups: groups };
  }

  /** Loads a state dict from an optimizer built over parameters of the same shapes, in the same order. */
  loadStateDict(sd: OptimizerStateDict): void {
    if (!sd || !Array.isArray(sd.param_groups) || typeof sd.state !== 'object') {
      throw new StateDictError(`${this.constructor.name}.loadStateDict: expected { state, param_groups }`);
    }
    if (sd.param_groups.length !== this.paramGroups.length) {
      throw new StateDictError(`${this.constructor.name}.loadStateDict: the state dict has ${sd.param_groups.length} parameter groups, the optimizer ${this.paramGroups.length}`);
    }
    const byIndex: Tensor[] = [];
    sd.param_groups.forEach((g, gi) => {
      const ids = g.params as number[];
      const own = this.paramGroups[gi].params;
      if (!Array.isArray(ids) || ids.length !== own.length) {
        throw new StateDictError(`${this.constructor.name}.loadStateDict: group ${gi} has ${Array.isArray(ids) ? ids.length : '?'} parameters in the state dict, ${own.length} in the optimizer`);
      }
      ids.forEach((id, j) => (byIndex[id] = own[j]));
    });
    const newState = new Map<Tensor, ParamState>();
    for (const [id, s] of Object.entries(sd.state)) {
      const p = byIndex[Number(id)];
      if (!p) throw new StateDictError(`${this.constructor.name}.loadStateDict: state for parameter ${id}, which no group lists`);
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof Tensor && v.numel() === p.numel() && v.ndim > 0 && v.shape.join() !== p.shape.join()) {
          throw new StateDictError(`${this.constructor.name}.loadStateDict: state ${k} of parameter ${id} has shape [${v.shape.join(',')}], the parameter [${p.shape.join(',')}]`);
        }
        // PyTorch ≥ 1.12 keeps `step` as a 0-d tensor; qkv's optimizers count it as a number.
        if (k === 'step' && v instanceof Tensor) {
          if (v.numel() !== 1) throw new StateDictError(`${this.constructor.name}.loadStateDict: step of parameter ${id} has shape [${v.shape.join(',')}], expected a number or a 0-d tensor`);
          copy[k] = v.item();
          continue;
        }
        copy[k] = v instanceof Tensor ? keep(noGrad(() => v.to(v.ndim > 0 ? p.dtype : v.dtype).clone())) : v;
      }
      newState.set(p, copy);
    }
    sd.param_groups.forEach((g, gi) => {
      for (const [k, v] of Object.entries(g)) if (k !== 'params') (this.paramGroups[gi] as Record<string, unknown>)[camel(k)] = v;
    });
    this.state.clear();
    for (const [p, s] of newState) this.state.set(p, s);
  }
}
