/**
 * The autograd methods of Tensor — `backward` and `retainGrad` — installed onto the class from
 * this layer (tensor/ knows nothing of the graph; see tensor/tensor.ts).
 */
import { AutogradError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { runBackward, type BackwardOptions } from './engine.js';
import type { Node } from './node.js';
import { registerHook, type GradHook, type RemovableHandle } from './hooks.js';

declare module '../tensor/tensor.js' {
  interface Tensor {
    /**
     * Computes gradients of this tensor w.r.t. every leaf that requires grad, accumulating into
     * their `.grad`. A non-scalar output needs an explicit `gradient` of its shape.
     */
    backward(gradient?: Tensor | null, opts?: BackwardOptions): void;
    /** Keeps `.grad` on this non-leaf tensor during backward (leaves always keep theirs). */
    retainGrad(): this;
    /**
     * Calls `hook(grad)` when backward computes this tensor's gradient; a returned tensor replaces
     * the gradient (torch.Tensor.register_hook). Returns a handle whose `remove()` unregisters it.
     *
     * Example: `h.registerHook((g) => g.clamp(-1, 1))`
     */
    registerHook(hook: GradHook): RemovableHandle;
  }
}

Tensor.prototype.backward = function backward(this: Tensor, gradient: Tensor | null = null, opts: BackwardOptions = {}): void {
  runBackward(this, gradient, opts);
};

Tensor.prototype.retainGrad = function retainGrad<T extends Tensor>(this: T): T {
  if (!this.requiresGrad) throw new AutogradError('retainGrad: cannot retain the grad of a tensor that does not require grad');
  if (this.gradFn) (this.gradFn as Node).retained = this;
  return this;
};

Tensor.prototype.registerHook = function (this: Tensor, hook: GradHook): RemovableHandle {
  return registerHook(this, hook);
};
