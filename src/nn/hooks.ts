/**
 * Module hooks (torch.nn.Module's register_forward_pre_hook / register_forward_hook) and the
 * handle every registration returns.
 *
 * - A forward pre-hook runs before forward as `hook(module, args)`; returning an array replaces
 *   the arguments, returning any other value (not undefined) replaces them with `[value]`, as
 *   PyTorch wraps a non-tuple result in a tuple.
 * - A forward hook runs after forward as `hook(module, args, output)`; returning a value other
 *   than undefined replaces the output.
 *
 * Hooks run however forward is reached (directly, or from a parent module): while a module has
 * hooks, its instance carries a `forward` that wraps the class's.
 */
import { ArgumentError } from '../errors.js';
import { checkOptions } from '../options.js';

/** `hook(module, args)`: undefined keeps the arguments; an array replaces them; another value replaces them with [value]. */
export type ForwardPreHook<M = unknown, A extends unknown[] = unknown[]> = (module: M, args: A) => unknown;

/** `hook(module, args, output)`: undefined keeps the output; another value replaces it. */
export type ForwardHook<M = unknown, A extends unknown[] = unknown[], O = unknown> = (module: M, args: A, output: O) => O | void;

export interface HookOptions {
  /** Run this hook before the ones already registered (PyTorch's prepend). Default false. */
  prepend?: boolean;
}

let nextHookId = 0;

/** What a hook registration returns: `remove()` detaches the hook (idempotent). */
export class RemovableHandle {
  /** A process-wide unique id (PyTorch's handle.id). */
  readonly id: number;
  private readonly detach: (id: number) => void;
  private removed = false;

  constructor(detach: (id: number) => void) {
    this.id = nextHookId++;
    this.detach = detach;
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.detach(this.id);
  }
}

/**
 * An ordered set of hooks keyed by handle id, with PyTorch's prepend. Returns the handle whose
 * remove() deletes the hook and then calls `onEmpty` if none is left.
 */
export function addHook<H>(hooks: Map<number, H>, hook: H, opts: HookOptions | undefined, where: string, onEmpty: () => void): RemovableHandle {
  if (typeof hook !== 'function') throw new ArgumentError(`${where}: the hook must be a function, got ${hook === null ? 'null' : typeof hook}`);
  const { prepend = false } = checkOptions(opts, ['prepend'], where);
  const handle = new RemovableHandle((id) => {
    hooks.delete(id);
    onEmpty();
  });
  if (prepend) {
    const rest = [...hooks];
    hooks.clear();
    hooks.set(handle.id, hook);
    for (const [id, h] of rest) hooks.set(id, h);
  } else {
    hooks.set(handle.id, hook);
  }
  return handle;
}
