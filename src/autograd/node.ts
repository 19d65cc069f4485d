/**
 * A node of the autograd graph: the backward of one op application.
 *
 * Each differentiable op that sees an input requiring grad attaches a Node to its output. The
 * node holds one edge per input (to that input's own node, to the leaf tensor whose `.grad`
 * accumulates, or nothing), the gradient rule, and the tensors the rule saved together with
 * their storage versions, so that modifying a saved tensor in place is caught at backward time.
 */
import { AutogradError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { isGradEnabled } from './grad-mode.js';

export type Edge = { node: Node } | { leaf: Tensor } | null;
export type GradRule = (grad: Tensor) => (Tensor | null)[];

export class Node {
  readonly next: Edge[];
  readonly inputShapes: number[][];
  rule: GradRule | null;
  saved: { tensor: Tensor; version: number }[];
  /** Set by `retainGrad()` on the output: its `.grad` is filled during backward. */
  retained: Tensor | null = null;
  /**
   * Set for a step-1 slice: its gradient is the incoming one placed at `start … start+length−1`
   * of `dim` with zeros elsewhere, so backward may add it into an input gradient it already
   * holds instead of running the rule (the q, k, v of one packed projection share one buffer).
   */
  region: { dim: number; start: number; length: number } | null = null;

  constructor(readonly name: string, inputs: readonly (Tensor | null)[], rule: GradRule, saved: readonly Tensor[]) {
    this.next = inputs.map((t): Edge => {
      if (t === null || !t.requiresGrad) return null;
      return t.gradFn ? { node: t.gradFn } : { leaf: t };
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
    this.saved = [];
  }
}

/**
 * Attaches a gradient rule to `out` if grad mode is on and some input requires grad.
 * `rule(grad)` returns one gradient per input (null where an input gets none), each of that
 * input's shape. `saved` lists the tensors the rule reads, for the in-place check.
 */
export function attach(
  out: Tensor,
  name: string,
  inputs: readonly (Tensor | null)[],
  rule: GradRule,
  saved: readonly Tensor[] = [],
): Tensor {
  if (!isGradEnabled() || !inputs.some((t) => t !== null && t.requiresGrad)) return out;
  out.gradFn = new Node(name, inputs, rule, saved);
  out.requiresGrad = true;
  return out;
}

/** True when an op on these inputs will record a graph. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && inputs.some((t) => t != null && t.requiresGrad);
}
