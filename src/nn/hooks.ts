/**
 * Module hooks (torch.nn.Module's register_forward_pre_hook / register_forward_hook); the
 * handle every registration returns (RemovableHandle) is autograd's, shared with tensor hooks.
 *
 * - A forward pre-hook runs before forward as `hook(module, args)`; returning an array replaces
 *   the arguments, returning any other value (not undefined) replaces them with `[value]`, as
 *   PyTorch wraps a non-tuple result in a tuple.
 * - A forward hook runs after forward as `hook(module, args, output)`; returning a value other
 *   than undefined replaces the output.
 *
 * - A full backward hook runs as `hook(module, gradInput, gradOutput)` when the gradients w.r.t.
 *   the module's inputs are computed, and may replace them (register_full_backward_hook).
 *
 * Hooks run however forward is reached (directly, or from a parent module): while a module has
 * hooks, its instance carries a `forward` that wraps the class's.
 */
import { ArgumentError, AutogradError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { attach } from '../autograd/node.js';
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { cat } from '../ops/shape.js';
export { RemovableHandle, addHook, type HookOptions } from '../autograd/hooks.js';

/** `hook(module, args)`: undefined keeps the arguments; an array replaces them; another value replaces them with [value]. */
export type ForwardPreHook<M = unknown, A extends unknown[] = unknown[]> = (module: M, args: A) => unknown;

/** `hook(module, args, output)`: undefined keeps the output; another value replaces it. */
export type ForwardHook<M = unknown, A extends unknown[] = unknown[], O = unknown> = (module: M, args: A, output: O) => O | void;

/**
 * `hook(module, gradInput, gradOutput)` (PyTorch's register_full_backward_hook): called when the
 * gradients w.r.t. the module's tensor inputs are computed. `gradInput` has one entry per tensor
 * argument (null where that input needs no gradient), `gradOutput` one per tensor output. Return
 * undefined, or an array like gradInput to replace the gradients that flow on to the inputs.
 */
export type FullBackwardHook<M = unknown> = (module: M, gradInput: (Tensor | null)[], gradOutput: (Tensor | null)[]) => (Tensor | null)[] | void;

/**
 * One call of a module with full backward hooks: its tensor inputs go through one graph node
 * (so every gradient w.r.t. them arrives at once, whatever the module does with them), its
 * tensor outputs through another (which records gradOutput on the way back). Several inputs or
 * outputs are packed into one buffer whose views the module (or the caller) receives; one is
 * passed through as a view of itself.
 */
export function runWithBackwardHooks<M>(module: M, hooks: Map<number, FullBackwardHook<M>>, args: unknown[], run: (args: unknown[]) => unknown, where: string): unknown {
  if (!isGradEnabled()) return run(args);
  const tensorArgs = args.map((a, i) => (a instanceof Tensor ? i : -1)).filter((i) => i >= 0);
  const needing = tensorArgs.filter((i) => (args[i] as Tensor).requiresGrad);
  let gradOutput: (Tensor | null)[] | null = null;
  // Hooks see copies: backward may later write its own gradient buffers in place.
  const copies = (gs: (Tensor | null)[]): (Tensor | null)[] => gs.map((g) => g && g.clone());
  const callHooks = (gradInput: (Tensor | null)[]): (Tensor | null)[] => {
    let current = gradInput;
    for (const hook of [...hooks.values()]) {
      const r = hook(module, current, gradOutput ?? []);
      if (r === undefined || r === null) continue;
      if (!Array.isArray(r) || r.length !== current.length) {
        throw new AutogradError(`${where}: a full backward hook returned ${Array.isArray(r) ? `${r.length} gradients` : typeof r}; it must return undefined or an array of ${current.length} (one per tensor input, null allowed)`);
      }
      r.forEach((g, k) => {
        const before = current[k];
        if (g !== null && (!(g instanceof Tensor) || before === null || g.shape.join() !== before.shape.join())) {
          throw new AutogradError(`${where}: a full backward hook returned ${g instanceof Tensor ? `a gradient of shape ${fmtShape(g.shape)}` : typeof g} for input ${k}${before ? `, expected shape ${fmtShape(before.shape)}` : ' (which gets no gradient)'}`);
        }
      });
      current = r;
    }
    return current;
  };
  const inputs = needing.map((i) => args[i] as Tensor);
  const newArgs = args.slice();
  if (inputs.length > 0) {
    const views = throughNode(inputs, 'BackwardHookFunctionBackward', where, (grads) => {
      const gradInput = copies(tensorArgs.map((i) => (needing.includes(i) ? grads[needing.indexOf(i)] : null)));
      const replaced = callHooks(gradInput);
      return needing.map((i) => replaced[tensorArgs.indexOf(i)]);
    });
    needing.forEach((i, k) => (newArgs[i] = views[k]));
  }
  const out = run(newArgs);
  const outs = out instanceof Tensor ? [out] : Array.isArray(out) ? out : [];
  const grading = outs.filter((o): o is Tensor => o instanceof Tensor && o.requiresGrad);
  if (grading.length === 0) return out;
  const views = throughNode(grading, 'BackwardHookFunctionBackward', where, (grads) => {
    gradOutput = copies(outs.map((o) => (o instanceof Tensor && grading.includes(o) ? grads[grading.indexOf(o)] : null)));
    if (inputs.length === 0) callHooks(tensorArgs.map(() => null)); // no input gradient will come
    return grads;
  });
  if (out instanceof Tensor) return views[0];
  return (out as unknown[]).map((o) => (o instanceof Tensor && grading.includes(o) ? views[grading.indexOf(o)] : o));
}

/**
 * `tensors` passed through one graph node whose gradient rule sees all their gradients together
 * (`rule` maps them, in order, to the gradients to pass on; null for none).
 */
function throughNode(tensors: Tensor[], name: string, where: string, rule: (grads: (Tensor | null)[]) => (Tensor | null)[]): Tensor[] {
  if (tensors.length === 1) {
    const t = tensors[0];
    const view = t.asStrided(t.shape, t.strides, t.offset);
    attach(view, name, [t], (g) => rule([g]));
    return [view];
  }
  const dtype = tensors[0].dtype;
  if (tensors.some((t) => t.dtype !== dtype)) {
    throw new ArgumentError(`${where}: full backward hooks on a module whose tensor inputs (or outputs) have different dtypes (${tensors.map((t) => t.dtype).join(', ')}) are not supported`);
  }
  // One flat buffer holding every tensor; each is handed on as a view of it.
  const sizes = tensors.map((t) => t.numel());
  const packed = noGrad(() => cat(tensors.map((t) => t.reshape([-1]))));
  attach(packed, name, tensors, (g) => {
    let at = 0;
    return rule(sizes.map((n, k) => {
      const piece = g.narrow(0, at, n).reshape(tensors[k].shape);
      at += n;
      return piece;
    }));
  });
  let at = 0;
  return tensors.map((t, k) => {
    const v = packed.narrow(0, at, sizes[k]).view(t.shape);
    at += sizes[k];
    return v;
  });
}
