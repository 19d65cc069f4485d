/**
 * nn.tie's direction (target.weight = source.weight: the source's init survives), its refusals,
 * and doctor's finding on the scale of a tied weight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, nn, noGrad, models } from '../../src/index.js';
import { checkTiedInit } from '../../src/inspect/diagnostics.js';
import { stdOf } from '../../src/lab/common.js';

test('tie(embedding, head) is embedding.weight = head.weight: the Linear\'s U(±1/√d) survives', () => {
  manualSeed(0);
  const emb = new nn.Embedding(1000, 8), head = new nn.Linear(8, 1000);
  const w = head.weight;
  nn.tie(emb, head);
  assert.equal(emb.weight, w);
  assert.equal(head.weight, w);
  assert.ok(nn.isTied(emb, head) && nn.isTied(head, emb));
  assert.ok(Math.abs(stdOf(emb.weight) - 1 / Math.sqrt(3 * 8)) < 0.01, `std ${stdOf(emb.weight)}`);
  assert.deepEqual(Object.keys(emb.stateDict()), ['weight']);
});

test('tie(head, embedding) is head.weight = embedding.weight: Embedding\'s N(0, 1) survives', () => {
  manualSeed(0);
  const emb = new nn.Embedding(1000, 8), head = new nn.Linear(8, 1000);
  const w = emb.weight;
  nn.tie(head, emb);
  assert.equal(head.weight, w);
  assert.ok(Math.abs(stdOf(head.weight) - 1) < 0.03, `std ${stdOf(head.weight)}`);
  // One parameter for the optimiser; gradients of both uses add up.
  const params = [...new Set([...emb.parameters(), ...head.parameters()])];
  assert.equal(params.length, 2); // the shared weight and the head's bias
});

test('tie refuses what it cannot tie, naming the argument', () => {
  const emb = new nn.Embedding(10, 3);
  assert.throws(() => nn.tie(emb, new nn.Linear(4, 10)), /tie: the target weight \[10,3\] and the source weight \[10,4\] must have the same shape \[V, d\]/);
  assert.throws(() => nn.tie(emb, emb), /tie: the target and the source are the same module/);
  assert.throws(() => nn.tie(emb, new nn.LayerNorm(3) as never), /tie: the source must be an nn.Embedding or an nn.Linear, got LayerNorm/);
  assert.throws(() => nn.tie(null as never, emb), /tie: the target must be an nn.Embedding or an nn.Linear, got null/);
});

test('doctor: a tied weight is at the scale of the module it came from, or flagged when it matches neither', () => {
  class Toy extends nn.Module {
    declare embedding: nn.Embedding;
    declare head: nn.Linear;
    constructor(direction: 'head' | 'embedding') {
      super();
      this.registerModule('embedding', new nn.Embedding(50, 4));
      this.registerModule('head', new nn.Linear(4, 50));
      if (direction === 'head') nn.tie(this.embedding, this.head);
      else nn.tie(this.head, this.embedding);
    }
  }
  manualSeed(1);
  const a = checkTiedInit(new Toy('head'));
  assert.equal(a.status, 'ok');
  assert.match(a.details!.join('\n'), /embedding.weight ≡ head.weight: std 0\.2\d+, the scale of Linear's U\(±1\/√4\)/);
  const b = checkTiedInit(new Toy('embedding'));
  assert.equal(b.status, 'ok');
  assert.match(b.details!.join('\n'), /the scale of Embedding's N\(0, 1\)/);
  const c = new Toy('head');
  noGrad(() => c.head.weight.mul_(0.05)); // rescaled after the tie: std ≈ 0.014, neither 1 nor 0.29
  const f = checkTiedInit(c);
  assert.equal(f.status, 'warn');
  assert.match(f.message, /1 tied weight\(s\) match neither module's usual init in scale/);
  assert.equal(checkTiedInit(new nn.Linear(3, 3)).status, 'info');
  // models.GPT re-draws its tied weight N(0, 0.02): the GPT's own init.
  manualSeed(2);
  const g = checkTiedInit(new models.GPT({ vocabSize: 40, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16 }));
  assert.equal(g.status, 'ok');
  assert.match(g.details!.join('\n'), /transformer.wte.weight ≡ lm_head.weight: .*N\(0, 0\.02\)/);
});
