/**
 * Reverse-mode backward over the recorded graph.
 *
 * Nodes reachable from the root run in topological order (each only after every node that feeds
 * it a gradient has run), so a tensor used twice receives the sum of both gradients before its
 * own rule runs — and a leaf used twice (a tied weight) accumulates both into `.grad`.
 *
 * The engine knows no particular op: a node's `rule` returns its inputs' gradients, and a node
 * that can add its gradient into an existing buffer offers `addInto` (node.ts). The buffers
 * backward allocates are tracked by one Arena (tensor/allocator.ts): a sum is written in place
 * into a buffer only this backward uses, and a consumed gradient is recycled.
 */
import { AutogradError, fmtShape } from '../errors.js';
import { promoteTypes, type DType } from '../dtype.js';
import { backend } from '../backend/index.js';
import { Tensor } from '../tensor/tensor.js';
import { Arena, keep } from '../tensor/allocator.js';
import { noGrad } from './grad-mode.js';
import { Node } from './node.js';
import { hooksOfLeaf, runHooks } from './hooks.js';

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
    grad = Tensor.ones(root.shape, root.dtype);
  } else if (grad.shape.join() !== root.shape.join()) {
    throw new AutogradError(`backward: gradient has shape ${fmtShape(grad.shape)} but the output has shape ${fmtShape(root.shape)}`);
  }

  noGrad(() => {
    const flow = new GradientFlow();
    const rootNode = root.gradFn as Node | null;
    if (!rootNode) {
      flow.add(root, grad!);
    } else {
      flow.add(rootNode, grad!);
      for (const node of topologicalOrder(rootNode)) {
        let g = flow.take(node);
        if (g === undefined) continue; // every path into this node carried no gradient
        node.check();
        if (node.hooks && node.hooks.size > 0) {
          flow.escape(g); // the hook may keep it
          g = runHooks(node.hooks, g, `the output of ${node.name}`);
        }
        if (node.retained) {
          node.retained.grad = keep(copyOf(g, g.dtype));
          flow.escape(node.retained.grad);
        }
        const only = node.next.length === 1 ? node.next[0] : null;
        if (!(node.addInto && only && flow.addInto(target(only), g, node.addInto))) {
          const grads = node.rule!(g);
          node.next.forEach((edge, i) => {
            const gi = grads[i];
            if (edge === null || gi === null || gi === undefined) return;
            if (gi.shape.join() !== node.inputShapes[i].join()) {
              throw new AutogradError(
                `backward: ${node.name} returned a gradient of shape ${fmtShape(gi.shape)} for input ${i} of shape ${fmtShape(node.inputShapes[i])}`,
              );
            }
            flow.add(target(edge), gi);
          });
        }
        if (!opts.retainGraph) node.release();
        flow.recycleDead();
      }
    }
    for (let [leaf, g] of flow.leaves()) {
      const hooks = hooksOfLeaf(leaf);
      if (hooks) {
        flow.escape(g);
        g = runHooks(hooks, g, `a leaf of shape ${fmtShape(leaf.shape)}`);
      }
      if (leaf.grad === null) {
        // A fresh, owned, contiguous buffer: later accumulation writes into it in place.
        leaf.grad = keep(g.dtype === leaf.dtype && flow.adoptable(g) ? g : copyOf(g, leaf.dtype));
        flow.escape(leaf.grad);
      } else {
        if (leaf.grad.shape.join() !== leaf.shape.join()) {
          throw new AutogradError(`backward: the existing .grad of a leaf of shape ${fmtShape(leaf.shape)} has shape ${fmtShape(leaf.grad.shape)}`);
        }
        addInPlace(leaf.grad, g);
      }
    }
    flow.recycleDead(true);
  });
}

function target(edge: NonNullable<Node['next'][number]>): Node | Tensor {
  return 'leaf' in edge ? edge.leaf : edge.node;
}

// Backward's own arithmetic: sums of gradients and copies, straight on the backend (no graph).

function copyOf(t: Tensor, dtype: DType): Tensor {
  const out = Tensor.uninitialized(t.shape, dtype);
  backend().copy(t.view_(), out.view_());
  return out;
}

function addInPlace(dst: Tensor, src: Tensor): void {
  backend().binary('add', dst.view_(), src.view_(), dst.view_());
  dst.storage.version++;
}

function sumOf(a: Tensor, b: Tensor): Tensor {
  const out = Tensor.uninitialized(a.shape, promoteTypes([a.dtype, b.dtype], [], []));
  backend().binary('add', a.view_(), b.view_(), out.view_());
  return out;
}

/**
 * The gradients in flight during one backward: one per node still to run and one per leaf,
 * summed as they arrive. Its Arena counts which in-flight gradients use each buffer, so that a
 * sum is written in place into a buffer this backward allocated and only one gradient uses, and
 * a buffer consumed by its node is recycled. A retained or leaf `.grad` escapes the arena.
 */
class GradientFlow {
  private readonly byTarget = new Map<Node | Tensor, Tensor>();
  private readonly arena = new Arena();
  private dead: Tensor[] = [];

  /** Adds `g` to the gradient of `target` (a node still to run, or a leaf). */
  add(target: Node | Tensor, g: Tensor): void {
    const prev = this.byTarget.get(target);
    if (prev === undefined) {
      this.hold(target, g);
    } else if (this.writable(prev, g)) {
      addInPlace(prev, g);
      this.dead.push(g);
    } else {
      this.take(target);
      this.dead.push(g);
      this.hold(target, sumOf(prev, g));
    }
  }

  /**
   * Lets `addInto` add `g`'s contribution into the gradient `target` already holds, if that
   * gradient is a buffer this backward may write; returns false (nothing done) otherwise.
   */
  addInto(target: Node | Tensor, g: Tensor, addInto: (buffer: Tensor, g: Tensor) => void): boolean {
    const prev = this.byTarget.get(target);
    if (prev === undefined || !this.writable(prev, g)) return false;
    addInto(prev, g);
    prev.storage.version++;
    this.dead.push(g);
    return true;
  }

  /** Removes and returns the gradient of `target`. */
  take(target: Node | Tensor): Tensor | undefined {
    const g = this.byTarget.get(target);
    if (g === undefined) return undefined;
    this.byTarget.delete(target);
    this.arena.drop(g.storage);
    this.dead.push(g);
    return g;
  }

  /** `t`'s storage is handed out (a `.grad`): never written in place or recycled. */
  escape(t: Tensor): void {
    this.arena.escape(t.storage);
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
    return this.arena.exclusive(g.storage) && g.offset === 0 && g.isContiguous() && g.numel() === g.storage.data.length;
  }

  /** Recycles the buffers of consumed gradients that no in-flight gradient still uses. */
  recycleDead(finished = false): void {
    for (const t of this.dead) this.arena.release(t.storage, t.dtype, finished);
    this.dead = [];
  }

  private hold(target: Node | Tensor, g: Tensor): void {
    this.byTarget.set(target, g);
    this.arena.hold(g.storage);
  }

  /** `g` may be added into `prev` in place: prev alone uses its buffer, which this backward allocated and nobody else sees. */
  private writable(prev: Tensor, g: Tensor): boolean {
    return this.arena.exclusive(prev.storage) && prev.isContiguous() && g.storage !== prev.storage && g.dtype === prev.dtype;
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
