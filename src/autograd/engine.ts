/**
 * Reverse-mode backward over the recorded graph.
 *
 * Nodes reachable from the root run in topological order (each only after every node that feeds
 * it a gradient has run), so a tensor used twice receives the sum of both gradients before its
 * own rule runs — and a leaf used twice (a tied weight) accumulates both into `.grad`.
 */
import { AutogradError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from './grad-mode.js';
import type { Node } from './node.js';

export interface BackwardOptions {
  /** Keep saved tensors so backward can run through this graph again. Default false. */
  retainGraph?: boolean;
}

export function runBackward(root: Tensor, grad: Tensor | null, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new AutogradError(`backward: the tensor of shape ${fmtShape(root.shape)} does not require grad and has no gradFn`);
  }
  if (grad === null) {
    if (root.numel() !== 1) {
      throw new AutogradError(
        `backward: a gradient can be created implicitly only for a scalar output; this output has shape ${fmtShape(root.shape)}. Pass a gradient of that shape: out.backward(grad)`,
      );
    }
    grad = root.onesLike();
  } else if (grad.shape.join() !== root.shape.join()) {
    throw new AutogradError(`backward: gradient has shape ${fmtShape(grad.shape)} but the output has shape ${fmtShape(root.shape)}`);
  }

  noGrad(() => {
    const leafGrads = new Map<Tensor, Tensor>();
    const addLeaf = (leaf: Tensor, g: Tensor): void => {
      const prev = leafGrads.get(leaf);
      leafGrads.set(leaf, prev ? prev.add(g) : g);
    };
    if (!root.gradFn) {
      addLeaf(root, grad!);
    } else {
      const order = topologicalOrder(root.gradFn);
      const pending = new Map<Node, Tensor>([[root.gradFn, grad!]]);
      for (const node of order) {
        const g = pending.get(node);
        pending.delete(node);
        if (g === undefined) continue; // every path into this node carried no gradient
        node.check();
        if (node.retained) node.retained.grad = g.contiguous();
        const grads = node.rule!(g);
        node.next.forEach((edge, i) => {
          const gi = grads[i];
          if (edge === null || gi === null || gi === undefined) return;
          if (gi.shape.join() !== node.inputShapes[i].join()) {
            throw new AutogradError(
              `backward: ${node.name} returned a gradient of shape ${fmtShape(gi.shape)} for input ${i} of shape ${fmtShape(node.inputShapes[i])}`,
            );
          }
          if ('leaf' in edge) {
            addLeaf(edge.leaf, gi);
          } else {
            const prev = pending.get(edge.node);
            pending.set(edge.node, prev ? prev.add(gi) : gi);
          }
        });
        if (!opts.retainGraph) node.release();
      }
    }
    for (const [leaf, g] of leafGrads) {
      if (leaf.grad === null) {
        // A fresh, owned, contiguous buffer: later accumulation writes into it in place.
        leaf.grad = g.dtype === leaf.dtype ? g.clone() : g.to(leaf.dtype);
      } else {
        leaf.grad.add_(g);
      }
    }
  });
}

/** Nodes reachable from `root`, each after all nodes that send it a gradient (Kahn's algorithm). */
function topologicalOrder(root: Node): Node[] {
  const indegree = new Map<Node, number>([[root, 0]]);
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (const edge of node.next) {
      if (edge === null || !('node' in edge)) continue;
      const seen = indegree.has(edge.node);
      indegree.set(edge.node, (indegree.get(edge.node) ?? 0) + 1);
      if (!seen) stack.push(edge.node);
    }
  }
  const order: Node[] = [];
  const ready = [root];
  while (ready.length > 0) {
    const node = ready.pop()!;
    order.push(node);
    for (const edge of node.next) {
      if (edge === null || !('node' in edge)) continue;
      const d = indegree.get(edge.node)! - 1;
      indegree.set(edge.node, d);
      if (d === 0) ready.push(edge.node);
    }
  }
  return order;
}
