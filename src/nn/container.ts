/** Containers: Sequential, ModuleList and ModuleDict. */
import { isOptionsObject } from '../options.js';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { Module } from './module.js';

function checkModule(m: unknown, where: string, what: string): Module {
  if (!(m instanceof Module)) {
    const got = m === null ? 'null' : typeof m === 'object' ? `an object (${(m as object).constructor?.name ?? 'Object'})` : `${typeof m} ${String(m)}`;
    throw new ArgumentError(`${where}: ${what} must be an nn.Module, got ${got}`);
  }
  return m;
}

/**
 * Runs its children in order; they are named '0', '1', … (PyTorch's keys), or by the keys of a
 * `{ name: module }` object (PyTorch's `Sequential(OrderedDict(...))`).
 *
 * `forward(x)` is typed Tensor → Tensor, the common case; for other values give the types:
 * `seq.forward<[Tensor, Tensor]>(pair)`.
 */
export class Sequential extends Module {
  [index: number]: Module;

  constructor(...modules: Module[]);
  constructor(named: Record<string, Module>);
  constructor(...modules: unknown[]) {
    super();
    if (modules.length === 1 && isOptionsObject(modules[0])) {
      for (const [k, m] of Object.entries(modules[0])) this.registerModule(k, checkModule(m, 'nn.Sequential', `child ${JSON.stringify(k)}`));
    } else {
      modules.forEach((m, i) => this.registerModule(String(i), checkModule(m, 'nn.Sequential', `argument ${i}`)));
    }
  }

  get length(): number {
    return this._modules.size;
  }

  /** Appends a module as the next numbered child (PyTorch's Sequential.append). */
  append(m: Module): this {
    this.registerModule(String(this._modules.size), checkModule(m, 'Sequential.append', 'the argument'));
    return this;
  }

  override forward<Out = Tensor, In = Out>(input: In): Out {
    let y: unknown = input;
    for (const m of this.children()) y = m.forward(y);
    return y as Out;
  }
}

/** A list of modules registered as '0', '1', … Index with `list[i]` or `list.at(i)`; iterate with for…of. */
export class ModuleList<M extends Module = Module> extends Module {
  [index: number]: M;

  constructor(modules: Iterable<M> = [], ...rest: never[]) {
    super();
    if (rest.length) throw new ArgumentError(`nn.ModuleList: takes one iterable of modules (new nn.ModuleList([a, b])), got ${rest.length + 1} arguments`);
    if (modules === null || typeof (modules as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
      throw new ArgumentError('nn.ModuleList: expected an iterable of modules (new nn.ModuleList([a, b]))');
    }
    for (const m of modules) this.append(m);
  }

  get length(): number {
    return this._modules.size;
  }

  append(m: M): this {
    this.registerModule(String(this._modules.size), checkModule(m, 'ModuleList.append', 'the argument') as M);
    return this;
  }

  /** Appends every module of `modules` (PyTorch's extend). */
  extend(modules: Iterable<M>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  at(i: number): M {
    const n = this.length;
    const k = i < 0 ? i + n : i;
    if (!Number.isInteger(k) || k < 0 || k >= n) throw new ArgumentError(`ModuleList: index ${i} is out of range for a list of ${n}`);
    return this._modules.get(String(k)) as M;
  }

  *[Symbol.iterator](): Iterator<M> {
    for (const m of this.children()) yield m as M;
  }
}

/** Named children, PyTorch's ModuleDict: `new ModuleDict({ wte: …, wpe: … })`, keys become name prefixes. */
export class ModuleDict<M extends Module = Module> extends Module {
  constructor(modules: Record<string, M> = {}, ...rest: never[]) {
    super();
    if (rest.length || !isOptionsObject(modules)) throw new ArgumentError('nn.ModuleDict: takes one { name: module } object (new nn.ModuleDict({ wte: …, wpe: … }))');
    for (const [k, m] of Object.entries(modules)) this.registerModule(k, checkModule(m, 'nn.ModuleDict', `entry ${JSON.stringify(k)}`) as M);
  }

  get(key: string): M {
    const m = this._modules.get(key);
    if (!m) throw new ArgumentError(`ModuleDict: no module named ${JSON.stringify(key)} (have ${[...this._modules.keys()].join(', ')})`);
    return m as M;
  }

  /** Adds or replaces the module under `key` (PyTorch's `d[key] = m`). */
  set(key: string, m: M): this {
    this.setAttribute(key, checkModule(m, 'ModuleDict.set', `entry ${JSON.stringify(key)}`));
    return this;
  }

  has(key: string): boolean {
    return this._modules.has(key);
  }

  keys(): string[] {
    return [...this._modules.keys()];
  }
}
