/**
 * Module: the base of every layer, as torch.nn.Module.
 *
 * A module registers its parameters, buffers and children by name (the names are PyTorch's, so
 * `stateDict()` keys match a PyTorch state_dict: `self_attn.in_proj_weight`), allocates in its
 * constructor, then calls `resetParameters()`. Registered names become properties:
 * `lin.weight`, and assigning one (`head.weight = emb.weight`) re-registers it, which is how a
 * tie is made. Subclasses declare them for the type checker with `declare weight: Parameter`.
 */
import { StateDictError, fmtShape } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../dtype.js';
import { Parameter } from './parameter.js';
import '../ops/tensor-methods.js'; // modules and optimizers use the complete Tensor class

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export type ForwardHook = (module: Module, args: unknown[], output: unknown) => unknown;

export class Module {
  /** Training mode (dropout active). Switch with train() / eval(). */
  training = true;
  protected readonly _parameters = new Map<string, Parameter | null>();
  protected readonly _buffers = new Map<string, Tensor | null>();
  protected readonly _nonPersistent = new Set<string>();
  protected readonly _modules = new Map<string, Module | null>();
  private readonly _forwardHooks = new Map<number, ForwardHook>();

  /** The computation. Subclasses override it; call it as `module.forward(...)`. */
  forward(..._args: never[]): unknown {
    throw new Error(`${this.constructor.name}: forward() is not implemented`);
  }

  /** Re-initialises parameters the way the PyTorch module does. Containers do nothing. */
  resetParameters(): void {}

  // -------------------------------------------------------------------------------------------
  // Registration

  /** Registers (or replaces, or with null declares absent) a parameter under `name`. */
  registerParameter(name: string, param: Parameter | null): void {
    this.checkName(name, this._parameters);
    if (param !== null && !(param instanceof Parameter)) {
      throw new StateDictError(`${this.constructor.name}.registerParameter: ${JSON.stringify(name)} must be a Parameter or null (wrap a tensor with new Parameter(t))`);
    }
    this._parameters.set(name, param);
    this.defineAccessor(name, '_parameters');
  }

  /** Registers a buffer: state that is not trained (saved in stateDict unless persistent is false). */
  registerBuffer(name: string, tensor: Tensor | null, persistent = true): void {
    this.checkName(name, this._buffers);
    this._buffers.set(name, tensor);
    if (persistent) this._nonPersistent.delete(name);
    else this._nonPersistent.add(name);
    this.defineAccessor(name, '_buffers');
  }

  /** Registers a child module (PyTorch's add_module). */
  registerModule<M extends Module | null>(name: string, module: M): M {
    this.checkName(name, this._modules);
    this._modules.set(name, module);
    this.defineAccessor(name, '_modules');
    return module;
  }

  private checkName(name: string, own: Map<string, unknown>): void {
    if (name === '' || name.includes('.')) {
      throw new StateDictError(`${this.constructor.name}: name ${JSON.stringify(name)} must be non-empty and contain no "."`);
    }
    const maps = [this._parameters, this._buffers, this._modules].filter((m) => m !== own);
    if (maps.some((m) => m.has(name))) {
      throw new StateDictError(`${this.constructor.name}: ${JSON.stringify(name)} is already registered as a different kind (parameter, buffer or module)`);
    }
  }

  /** A property `name` that reads the registry through `this` (so a deep copy reads its own). */
  private defineAccessor(name: string, registry: '_parameters' | '_buffers' | '_modules'): void {
    const existing = Object.getOwnPropertyDescriptor(this, name);
    if (existing && existing.get) return;
    Object.defineProperty(this, name, {
      configurable: true,
      enumerable: true,
      get(this: Module) {
        return this[registry].get(name);
      },
      set(this: Module, v: unknown) {
        if (registry === '_parameters') this.registerParameter(name, v as Parameter | null);
        else if (registry === '_buffers') this.registerBuffer(name, v as Tensor | null, !this._nonPersistent.has(name));
        else this.registerModule(name, v as Module | null);
      },
    });
  }

  // -------------------------------------------------------------------------------------------
  // Traversal

  /** Child modules by name (direct children only), skipping absent (null) ones. */
  *namedChildren(): Generator<[string, Module]> {
    for (const [name, m] of this._modules) if (m) yield [name, m];
  }

  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** This module and every descendant, each once, with dotted names ('' for this one). */
  *namedModules(prefix = '', seen = new Set<Module>()): Generator<[string, Module]> {
    if (seen.has(this)) return;
    seen.add(this);
    yield [prefix, this];
    for (const [name, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${name}` : name, seen);
  }

  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /**
   * Parameters with dotted names, each shared parameter once (under its first name), as
   * PyTorch's named_parameters(). Pass `recurse: false` for this module's own only.
   */
  *namedParameters(opts: { recurse?: boolean; removeDuplicate?: boolean } = {}): Generator<[string, Parameter]> {
    const { recurse = true, removeDuplicate = true } = opts;
    const seen = new Set<Parameter>();
    const mods: [string, Module][] = recurse ? [...this.namedModules('', new Set())] : [['', this]];
    for (const [prefix, m] of mods) {
      for (const [name, p] of m._parameters) {
        if (!p || (removeDuplicate && seen.has(p))) continue;
        seen.add(p);
        yield [prefix ? `${prefix}.${name}` : name, p];
      }
    }
  }

  /** Every parameter once, in registration order (what an optimizer should get). */
  parameters(recurse = true): Parameter[] {
    return [...this.namedParameters({ recurse })].map(([, p]) => p);
  }

  *namedBuffers(): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, b] of m._buffers) {
        if (!b || seen.has(b)) continue;
        seen.add(b);
        yield [prefix ? `${prefix}.${name}` : name, b];
      }
    }
  }

  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, b]) => b);
  }

  /** Number of trainable elements, each shared parameter counted once. */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.parameters()
      .filter((p) => !opts.trainableOnly || p.requiresGrad)
      .reduce((n, p) => n + p.numel(), 0);
  }

  // -------------------------------------------------------------------------------------------
  // Modes and utilities

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Calls fn on every child (recursively) and then on this module, like nn.Module.apply. */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Clears every parameter's gradient (sets it to null, PyTorch's default). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  requiresGrad_(on = true): this {
    for (const p of this.parameters()) p.requiresGrad_(on);
    return this;
  }

  /**
   * Converts floating parameters and buffers to `dtype` in place (new Parameter objects; ties are
   * kept). Like PyTorch, do this before building an optimizer over the parameters.
   */
  to(dtype: DType): this {
    const converted = new Map<Tensor, Tensor>();
    const convert = <T extends Tensor>(t: T, make: (x: Tensor) => T): T => {
      if (!t.isFloatingPoint() || t.dtype === dtype) return t;
      if (!converted.has(t)) converted.set(t, make(noGrad(() => t.to(dtype))));
      return converted.get(t) as T;
    };
    for (const m of this.modules()) {
      for (const [name, p] of m._parameters) if (p) m._parameters.set(name, convert(p, (x) => new Parameter(x, p.requiresGrad)));
      for (const [name, b] of m._buffers) if (b) m._buffers.set(name, convert(b, (x) => x));
    }
    return this;
  }

  double(): this {
    return this.to('float64');
  }

  float(): this {
    return this.to('float32');
  }

  // -------------------------------------------------------------------------------------------
  // State dicts

  /**
   * Parameters and persistent buffers by dotted name, PyTorch's order (own parameters, own
   * buffers, then each child). Tied parameters appear under each of their names, sharing memory.
   * Values are detached views of the live tensors.
   */
  stateDict(prefix = ''): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, p] of this._parameters) if (p) out[prefix + name] = p.detach();
    for (const [name, b] of this._buffers) if (b && !this._nonPersistent.has(name)) out[prefix + name] = b.detach();
    for (const [name, m] of this._modules) if (m) Object.assign(out, m.stateDict(`${prefix}${name}.`));
    return out;
  }

  /**
   * Copies a state dict into this module's tensors (dtype converted, storage kept, ties kept).
   * Reports missing, unexpected and wrong-shape keys by name; with `strict` (the default) any of
   * them is a StateDictError, and a shape mismatch always is. Nothing is copied if it throws.
   */
  loadStateDict(sd: Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((k) => !(k in sd));
    const unexpectedKeys = Object.keys(sd).filter((k) => !(k in own));
    const wrongShape = Object.keys(own)
      .filter((k) => k in sd && sd[k].shape.join() !== own[k].shape.join())
      .map((k) => `${k}: checkpoint has ${fmtShape(sd[k].shape)}, model has ${fmtShape(own[k].shape)}`);
    const problems: string[] = [];
    if (wrongShape.length) problems.push(`size mismatch for ${wrongShape.join('; ')}`);
    if (strict && missingKeys.length) problems.push(`missing key(s): ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length) problems.push(`unexpected key(s): ${unexpectedKeys.join(', ')}`);
    if (problems.length) {
      throw new StateDictError(`loadStateDict: error(s) loading state dict for ${this.constructor.name}: ${problems.join('. ')}`);
    }
    noGrad(() => {
      for (const k of Object.keys(own)) if (k in sd) own[k].copy_(sd[k]);
    });
    return { missingKeys, unexpectedKeys };
  }

  // -------------------------------------------------------------------------------------------
  // Hooks

  /**
   * Calls `hook(module, args, output)` after every forward of this module; a hook that returns
   * something other than undefined replaces the output. Returns a handle whose remove() detaches
   * it. Works however forward is reached (directly, or from a parent module).
   */
  registerForwardHook(hook: ForwardHook): { remove(): void } {
    const id = nextHookId++;
    this._forwardHooks.set(id, hook);
    if (!Object.prototype.hasOwnProperty.call(this, 'forward')) {
      Object.defineProperty(this, 'forward', { configurable: true, writable: true, value: hookedForward });
    }
    return {
      remove: () => {
        this._forwardHooks.delete(id);
        if (this._forwardHooks.size === 0) delete (this as { forward?: unknown }).forward;
      },
    };
  }

  /** Whether any forward hook is registered on this module. */
  hasHooks(): boolean {
    return this._forwardHooks.size > 0;
  }

  /** Removes every forward hook from this module and its descendants. */
  removeHooks(): void {
    for (const m of this.modules()) {
      m._forwardHooks.clear();
      delete (m as { forward?: unknown }).forward;
    }
  }

  /** @internal The class's own forward followed by the hooks (installed as an instance method). */
  static runHooks(m: Module, args: unknown[], output: unknown): unknown {
    let out = output;
    for (const hook of m._forwardHooks.values()) {
      const r = hook(m, args, out);
      if (r !== undefined) out = r;
    }
    return out;
  }

  /** The submodule at a dotted path ('' is this module). */
  getSubmodule(path: string): Module {
    let m: Module = this;
    if (path === '') return m;
    for (const part of path.split('.')) {
      const next = m._modules.get(part);
      if (!next) throw new StateDictError(`getSubmodule: ${m.constructor.name} has no submodule ${JSON.stringify(part)} (path ${JSON.stringify(path)})`);
      m = next;
    }
    return m;
  }

  // -------------------------------------------------------------------------------------------
  // Printing

  /** Extra text inside the parentheses of this module's line, like PyTorch's extra_repr. */
  extraRepr(): string {
    return '';
  }

  /** PyTorch's repr: `Name(extra)` or a parenthesised, indented list of `(child): repr`. */
  toString(): string {
    const extra = this.extraRepr();
    const children: string[] = [];
    for (const [name, m] of this._modules) {
      if (m && (m.constructor as { isHookPoint?: boolean }).isHookPoint) continue;
      children.push(`(${name}): ${(m ? m.toString() : 'None').split('\n').join('\n  ')}`);
    }
    const head = this.constructor.name;
    if (children.length === 0) return extra.includes('\n') ? `${head}(\n  ${extra.split('\n').join('\n  ')}\n)` : `${head}(${extra})`;
    const lines = [...(extra ? extra.split('\n') : []), ...children];
    return `${head}(\n  ${lines.join('\n  ')}\n)`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

let nextHookId = 0;

/** Installed as an instance's `forward` while it has hooks: the class's forward, then the hooks. */
function hookedForward(this: Module, ...args: unknown[]): unknown {
  const own = (Object.getPrototypeOf(this) as { forward: (...a: unknown[]) => unknown }).forward;
  return Module.runHooks(this, args, own.apply(this, args));
}

/** Python-style repr of a JS value inside extraRepr: booleans as True/False. */
export function pyRepr(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `(${v.map(pyRepr).join(', ')}${v.length === 1 ? ',' : ''})`;
  if (typeof v === 'number' && !Number.isInteger(v) && Math.abs(v) < 1e-4 && v !== 0) return v.toExponential().replace(/e-(\d)$/, 'e-0$1');
  return String(v);
}
