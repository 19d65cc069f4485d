/**
 * Weight tying (problem 5 of DESIGN.md): one Parameter serves as Embedding(V, d).weight and
 * Linear(d, V).weight — both [V, d]. Gradients from both uses add up (autograd accumulates into
 * the shared leaf), parameters() and optimisers see it once, counts count it once, and
 * stateDict() keeps both PyTorch keys (sharing memory).
 *
 * `tie(target, source)` is PyTorch's `target.weight = source.weight`: the target gives up its
 * own Parameter and uses the source's, so **the source's init survives**. The direction matters
 * whenever nothing re-initialises the shared weight afterwards:
 *
 * - `tie(embedding, head)` — `self.embedding.weight = self.head.weight`, the line in problem 5's
 *   original script (and nanoGPT's `self.transformer.wte.weight = self.lm_head.weight`): the
 *   shared weight keeps Linear's U(±1/√d) init (std 1/√(3d)).
 * - `tie(head, embedding)` — `self.head.weight = self.embedding.weight`, what Hugging Face's
 *   `tie_weights()` does (`output_embeddings.weight = input_embeddings.weight`): it keeps
 *   Embedding's N(0, 1) init (std 1), √(3d) times larger.
 *
 * nanoGPT and Hugging Face then re-initialise the shared matrix (both with N(0, 0.02)), so for them
 * the direction changes nothing; qkv's models.GPT does the same (its resetParameters runs after
 * the tie). In a hand-written model it decides the init scale — the lab's tying experiment shows
 * the outcome flip with it.
 *
 * Example:
 *   const emb = new nn.Embedding(10, 3), head = new nn.Linear(3, 10);
 *   nn.tie(emb, head);                 // emb.weight = head.weight: U(±1/√3) survives
 *   nn.isTied(emb, head);              // true
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Embedding } from './embedding.js';
import { Linear } from './linear.js';

/** A module with a [V, d] weight that can be tied: an Embedding(V, d) or a Linear(d, V). */
export type Tieable = Embedding | Linear;

function check(m: unknown, role: 'target' | 'source'): asserts m is Tieable {
  if (!(m instanceof Embedding) && !(m instanceof Linear)) {
    const what = m === null || m === undefined ? String(m) : (m as object).constructor?.name ?? typeof m;
    throw new ArgumentError(`tie: the ${role} must be an nn.Embedding or an nn.Linear, got ${what}`);
  }
}

/**
 * `target.weight = source.weight`: the target shares the source's Parameter (and so keeps the
 * source's init). Both weights must have the same shape ([V, d] for an Embedding(V, d) and a
 * Linear(d, V)).
 */
export function tie(target: Tieable, source: Tieable): void {
  check(target, 'target');
  check(source, 'source');
  if (target === source) throw new ArgumentError('tie: the target and the source are the same module');
  const t = target.weight, s = source.weight;
  if (t.shape.join() !== s.shape.join()) {
    throw new ShapeError(`tie: the target weight ${fmtShape(t.shape)} and the source weight ${fmtShape(s.shape)} must have the same shape [V, d]`);
  }
  target.weight = s;
}

/** True when the two modules share one weight Parameter. */
export function isTied(a: Tieable, b: Tieable): boolean {
  return a.weight === b.weight;
}
