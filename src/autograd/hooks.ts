/**
 * Tensor hooks (torch.Tensor.register_hook): a function called with the gradient of a tensor
 * when backward computes it, which may return a replacement gradient. On a non-leaf the hook
 * runs before the gradient flows on to the ops that made the tensor; on a leaf, before the
 * gradient is accumulated into `.grad`.
 */
import { ArgumentError, AutogradError, fmtShape } from '../errors.js';
import { checkOptions } from '../options.js';
import type { Tensor } from '../tensor/tensor.js';
import type { GradHook, Node } from './node.js';

export type { GradHook };

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

const leafHooks = new WeakMap<Tensor, Map<number, GradHook>>();

export function registerHook(t: Tensor, hook: GradHook): RemovableHandle {
  if (typeof hook !== 'function') throw new AutogradError('registerHook: the hook must be a function (grad) => grad | undefined');
  if (!t.requiresGrad) throw new AutogradError(`registerHook: cannot register a hook on a tensor that doesn't require gradient (shape ${fmtShape(t.shape)})`);
  let hooks: Map<number, GradHook>;
  if (t.gradFn) {
    const node = t.gradFn as Node;
    hooks = node.hooks ??= new Map();
  } else {
    hooks = leafHooks.get(t) ?? new Map();
    leafHooks.set(t, hooks);
  }
  return addHook(hooks, hook, undefined, 'registerHook', () => {});
}

/** The leaf's hooks, if any. */
export function hooksOfLeaf(t: Tensor): Map<number, GradHook> | undefined {
  const h = leafHooks.get(t);
  return h && h.size > 0 ? h : undefined;
}

/** Runs `hooks` on `grad` in registration order; each may replace it (same shape and dtype). */
export function runHooks(hooks: Map<number, GradHook>, grad: Tensor, where: string): Tensor {
  let g = grad;
  for (const hook of [...hooks.values()]) {
    const r = hook(g);
    if (r === undefined || r === null) continue;
    if (typeof r !== 'object' || !('shape' in r) || r.shape.join() !== g.shape.join() || r.dtype !== g.dtype) {
      const got = r && typeof r === 'object' && 'shape' in r ? `a ${r.dtype} tensor of shape ${fmtShape(r.shape)}` : typeof r;
      throw new AutogradError(`backward: a hook on ${where} returned ${got}; it must return undefined or a ${g.dtype} tensor of shape ${fmtShape(g.shape)}`);
    }
    g = r;
  }
  return g;
}
