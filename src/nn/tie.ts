/**
 * Weight tying (problem 5 of DESIGN.md): `tie(embedding, head)` makes one Parameter serve as
 * Embedding(V, d).weight and Linear(d, V).weight — both [V, d]. Gradients from both uses add up
 * (autograd accumulates into the shared leaf), parameters() and optimisers see it once, counts
 * count it once, and stateDict() keeps both PyTorch keys (sharing memory).
 */
import { ShapeError, fmtShape } from '../errors.js';
import type { Embedding } from './embedding.js';
import type { Linear } from './linear.js';

export function tie(embedding: Embedding, head: Linear): void {
  const e = embedding.weight, h = head.weight;
  if (e.shape.join() !== h.shape.join()) {
    throw new ShapeError(`tie: the embedding weight ${fmtShape(e.shape)} and the head weight ${fmtShape(h.shape)} must have the same shape [V, d]`);
  }
  head.weight = e;
}

/** True when the two modules share one weight Parameter. */
export function isTied(embedding: Embedding, head: Linear): boolean {
  return embedding.weight === head.weight;
}
