/** nn.Module: registration, traversal, state dicts, modes, repr, copies, ties by assignment. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, nn, randn, tensor, zeros, StateDictError } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';

class Tiny extends nn.Module {
  declare emb: nn.Embedding;
  declare head: nn.Linear;
  declare scale: nn.Parameter;
  constructor() {
    super();
    this.registerModule('emb', new nn.Embedding(10, 4));
    this.registerModule('head', new nn.Linear(4, 10, { bias: false }));
    this.registerParameter('scale', new nn.Parameter(tensor([1])));
    this.registerBuffer('steps', zeros([1]));
    this.registerBuffer('cache', zeros([3]), false);
  }
}

test('parameters and children register by name; stateDict has dotted PyTorch keys', () => {
  const m = new Tiny();
  assert.deepEqual(Object.keys(m.stateDict()), ['scale', 'steps', 'emb.weight', 'head.weight']);
  assert.deepEqual([...m.namedParameters()].map(([k]) => k), ['scale', 'emb.weight', 'head.weight']);
  assert.deepEqual([...m.namedChildren()].map(([k]) => k), ['emb', 'head']);
  assert.deepEqual([...m.namedModules()].map(([k]) => k), ['', 'emb', 'head']);
  assert.equal(m.parameters().length, 3);
  assert.equal(m.numParameters(), 1 + 40 + 40);
  assert.ok(m.head.bias === null);
});

test('assigning a parameter ties it: counted once, both keys kept, gradients add up', () => {
  manualSeed(0);
  const m = new Tiny();
  m.head.weight = m.emb.weight; // [10, 4] both: the classic embedding / LM-head tie
  assert.equal(m.parameters().length, 2);
  assert.equal(m.numParameters(), 1 + 40);
  const sd = m.stateDict();
  assert.ok('emb.weight' in sd && 'head.weight' in sd);
  assert.equal(sd['emb.weight'].storage, sd['head.weight'].storage);
  const idx = tensor([1, 2], { dtype: 'int64' });
  const h = m.emb.forward(idx); // (2, 4)
  const out = m.head.forward(h); // (2, 10)
  out.sum().backward();
  // out.sum() = Σ_i Σ_j h_i·W_j: the head use gives every row Σ_i h_i; the embedding use gives
  // rows 1 and 2 (the looked-up ones) Σ_j W_j. The tied gradient is the sum of both.
  const W = m.emb.weight.detach();
  const picked = tensor([0, 1, 1, 0, 0, 0, 0, 0, 0, 0]).unsqueeze(1); // (10, 1)
  const expected = h.detach().sum(0).expand([10, 4]).add(picked.mul(W.sum(0)));
  assert.ok(m.emb.weight.grad!.allclose(expected, 1e-5, 1e-5));
});

test('loadStateDict reports missing, unexpected and wrong-shape keys by name', () => {
  const m = new Tiny();
  const sd = m.stateDict();
  const { ['head.weight']: _, ...missing } = sd;
  assert.throws(() => m.loadStateDict(missing), (e: Error) => e instanceof StateDictError && /missing key\(s\): head\.weight/.test(e.message));
  assert.throws(() => m.loadStateDict({ ...sd, extra: zeros([1]) }), /unexpected key\(s\): extra/);
  assert.throws(() => m.loadStateDict({ ...sd, 'emb.weight': zeros([11, 4]) }, { strict: false }), /size mismatch for emb\.weight: checkpoint has \[11,4\], model has \[10,4\]/);
  const r = m.loadStateDict({ ...missing, extra: zeros([1]) }, { strict: false });
  assert.deepEqual(r, { missingKeys: ['head.weight'], unexpectedKeys: ['extra'] });
  // Loading copies into the live tensors (storage kept).
  const before = m.emb.weight.storage;
  m.loadStateDict({ ...sd, 'emb.weight': zeros([10, 4]) });
  assert.equal(m.emb.weight.storage, before);
  assert.equal(m.emb.weight.abs().sum().item(), 0);
});

test('train/eval reach every module; apply visits children first; zeroGrad clears', () => {
  const seq = new nn.Sequential(new nn.Linear(3, 3), new nn.Dropout(0.5), new nn.Sequential(new nn.ReLU()));
  seq.eval();
  assert.ok([...seq.modules()].every((m) => !m.training));
  const x = randn([4, 3]);
  assert.deepEqual((seq.forward(x) as Tensor).toArray(), (seq.forward(x) as Tensor).toArray()); // no dropout in eval
  seq.train();
  assert.ok([...seq.modules()].every((m) => m.training));
  const order: string[] = [];
  seq.apply((m) => order.push(m.constructor.name));
  assert.deepEqual(order, ['Linear', 'Dropout', 'ReLU', 'Sequential', 'Sequential']);
  (seq.forward(x) as Tensor).sum().backward();
  assert.ok(seq[0].parameters().every((p) => p.grad !== null));
  seq.zeroGrad();
  assert.ok(seq.parameters().every((p) => p.grad === null));
});

test('toString prints like PyTorch', () => {
  const seq = new nn.Sequential(new nn.Linear(3, 4), new nn.GELU('tanh'), new nn.LayerNorm(4), new nn.Embedding(5, 4, { paddingIdx: 0 }));
  assert.equal(seq.toString(), [
    'Sequential(',
    '  (0): Linear(in_features=3, out_features=4, bias=True)',
    "  (1): GELU(approximate='tanh')",
    '  (2): LayerNorm((4,), eps=1e-05, elementwise_affine=True)',
    '  (3): Embedding(5, 4, padding_idx=0)',
    ')',
  ].join('\n'));
});

test('ModuleList indexes, iterates and names children 0, 1, …', () => {
  const list = new nn.ModuleList<nn.Module>([new nn.Linear(2, 2), new nn.Linear(2, 3)]);
  list.append(new nn.ReLU());
  assert.equal(list.length, 3);
  assert.equal(list.at(-1).constructor.name, 'ReLU');
  assert.equal(list[1], list.at(1));
  assert.deepEqual([...list].map((m) => m.constructor.name), ['Linear', 'Linear', 'ReLU']);
  assert.deepEqual(Object.keys(list.stateDict()), ['0.weight', '0.bias', '1.weight', '1.bias']);
  assert.throws(() => list.at(3), /ModuleList: index 3 is out of range for a list of 3/);
});

test('deepCopy gives an independent module that keeps ties inside it', () => {
  manualSeed(1);
  const m = new Tiny();
  m.head.weight = m.emb.weight;
  const c = nn.deepCopy(m);
  assert.equal(c.head.weight, c.emb.weight);
  assert.notEqual(c.emb.weight.storage, m.emb.weight.storage);
  assert.deepEqual(c.emb.weight.toArray(), m.emb.weight.toArray());
  c.emb.weight.requiresGrad_(false).fill_(0);
  assert.notEqual(m.emb.weight.abs().sum().item(), 0);
  assert.equal(c.parameters().length, 2);
});

test('to(dtype) converts parameters and keeps ties', () => {
  const m = new Tiny();
  m.head.weight = m.emb.weight;
  m.double();
  assert.equal(m.emb.weight.dtype, 'float64');
  assert.equal(m.head.weight, m.emb.weight);
  assert.ok(m.emb.weight.requiresGrad);
});

test('registration errors name the module and the name', () => {
  const m = new Tiny();
  assert.throws(() => m.registerParameter('a.b', null), /Tiny: name "a\.b" must be non-empty and contain no "\."/);
  assert.throws(() => m.registerParameter('emb', null), /"emb" is already registered as a different kind/);
  assert.throws(() => m.registerParameter('w', zeros([1]) as nn.Parameter), /must be a Parameter or null/);
});
