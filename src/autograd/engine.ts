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
import { Node } from './node.js';
import { nextStorageSerial, recycleStorage, type Storage } from '../tensor/storage.js';

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
    const flow = new GradientFlow(nextStorageSerial());
    if (!root.gradFn) {
      flow.add(root, grad!);
    } else {
      flow.add(root.gradFn, grad!);
      for (const node of topologicalOrder(root.gradFn)) {
        const g = flow.take(node);
        if (g === undefined) continue; // every path into this node carried no gradient
        node.check();
        if (node.retained) {
          node.retained.grad = g.contiguous();
          flow.escape(g);
        }
        const edge0 = node.next[0];
        if (node.region && edge0 && flow.addRegion('leaf' in edge0 ? edge0.leaf : edge0.node, g, node.region)) {
          // added into the input's gradient in place; the rule would have built the same sum
        } else {
          const grads = node.rule!(g);
          node.next.forEach((edge, i) => {
            const gi = grads[i];
            if (edge === null || gi === null || gi === undefined) return;
            if (gi.shape.join() !== node.inputShapes[i].join()) {
              throw new AutogradError(
                `backward: ${node.name} returned a gradient of shape ${fmtShape(gi.shape)} for input ${i} of shape ${fmtShape(node.inputShapes[i])}`,
              );
            }
            flow.add('leaf' in edge ? edge.leaf : edge.node, gi);
          });
        }
        if (!opts.retainGraph) node.release();
        flow.recycleDead();
      }
    }
    for (const [leaf, g] of flow.leaves()) {
      if (leaf.grad === null) {
        // A fresh, owned, contiguous buffer: later accumulation writes into it in place.
        if (g.dtype !== leaf.dtype) leaf.grad = g.to(leaf.dtype);
        else if (flow.adoptable(g)) leaf.grad = g; // this backward's own buffer: no copy needed
        else leaf.grad = g.clone();
        flow.escape(leaf.grad);
      } else {
        leaf.grad.add_(g);
      }
    }
    flow.recycleDead(true);
  });
}

/**
 * The gradients in flight during one backward: one per node still to run and one per leaf,
 * summed as they arrive. It tracks which storages this backward allocated and which of them
 * only in-flight gradients use, so that a sum is written in place into such a buffer instead of
 * a new one, and a buffer consumed by its node is recycled (tensor/storage.ts). Nothing
 * allocated before the backward (saved activations, a gradient passed in) and nothing handed
 * out (a retained or leaf `.grad`) is ever written or recycled.
 */
class GradientFlow {
  private readonly byTarget = new Map<Node | Tensor, Tensor>();
  private readonly uses = new Map<Storage, number>();
  private readonly escaped = new Set<Storage>();
  private dead: Tensor[] = [];

  constructor(private readonly firstSerial: number) {}

  /** Adds `g` to the gradient of `target` (a node still to run, or a leaf). */
  add(target: Node | Tensor, g: Tensor): void {
    const prev = this.byTarget.get(target);
    if (prev === undefined) {
      this.hold(target, g);
    } else if (this.writable(prev, g)) {
      prev.add_(g);
      this.dead.push(g);
    } else {
      this.take(target);
      this.dead.push(g);
      this.hold(target, prev.add(g));
    }
  }

  /**
   * Adds `g` into `region` of the gradient `target` already holds, if that gradient is a buffer
   * this backward may write; returns false (nothing done) otherwise.
   */
  addRegion(target: Node | Tensor, g: Tensor, region: { dim: number; start: number; length: number }): boolean {
    const prev = this.byTarget.get(target);
    if (prev === undefined || !this.writable(prev, g)) return false;
    prev.narrow(region.dim, region.start, region.length).add_(g);
    this.dead.push(g);
    return true;
  }

  /** Removes and returns the gradient of `target`. */
  take(target: Node | Tensor): Tensor | undefined {
    const g = this.byTarget.get(target);
    if (g === undefined) return undefined;
    this.byTarget.delete(target);
    this.uses.set(g.storage, this.uses.get(g.storage)! - 1);
    this.dead.push(g);
    return g;
  }

  /** `t`'s storage is handed out (a `.grad`): never written in place or recycled. */
  escape(t: Tensor): void {
    this.escaped.add(t.storage);
  }

  /** The leaves' summed gradients (once every node has run). */
  leaves(): [Tensor, Tensor][] {
    const out: [Tensor, Tensor][] = [];
    for (const [target, g] of this.byTarget) {
      if (target instanceof Node) throw new AutogradError(`backward: internal error, ${target.name} never ran`);
      out.push([target, g]);
      this.dead.push(g);
    }
    this.byTarget.clear();
    return out;
  }

  /** Whether `g` (a leaf's gradient from `leaves()`) can become its `.grad` without a copy. */
  adoptable(g: Tensor): boolean {
    return this.mine(g.storage) && this.uses.get(g.storage) === 1 && g.offset === 0 && g.isContiguous()
      && g.numel() === g.storage.data.length;
  }

  /** Recycles the buffers of consumed gradients that no in-flight gradient still uses. */
  recycleDead(finished = false): void {
    for (const t of this.dead) {
      const s = t.storage;
      if (this.mine(s) && (finished || !this.uses.get(s))) {
        this.uses.delete(s);
        recycleStorage(s, t.dtype);
      }
    }
    this.dead = [];
  }

  private hold(target: Node | Tensor, g: Tensor): void {
    this.byTarget.set(target, g);
    this.uses.set(g.storage, (this.uses.get(g.storage) ?? 0) + 1);
  }

  /** Allocated by this backward, owned, not handed out. */
  private mine(s: Storage): boolean {
    return s.owned && s.serial >= this.firstSerial && !this.escaped.has(s) && s.data.length > 0;
  }

  /** `g` may be added into `prev` in place: prev alone uses its buffer, which this backward allocated and nobody else sees. */
  private writable(prev: Tensor, g: Tensor): boolean {
    return this.mine(prev.storage) && this.uses.get(prev.storage) === 1 && prev.isContiguous()
      && g.storage !== prev.storage && g.dtype === prev.dtype;
  }
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
