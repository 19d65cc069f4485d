/**
 * A node of the autograd graph: the backward of one op application.
 *
 * Each differentiable op that sees an input requiring grad attaches a Node to its output. The
 * node holds one edge per input (to that input's own node, to the leaf tensor whose `.grad`
 * accumulates, or nothing), the gradient rule, and the tensors the rule saved together with
 * their storage versions, so that modifying a saved tensor in place is caught at backward time.
 */
import { AutogradError } from '../errors.js';
import type { GradFn, Tensor } from '../tensor/tensor.js';
import { isGradEnabled } from './grad-mode.js';

export type Edge = { node: Node } | { leaf: Tensor } | null;
export type GradRule = (grad: Tensor) => (Tensor | null)[];
/** A tensor hook (Tensor.registerHook): sees the gradient, may return a replacement. */
export type GradHook = (grad: Tensor) => Tensor | void | undefined;

export class Node implements GradFn {
  readonly next: Edge[];
  readonly inputShapes: number[][];
  rule: GradRule | null;
  saved: { tensor: Tensor; version: number }[];
  /** Set by `retainGrad()` on the output: its `.grad` is filled during backward. */
  retained: Tensor | null = null;
  /** Hooks registered on the output tensor (`registerHook`), run on its gradient before the rule. */
  hooks: Map<number, GradHook> | null = null;
  /**
   * Optional, for a one-input op whose gradient is mostly zeros (a slice: the incoming gradient
   * placed in a region): adds this node's gradient for its input into `target`, a buffer that
   * already holds that input's gradient and that backward allows to be written in place. Backward
   * calls it instead of `rule` when it can — the q, k, v slices of one packed projection then
   * add into one buffer instead of three zero-padded copies. Must compute exactly
   * `target += rule(grad)[0]`.
   */
  addInto: ((target: Tensor, grad: Tensor) => void) | null = null;

  constructor(readonly name: string, inputs: readonly (Tensor | null)[], rule: GradRule, saved: readonly Tensor[]) {
    this.next = inputs.map((t): Edge => {
      if (t === null || !t.requiresGrad) return null;
      return t.gradFn ? { node: t.gradFn as Node } : { leaf: t };
    });
    this.inputShapes = inputs.map((t) => (t ? t.shape.slice() : []));
    this.rule = rule;
    this.saved = saved.map((tensor) => ({ tensor, version: tensor.storage.version }));
  }

  /** Throws if the graph was freed or a saved tensor was modified in place since the forward. */
  check(): void {
    if (this.rule === null) {
      throw new AutogradError(
        `backward: trying to backward through the graph a second time (at ${this.name}); its saved tensors were freed by the first backward. Pass { retainGraph: true } to the first backward() to keep them.`,
      );
    }
    for (const { tensor, version } of this.saved) {
      if (tensor.storage.version !== version) {
        throw new AutogradError(
          `backward: a tensor of shape [${tensor.shape.join(',')}] saved by ${this.name} was modified by an in-place operation (version ${tensor.storage.version}, expected ${version}); use an out-of-place op or clone() before modifying it`,
        );
      }
    }
  }

  release(): void {
    this.rule = null;
    this.addInto = null;
    this.saved = [];
  }
}

/**
 * Attaches a gradient rule to `out` if grad mode is on and some input requires grad.
 * `rule(grad)` returns one gradient per input (null where an input gets none), each of that
 * input's shape. `saved` lists the tensors the rule reads, for the in-place check. `addInto`, for
 * a one-input op, is the in-place form of the rule (see Node.addInto).
 */
export function attach(
  out: Tensor,
  name: string,
  inputs: readonly (Tensor | null)[],
  rule: GradRule,
  saved: readonly Tensor[] = [],
  addInto: Node['addInto'] = null,
): Tensor {
  if (!isGradEnabled() || !inputs.some((t) => t !== null && t.requiresGrad)) return out;
  const node = new Node(name, inputs, rule, saved);
  node.addInto = addInto;
  out.gradFn = node;
  out.requiresGrad = true;
  return out;
}

/** True when an op on these inputs will record a graph. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && inputs.some((t) => t != null && t.requiresGrad);
}
