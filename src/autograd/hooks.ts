/**
 * Tensor hooks (torch.Tensor.register_hook): a function called with the gradient of a tensor
 * when backward computes it, which may return a replacement gradient. On a non-leaf the hook
 * runs before the gradient flows on to the ops that made the tensor; on a leaf, before the
 * gradient is accumulated into `.grad`.
 */
import { AutogradError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { GradHook, Node } from './node.js';

export type { GradHook };

/** What registering returns: `remove()` unregisters the hook. */
export interface RemovableHandle {
  remove(): void;
}

const leafHooks = new WeakMap<Tensor, Map<number, GradHook>>();
let nextId = 0;

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
  const id = nextId++;
  hooks.set(id, hook);
  return { remove: () => void hooks.delete(id) };
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
