/**
 * Module: the base of every layer, as torch.nn.Module.
 *
 * A module registers its parameters, buffers and children by name (the names are PyTorch's, so
 * `stateDict()` keys match a PyTorch state_dict: `self_attn.in_proj_weight`), allocates in its
 * constructor, then calls `resetParameters()`.
 *
 * Registration by assignment, as PyTorch's `__setattr__`: inside a subclass constructor (or
 * anywhere later) `this.fc = new nn.Linear(4, 2)` registers a child, `this.w = new
 * nn.Parameter(t)` a parameter, and class fields (`fc = new nn.Linear(4, 2)`) do the same.
 * Assigning `null` to a registered name keeps it registered as absent; re-assigning replaces
 * (also across kinds: a Parameter assigned over a child replaces the child); assigning a
 * Parameter that another module owns shares it, which is how a tie is made
 * (`head.weight = emb.weight`). Plain tensors and other values stay plain attributes; a buffer is
 * registered with `registerBuffer(name, t, { persistent })`, and assigning a tensor to a buffer's
 * name replaces the buffer. `delete this.fc` unregisters. Registered names read as properties.
 *
 * Subclasses declare registered names for the type checker with `declare fc: nn.Linear` (or a
 * class field, which registers by itself). This works because the Module constructor returns a
 * Proxy of the instance whose `set`, `defineProperty` and `deleteProperty` traps do the
 * registering; reads are not trapped.
 */
import { ArgumentError, StateDictError, fmtShape } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/allocator.js';
import type { DType } from '../dtype.js';
import { checkOptions } from '../options.js';
import { Parameter } from './parameter.js';
import '../ops/tensor-methods.js'; // modules and optimizers use the complete Tensor class
import { addHook, runWithBackwardHooks, type ForwardHook, type ForwardPreHook, type FullBackwardHook, type HookOptions, type RemovableHandle } from './hooks.js';

export type { ForwardHook, ForwardPreHook, FullBackwardHook, HookOptions } from './hooks.js';
export { RemovableHandle } from './hooks.js';

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

type Registry = '_parameters' | '_buffers' | '_modules';
const REGISTRIES: readonly Registry[] = ['_parameters', '_buffers', '_modules'];
const KIND: Record<Registry, string> = { _parameters: 'parameter', _buffers: 'buffer', _modules: 'child module' };
/** Marks the getters of registered names with the registry they read. */
const REGISTRY_OF = Symbol('qkv.registry');

/** A short description of a value for error messages ("a Tensor of shape [2,3]", "number 3"). */
function describe(v: unknown): string {
  if (v instanceof Tensor) return `a ${v instanceof Parameter ? 'Parameter' : 'Tensor'} of shape ${fmtShape(v.shape)}`;
  if (v instanceof Module) return `a module (${v.constructor.name})`;
  if (v === undefined) return 'undefined';
  if (typeof v === 'object' && v !== null) return `an object (${v.constructor?.name ?? 'Object'})`;
  return `${typeof v} ${String(v)}`;
}

/** The registry holding `name` on a (raw or proxied) module, or null. */
function registryOf(m: Module, name: string): Registry | null {
  for (const r of REGISTRIES) if (m[r].has(name)) return r;
  return null;
}

/** The first descriptor of `key` on the prototype chain of `obj` (its own properties excluded). */
function inheritedDescriptor(obj: object, key: PropertyKey): PropertyDescriptor | undefined {
  for (let o = Object.getPrototypeOf(obj); o !== null; o = Object.getPrototypeOf(o)) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d) return d;
  }
  return undefined;
}

const PROXIES = new WeakMap<object, Module>();

/**
 * PyTorch's __setattr__ / __delattr__ on a module: Modules and Parameters register, values
 * assigned to registered names replace or clear them; everything else is a plain property.
 */
const HANDLER: ProxyHandler<Module> = {
  set(target, key, value, receiver) {
    if (typeof key === 'string') {
      const reg = registryOf(target, key);
      if (reg !== null || value instanceof Module || value instanceof Parameter) {
        const inherited = reg === null ? inheritedDescriptor(target, key) : undefined;
        if (!inherited || !('get' in inherited || 'set' in inherited)) {
          (receiver as Module).setAttribute(key, value);
          return true;
        }
        // A class accessor (e.g. Attention.W_Q) handles its own assignments below.
      }
    }
    if (!Reflect.set(target, key, value, receiver)) {
      throw new ArgumentError(`${target.constructor.name}: cannot assign ${String(key)}: it is a read-only property (a getter or a non-writable field)`);
    }
    return true;
  },

  defineProperty(target, key, desc) {
    // Class fields and Object.defineProperty: a data property holding a Module or Parameter
    // registers; `undefined` over a registered name (a TS field written without `declare`) keeps it.
    if (typeof key === 'string' && 'value' in desc) {
      const reg = registryOf(target, key);
      const v: unknown = desc.value;
      if (reg !== null && v === undefined) return true;
      if (reg !== null || v instanceof Module || v instanceof Parameter) {
        PROXIES.get(target)!.setAttribute(key, v);
        return true;
      }
    }
    return Reflect.defineProperty(target, key, desc);
  },

  deleteProperty(target, key) {
    if (typeof key === 'string') {
      const reg = registryOf(target, key);
      if (reg !== null) {
        target[reg].delete(key);
        target._nonPersistent.delete(key);
      }
    }
    return Reflect.deleteProperty(target, key);
  },
};

/** The object behind a module's proxy. */
function rawOf(m: Module): Module {
  return RAW.get(m) ?? m;
}

const RAW = new WeakMap<object, Module>();

/** @internal Wraps a module object in the registering proxy (the constructor and deepCopy use it). */
export function wrapModule<M extends Module>(raw: M): M {
  const existing = PROXIES.get(raw);
  if (existing) return existing as M;
  const proxy = new Proxy<Module>(raw, HANDLER) as M;
  PROXIES.set(raw, proxy);
  PROXIES.set(proxy, proxy);
  RAW.set(proxy, raw);
  return proxy;
}

/** Names that registering would shadow: Module's own API and bookkeeping. */
const RESERVED = new Set(['training', '_parameters', '_buffers', '_modules', '_nonPersistent', '_forwardHooks', '_forwardPreHooks', '_backwardHooks', '_innerForward']);

export interface RegisterBufferOptions {
  /** Saved in stateDict(). Default true. */
  persistent?: boolean;
}

export class Module {
  /** Training mode (dropout active). Switch with train() / eval(). */
  training = true;
  /** @internal */ readonly _parameters = new Map<string, Parameter | null>();
  /** @internal */ readonly _buffers = new Map<string, Tensor | null>();
  /** @internal */ readonly _nonPersistent = new Set<string>();
  /** @internal */ readonly _modules = new Map<string, Module | null>();
  private readonly _forwardHooks = new Map<number, ForwardHook<Module>>();
  private readonly _forwardPreHooks = new Map<number, ForwardPreHook<Module>>();
  private readonly _backwardHooks = new Map<number, FullBackwardHook<Module>>();
  /** An instance-level forward that was in place when hooks were installed (restored after). */
  private _innerForward: ((...args: unknown[]) => unknown) | null = null;

  constructor() {
    // Every module is used through this proxy, so assignments register (see the file doc).
    return wrapModule(this);
  }

  /**
   * The computation. Subclasses override it with their own signature; call it as
   * `module.forward(...)` (JavaScript has no callable objects). On a module typed as plain
   * `Module` (a child of a container) it takes and returns anything, as in PyTorch.
   */
  forward(..._args: any[]): any {
    throw new Error(`${this.constructor.name}: forward() is not implemented`);
  }

  /** Re-initialises parameters the way the PyTorch module does. Containers do nothing. */
  resetParameters(): void {}

  // -------------------------------------------------------------------------------------------
  // Registration

  /** Registers (or replaces, or with null declares absent) a parameter under `name`. */
  registerParameter(name: string, param: Parameter | null): void {
    this.checkName(name, '_parameters');
    if (param !== null && !(param instanceof Parameter)) {
      throw new StateDictError(`${this.constructor.name}.registerParameter: ${JSON.stringify(name)} must be a Parameter or null (wrap a tensor with new Parameter(t)), got ${describe(param)}`);
    }
    this._parameters.set(name, param);
    this.defineAccessor(name, '_parameters');
  }

  /**
   * Registers a buffer: state that is not trained, saved in stateDict() unless
   * `{ persistent: false }` (PyTorch's register_buffer; the positional boolean works too).
   */
  registerBuffer(name: string, tensor: Tensor | null, opts: RegisterBufferOptions | boolean = {}): void {
    const persistent = typeof opts === 'boolean' ? opts : (checkOptions(opts, ['persistent'], `${this.constructor.name}.registerBuffer`).persistent ?? true);
    this.checkName(name, '_buffers');
    if (tensor !== null && !(tensor instanceof Tensor)) {
      throw new StateDictError(`${this.constructor.name}.registerBuffer: ${JSON.stringify(name)} must be a Tensor or null, got ${describe(tensor)}`);
    }
    if (tensor !== null) keep(tensor); // buffers outlive every tidy() scope
    if (tensor instanceof Parameter) {
      throw new StateDictError(`${this.constructor.name}.registerBuffer: ${JSON.stringify(name)} is a Parameter; register it with registerParameter (or assign it), or pass a plain tensor (p.detach())`);
    }
    this._buffers.set(name, tensor);
    if (persistent) this._nonPersistent.delete(name);
    else this._nonPersistent.add(name);
    this.defineAccessor(name, '_buffers');
  }

  /** Registers a child module (PyTorch's add_module / register_module). */
  registerModule<M extends Module | null>(name: string, module: M): M {
    this.checkName(name, '_modules');
    if (module !== null && !(module instanceof Module)) {
      throw new StateDictError(`${this.constructor.name}.registerModule: ${JSON.stringify(name)} must be a Module or null, got ${describe(module)}`);
    }
    this._modules.set(name, module);
    this.defineAccessor(name, '_modules');
    return module;
  }

  /** PyTorch's add_module: the same as registerModule. */
  addModule<M extends Module | null>(name: string, module: M): M {
    return this.registerModule(name, module);
  }

  /**
   * Assignment with PyTorch's __setattr__ rules (what `this.name = value` does): a Parameter
   * registers as a parameter, a Module as a child (either replacing whatever the name held); on
   * a registered name, null marks it absent and a value of the registered kind replaces it;
   * anything else is a plain property.
   */
  setAttribute(name: string, value: unknown): void {
    const reg = registryOf(this, name);
    const drop = (keep: Registry) => {
      for (const r of REGISTRIES) if (r !== keep) this[r].delete(name);
      if (keep !== '_buffers') this._nonPersistent.delete(name);
    };
    if (value instanceof Parameter) {
      drop('_parameters');
      this.registerParameter(name, value);
    } else if (value instanceof Module) {
      drop('_modules');
      this.registerModule(name, value);
    } else if (reg === '_parameters') {
      if (value !== null && value !== undefined) {
        throw new StateDictError(`${this.constructor.name}: cannot assign ${describe(value)} as parameter ${JSON.stringify(name)} (an nn.Parameter or null expected; wrap a tensor with new nn.Parameter(t))`);
      }
      this.registerParameter(name, null);
    } else if (reg === '_modules') {
      if (value !== null && value !== undefined) {
        throw new StateDictError(`${this.constructor.name}: cannot assign ${describe(value)} as child module ${JSON.stringify(name)} (an nn.Module or null expected)`);
      }
      this.registerModule(name, null);
    } else if (reg === '_buffers') {
      if (value !== null && value !== undefined && !(value instanceof Tensor)) {
        throw new StateDictError(`${this.constructor.name}: cannot assign ${describe(value)} as buffer ${JSON.stringify(name)} (a Tensor or null expected)`);
      }
      this.registerBuffer(name, (value ?? null) as Tensor | null, !this._nonPersistent.has(name));
    } else {
      Reflect.defineProperty(rawOf(this), name, { value, writable: true, enumerable: true, configurable: true });
    }
  }

  private checkName(name: string, own: Registry): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new StateDictError(`${this.constructor.name}: name ${JSON.stringify(name)} must be non-empty and contain no "."`);
    }
    if (RESERVED.has(name) || name in Module.prototype) {
      throw new StateDictError(`${this.constructor.name}: cannot register ${JSON.stringify(name)}: it would shadow Module's own ${name in Module.prototype ? `method ${name}()` : `field ${name}`}`);
    }
    const method = inheritedDescriptor(this, name);
    if (method && 'value' in method && typeof method.value === 'function') {
      throw new StateDictError(`${this.constructor.name}: cannot register ${JSON.stringify(name)}: it would shadow the method ${this.constructor.name}.${name}()`);
    }
    const other = REGISTRIES.find((r) => r !== own && this[r].has(name));
    if (other) {
      throw new StateDictError(`${this.constructor.name}: ${JSON.stringify(name)} is already registered as a different kind (a ${KIND[other]}); assign to replace it, or delete it first`);
    }
  }

  /**
   * A property `name` that reads this module's registry (the getter holds the Map itself, so a
   * read costs one proxy lookup; deepCopy re-links the copy's accessors to its own Maps).
   */
  private defineAccessor(name: string, registry: Registry, force = false): void {
    const map = this[registry] as Map<string, unknown>;
    const existing = Object.getOwnPropertyDescriptor(this, name);
    if (!force && (existing?.get as { [REGISTRY_OF]?: Registry } | undefined)?.[REGISTRY_OF] === registry) return;
    const get = () => map.get(name);
    (get as unknown as { [REGISTRY_OF]: Registry })[REGISTRY_OF] = registry;
    Reflect.defineProperty(this, name, { // an accessor descriptor passes the proxy's trap unchanged
      configurable: true,
      enumerable: true,
      get,
      set(this: Module, v: unknown) {
        this.setAttribute(name, v);
      },
    });
  }

  /** @internal Points every registered name's accessor at this module's own Maps (after a deep copy). */
  relinkAccessors(): void {
    for (const r of REGISTRIES) for (const name of this[r].keys()) this.defineAccessor(name, r, true);
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
    const { recurse = true, removeDuplicate = true } = checkOptions(opts, ['recurse', 'removeDuplicate'], `${this.constructor.name}.namedParameters`);
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
  parameters(recurse: boolean | { recurse?: boolean } = true): Parameter[] {
    const r = typeof recurse === 'boolean' ? recurse : (checkOptions(recurse, ['recurse'], `${this.constructor.name}.parameters`).recurse ?? true);
    return [...this.namedParameters({ recurse: r })].map(([, p]) => p);
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
    const { trainableOnly = false } = checkOptions(opts, ['trainableOnly'], `${this.constructor.name}.numParameters`);
    return this.parameters()
      .filter((p) => !trainableOnly || p.requiresGrad)
      .reduce((n, p) => n + p.numel(), 0);
  }

  // -------------------------------------------------------------------------------------------
  // Modes and utilities

  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new ArgumentError(`${this.constructor.name}.train: mode must be true or false, got ${describe(mode)}`);
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

  /** Clears every parameter's gradient: to null (PyTorch's default set_to_none) or, with false, to zeros. */
  zeroGrad(setToNone: boolean | { setToNone?: boolean } = true): void {
    const none = typeof setToNone === 'boolean' ? setToNone : (checkOptions(setToNone, ['setToNone'], `${this.constructor.name}.zeroGrad`).setToNone ?? true);
    for (const p of this.parameters()) {
      if (none) p.grad = null;
      else if (p.grad) noGrad(() => p.grad!.zero_());
    }
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
   * Values are detached views of the live tensors (the live tensors themselves with
   * `{ keepVars: true }`, PyTorch's keep_vars). `prefix` is put before every key.
   */
  stateDict(opts: string | { prefix?: string; keepVars?: boolean } = {}): Record<string, Tensor> {
    const { prefix = '', keepVars = false } = typeof opts === 'string' ? { prefix: opts } : checkOptions(opts, ['prefix', 'keepVars'], `${this.constructor.name}.stateDict`);
    const out: Record<string, Tensor> = {};
    const v = (t: Tensor) => (keepVars ? t : t.detach());
    for (const [name, p] of this._parameters) if (p) out[prefix + name] = v(p);
    for (const [name, b] of this._buffers) if (b && !this._nonPersistent.has(name)) out[prefix + name] = v(b);
    for (const [name, m] of this._modules) if (m) Object.assign(out, m.stateDict({ prefix: `${prefix}${name}.`, keepVars }));
    return out;
  }

  /**
   * Copies a state dict into this module's tensors (dtype converted, storage kept, ties kept).
   * Reports missing, unexpected and wrong-shape keys by name; with `strict` (the default) any of
   * them is a StateDictError, and a shape mismatch always is. Nothing is copied if it throws.
   * PyTorch's positional `load_state_dict(sd, False)` is `loadStateDict(sd, false)`.
   */
  loadStateDict(sd: Record<string, Tensor>, opts: boolean | { strict?: boolean } = {}): LoadResult {
    const strict = typeof opts === 'boolean' ? opts : (checkOptions(opts, ['strict'], `${this.constructor.name}.loadStateDict`).strict ?? true);
    if (sd === null || typeof sd !== 'object') throw new StateDictError(`loadStateDict: expected a { key: Tensor } state dict, got ${describe(sd)}`);
    const notTensor = Object.keys(sd).find((k) => !(sd[k] instanceof Tensor));
    if (notTensor !== undefined) throw new StateDictError(`loadStateDict: ${JSON.stringify(notTensor)} is ${describe(sd[notTensor])}, not a Tensor`);
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
   * Calls `hook(module, args)` before every forward of this module; returning an array replaces
   * the arguments, returning another value (not undefined) replaces them with `[value]`
   * (PyTorch's register_forward_pre_hook). Returns a handle whose remove() detaches it.
   */
  registerForwardPreHook(hook: ForwardPreHook<this, Parameters<this['forward']>>, opts?: HookOptions): RemovableHandle {
    const handle = addHook(this._forwardPreHooks, hook as ForwardPreHook<Module>, opts, `${this.constructor.name}.registerForwardPreHook`, () => this.uninstallHookedForward());
    this.installHookedForward();
    return handle;
  }

  /**
   * Calls `hook(module, args, output)` after every forward of this module; a hook that returns
   * something other than undefined replaces the output (PyTorch's register_forward_hook).
   * Returns a handle whose remove() detaches it. Works however forward is reached (directly, or
   * from a parent module).
   */
  registerForwardHook(hook: ForwardHook<this, Parameters<this['forward']>, ReturnType<this['forward']>>, opts?: HookOptions): RemovableHandle {
    const handle = addHook(this._forwardHooks, hook as ForwardHook<Module>, opts, `${this.constructor.name}.registerForwardHook`, () => this.uninstallHookedForward());
    this.installHookedForward();
    return handle;
  }

  /**
   * Calls `hook(module, gradInput, gradOutput)` when backward computes the gradients w.r.t. this
   * module's tensor inputs; returning an array (one entry per tensor input) replaces them
   * (PyTorch's register_full_backward_hook). Returns a handle whose remove() detaches it.
   *
   * Example: `block.registerFullBackwardHook((_m, gIn) => gIn.map((g) => g && g.clamp(-1, 1)))`
   */
  registerFullBackwardHook(hook: FullBackwardHook<this>, opts?: HookOptions): RemovableHandle {
    const handle = addHook(this._backwardHooks, hook as FullBackwardHook<Module>, opts, `${this.constructor.name}.registerFullBackwardHook`, () => this.uninstallHookedForward());
    this.installHookedForward();
    return handle;
  }

  /** Whether any forward, forward pre- or full backward hook is registered on this module. */
  hasHooks(): boolean {
    return this._forwardHooks.size > 0 || this._forwardPreHooks.size > 0 || this._backwardHooks.size > 0;
  }

  /** Removes every hook (forward, forward pre-, full backward) from this module and its descendants. */
  removeHooks(): void {
    for (const m of this.modules()) {
      m._forwardHooks.clear();
      m._forwardPreHooks.clear();
      m._backwardHooks.clear();
      m.uninstallHookedForward();
    }
  }

  /** While hooks exist, the instance's `forward` is hookedForward (wrapping the one in place before). */
  private installHookedForward(): void {
    const own = Object.getOwnPropertyDescriptor(this, 'forward');
    if (own?.value === hookedForward) return;
    this._innerForward = own && typeof own.value === 'function' ? own.value : null;
    Object.defineProperty(this, 'forward', { configurable: true, writable: true, enumerable: false, value: hookedForward });
  }

  private uninstallHookedForward(): void {
    if (this.hasHooks() || Object.getOwnPropertyDescriptor(this, 'forward')?.value !== hookedForward) return;
    if (this._innerForward) Object.defineProperty(this, 'forward', { configurable: true, writable: true, enumerable: true, value: this._innerForward });
    else delete (this as { forward?: unknown }).forward;
    this._innerForward = null;
  }

  /** @internal The forward in place under the hooks, with the pre-hooks before and the hooks after. */
  static runHooked(m: Module, args: unknown[]): unknown {
    for (const hook of m._forwardPreHooks.values()) {
      const r = hook(m, args);
      if (r !== undefined) args = Array.isArray(r) ? r : [r];
    }
    const inner = m._innerForward ?? (Object.getPrototypeOf(m) as { forward: (...a: unknown[]) => unknown }).forward;
    const forward = (a: unknown[]): unknown => {
      let out = inner.apply(m, a);
      for (const hook of m._forwardHooks.values()) {
        const r = hook(m, a, out);
        if (r !== undefined) out = r;
      }
      return out;
    };
    if (m._backwardHooks.size === 0) return forward(args);
    return runWithBackwardHooks(m, m._backwardHooks, args, forward, `${m.constructor.name}.registerFullBackwardHook`);
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

/** Installed as an instance's `forward` while it has hooks: pre-hooks, the forward, hooks. */
function hookedForward(this: Module, ...args: unknown[]): unknown {
  return Module.runHooked(this, args);
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
