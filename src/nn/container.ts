/** Containers: Sequential and ModuleList. */
import { ArgumentError } from '../errors.js';
import { Module } from './module.js';

/** Runs its children in order; they are named '0', '1', … (PyTorch's keys). */
export class Sequential extends Module {
  [index: number]: Module;

  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }

  get length(): number {
    return this._modules.size;
  }

  override forward(x: unknown): unknown {
    let y = x;
    for (const m of this.children()) y = (m.forward as (a: unknown) => unknown)(y);
    return y;
  }
}

/** A list of modules registered as '0', '1', … Index with `list[i]` or `list.at(i)`; iterate with for…of. */
export class ModuleList<M extends Module = Module> extends Module {
  [index: number]: M;

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  get length(): number {
    return this._modules.size;
  }

  append(m: M): this {
    this.registerModule(String(this._modules.size), m);
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
  constructor(modules: Record<string, M> = {}) {
    super();
    for (const [k, m] of Object.entries(modules)) this.registerModule(k, m);
  }

  get(key: string): M {
    const m = this._modules.get(key);
    if (!m) throw new ArgumentError(`ModuleDict: no module named ${JSON.stringify(key)} (have ${[...this._modules.keys()].join(', ')})`);
    return m as M;
  }

  keys(): string[] {
    return [...this._modules.keys()];
  }
}
