/**
 * Registration by assignment, as PyTorch's Module.__setattr__: `this.fc = new nn.Linear(…)`,
 * `this.w = new nn.Parameter(…)` and class fields register; null marks a registered name absent;
 * re-assigning replaces; assigning another module's Parameter shares (ties) it; plain tensors
 * stay attributes; registerBuffer(name, t, { persistent }). Each of these was a silent failure
 * before (nothing registered, parameters() and stateDict() empty, the model never trained).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, manualSeed, nn, noGrad, optim, randn, tensor, zeros, ones, ArgumentError, StateDictError, F } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, loadFixture } from '../helpers/assert.js';

class Assigned extends nn.Module {
  fc1: nn.Linear;
  scale: nn.Parameter;
  act: nn.Module;
  fc2: nn.Linear;
  plain: Tensor;
  constructor() {
    super();
    this.fc1 = new nn.Linear(4, 8);
    this.scale = new nn.Parameter(ones([8]));
    this.act = new nn.ReLU();
    this.fc2 = new nn.Linear(8, 2);
    this.plain = zeros([3]); // a plain tensor: an attribute, not state
  }

  override forward(x: Tensor): Tensor {
    return this.fc2.forward(this.act.forward(this.fc1.forward(x)).mul(this.scale));
  }
}

test('assignment in a constructor registers children and parameters in PyTorch\'s order; plain tensors stay attributes', () => {
  const m = new Assigned();
  // PyTorch's state_dict order: own parameters, own buffers, then each child in assignment order.
  assert.deepEqual(Object.keys(m.stateDict()), ['scale', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
  assert.deepEqual([...m.namedChildren()].map(([k]) => k), ['fc1', 'act', 'fc2']);
  assert.equal(m.parameters().length, 5);
  assert.equal(m.numParameters(), 8 + 32 + 8 + 16 + 2);
  assert.equal(m.buffers().length, 0, 'a plain tensor is not a buffer');
  assert.ok(m instanceof Assigned && m instanceof nn.Module);
  assert.equal(m.toString().split('\n')[1], '  (fc1): Linear(in_features=4, out_features=8, bias=True)');
});

test('a module written with assignment trains: the optimizer sees every parameter and the loss falls', () => {
  manualSeed(0);
  const m = new Assigned();
  const opt = new optim.Adam(m.parameters(), { lr: 0.05 });
  const x = randn([16, 4]), y = randn([16, 2]);
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    opt.zeroGrad();
    const loss = F.mseLoss(m.forward(x), y);
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  assert.ok(m.parameters().every((p) => p.grad !== null));
  assert.ok(losses[29] < 0.7 * losses[0], `loss ${losses[0]} → ${losses[29]}`);
});

class Fields extends nn.Module {
  emb = new nn.Embedding(10, 4);
  w = new nn.Parameter(randn([4]));
  head: nn.Linear;
  maybe: nn.Linear | null = null; // a plain null field: PyTorch's `self.maybe = None` before anything registered
  constructor() {
    super();
    this.head = new nn.Linear(4, 10, { bias: false });
  }
}

test('class fields register like assignments (fields first, then the constructor body)', () => {
  const m = new Fields();
  assert.deepEqual(Object.keys(m.stateDict()), ['w', 'emb.weight', 'head.weight']);
  assert.deepEqual([...m.namedChildren()].map(([k]) => k), ['emb', 'head']);
  assert.equal(m.maybe, null);
  m.maybe = new nn.Linear(2, 2); // a plain attribute becomes a child when a Module is assigned
  assert.deepEqual([...m.namedChildren()].map(([k]) => k), ['emb', 'head', 'maybe']);
});

test('null on a registered name keeps it registered as absent: Linear without its bias, as PyTorch\'s `lin.bias = None`', () => {
  manualSeed(1);
  const lin = new nn.Linear(3, 2);
  const x = randn([4, 3]);
  lin.bias = null;
  assert.deepEqual(Object.keys(lin.stateDict()), ['weight']);
  assert.equal(lin.parameters().length, 1);
  assertClose(lin.forward(x), x.matmul(lin.weight.t()), { rtol: 1e-6, atol: 1e-7 }, 'no bias');
  assert.equal(lin.toString(), 'Linear(in_features=3, out_features=2, bias=False)');
  const m = new Assigned();
  m.act = null as unknown as nn.Module;
  assert.deepEqual([...m.namedChildren()].map(([k]) => k), ['fc1', 'fc2'], 'an absent child');
  assert.match(m.toString(), /\(act\): None/);
});

test('re-assigning replaces, also across kinds; delete unregisters', () => {
  const m = new Assigned();
  m.fc2 = new nn.Linear(8, 5);
  assert.deepEqual(m.stateDict()['fc2.weight'].shape, [5, 8]);
  assert.deepEqual(Object.keys(m.stateDict()), ['scale', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'], 'position kept');
  m.act = new nn.Parameter(zeros([2])) as unknown as nn.Module; // a Parameter over a child: PyTorch replaces the child
  assert.deepEqual([...m.namedChildren()].map(([k]) => k), ['fc1', 'fc2']);
  assert.ok('act' in m.stateDict());
  delete (m as { scale?: unknown }).scale;
  assert.ok(!('scale' in m.stateDict()));
  assert.equal(m.scale, undefined);
});

class TiedLM extends nn.Module {
  embedding: nn.Embedding;
  head: nn.Linear;
  constructor() {
    super();
    this.embedding = new nn.Embedding(6, 4);
    this.head = new nn.Linear(4, 6, { bias: false });
    this.embedding.weight = this.head.weight; // nanoGPT's tie, by assignment
  }

  override forward(idx: Tensor): Tensor {
    return this.head.forward(this.embedding.forward(idx));
  }
}

test('assigning a Parameter that another module owns shares it: a tie, counted and updated once, gradients summed', () => {
  manualSeed(2);
  const m = new TiedLM();
  assert.equal(m.embedding.weight, m.head.weight);
  assert.equal(m.parameters().length, 1);
  assert.deepEqual(Object.keys(m.stateDict()), ['embedding.weight', 'head.weight']);
  assert.ok(nn.isTied(m.embedding, m.head));
  const idx = tensor([1, 3], { dtype: 'int64' });
  m.forward(idx).sum().backward();
  const W = m.head.weight.detach();
  const h = W.indexSelect(0, idx); // (2, 4)
  const picked = tensor([0, 1, 0, 1, 0, 0]).unsqueeze(1);
  assertClose(m.head.weight.grad!, h.sum(0).expand([6, 4]).add(picked.mul(W.sum(0))), { rtol: 1e-5, atol: 1e-6 }, 'tied grad');
});

test('registerBuffer takes { persistent } as PyTorch (and the positional boolean); assigning a tensor replaces a buffer', () => {
  class B extends nn.Module {
    constructor() {
      super();
      this.registerBuffer('kept', zeros([2]));
      this.registerBuffer('scratch', zeros([3]), { persistent: false });
      this.registerBuffer('old', zeros([1]), false);
    }
  }
  const b = new B();
  assert.deepEqual(Object.keys(b.stateDict()), ['kept']);
  assert.deepEqual([...b.namedBuffers()].map(([k]) => k), ['kept', 'scratch', 'old']);
  const t = ones([3]);
  (b as unknown as { scratch: Tensor }).scratch = t;
  assert.equal([...b.namedBuffers()].find(([k]) => k === 'scratch')![1], t);
  assert.deepEqual(Object.keys(b.stateDict()), ['kept'], 'persistence kept on re-assignment');
  assert.throws(() => b.registerBuffer('x', zeros([1]), { persistant: false } as never), (e: Error) => e instanceof ArgumentError && /unknown option "persistant" \(did you mean persistent\?\)/.test(e.message));
  assert.throws(() => { (b as unknown as { kept: unknown }).kept = 3; }, /cannot assign number 3 as buffer "kept" \(a Tensor or null expected\)/);
  assert.throws(() => b.registerBuffer('p', new nn.Parameter(zeros([1]))), /is a Parameter; register it with registerParameter/);
});

test('assigning the wrong kind to a registered name is an error naming it, never a silent attribute', () => {
  const lin = new nn.Linear(3, 2);
  assert.throws(() => { (lin as unknown as { weight: Tensor }).weight = randn([2, 3]); },
    (e: Error) => e instanceof StateDictError && /Linear: cannot assign a Tensor of shape \[2,3\] as parameter "weight" \(an nn\.Parameter or null expected; wrap a tensor with new nn\.Parameter\(t\)\)/.test(e.message));
  const m = new Assigned();
  assert.throws(() => { (m as unknown as { fc1: number }).fc1 = 3; }, /cannot assign number 3 as child module "fc1" \(an nn\.Module or null expected\)/);
  assert.throws(() => { (m as unknown as { forward: unknown }).forward = new nn.Linear(1, 1); }, /cannot register "forward": it would shadow Module's own method forward\(\)/);
  assert.throws(() => { (m as unknown as { training: unknown }).training = new nn.Linear(1, 1); }, /cannot register "training": it would shadow Module's own field training/);
  assert.throws(() => m.registerModule('x', randn([1]) as unknown as nn.Module), /registerModule: "x" must be a Module or null, got a Tensor of shape \[1\]/);
  const dict = new nn.ModuleDict();
  assert.throws(() => dict.registerModule('keys', new nn.ReLU()), /cannot register "keys": it would shadow the method ModuleDict\.keys\(\)/);
});

test('class accessors keep their meaning: Attention\'s W_Q setter writes through; a read-only getter refuses clearly', () => {
  manualSeed(3);
  const attn = new nn.Attention({ dim: 8, heads: 2, dimHead: 4 });
  const w = randn([2, 8, 4]);
  attn.W_Q = w;
  assertClose(attn.W_Q, w, { rtol: 0, atol: 0 }, 'W_Q written through to to_qkv.weight');
  assert.deepEqual(Object.keys(attn.stateDict()), ['to_qkv.weight', 'to_out.0.weight', 'to_out.0.bias']);
  assert.throws(() => { (attn as unknown as { outProj: unknown }).outProj = new nn.Linear(8, 8); }, /Attention: cannot assign outProj: it is a read-only property/);
});

test('a subclass that declares (or field-declares) an inherited parameter keeps it registered', () => {
  class Declared extends nn.Linear {
    declare weight: nn.Parameter;
  }
  class FieldDeclared extends nn.Linear {
    // What a JavaScript field `weight;` does (defines it as undefined after super()): must not unregister.
    override weight = undefined as unknown as nn.Parameter;
  }
  for (const C of [Declared, FieldDeclared]) {
    const m = new C(3, 2);
    assert.ok(m.weight instanceof nn.Parameter, C.name);
    assert.deepEqual(Object.keys(m.stateDict()), ['weight', 'bias'], C.name);
  }
});

test('deepCopy of a module built by assignment is independent and registers its own assignments', () => {
  manualSeed(4);
  const m = new TiedLM();
  const c = nn.deepCopy(m);
  assert.ok(c instanceof TiedLM);
  assert.equal(c.embedding.weight, c.head.weight, 'the tie is kept inside the copy');
  assert.notEqual(c.head.weight, m.head.weight);
  c.head = new nn.Linear(4, 6);
  assert.equal(c.parameters().length, 3, 'the copy registers assignments');
  assert.equal(m.parameters().length, 1, 'the original is untouched');
  noGrad(() => c.embedding.weight.fill_(0));
  assert.notEqual(m.head.weight.abs().sum().item(), 0);
  // TransformerEncoder stamps out deep copies: each layer registers its own replacement.
  const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 }), 2);
  enc.layers.at(0).linear1 = new nn.Linear(8, 4);
  assert.deepEqual(enc.stateDict()['layers.0.linear1.weight'].shape, [4, 8]);
  assert.deepEqual(enc.stateDict()['layers.1.linear1.weight'].shape, [16, 8]);
});

// ---------------------------------------------------------------------------------------------
// nanoGPT's model.py, ported the way a PyTorch user writes it (assignment, class fields, a tie by
// assignment, a non-persistent buffer), against the PyTorch fixture of the same architecture.

class CausalSelfAttention extends nn.Module {
  c_attn: nn.Linear;
  c_proj: nn.Linear;
  declare mask: Tensor;
  constructor(readonly C: number, readonly H: number, block: number) {
    super();
    this.c_attn = new nn.Linear(C, 3 * C);
    this.c_proj = new nn.Linear(C, C);
    this.registerBuffer('mask', ones([block, block]).tril().view([1, 1, block, block]), { persistent: false });
  }

  override forward(x: Tensor): Tensor {
    const [B, T, C] = x.shape;
    const [q, k, v] = this.c_attn.forward(x).split(C, 2).map((t) => t.view([B, T, this.H, C / this.H]).transpose(1, 2));
    let att = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(k.shape[3]));
    att = att.maskedFill(this.mask.narrow(2, 0, T).narrow(3, 0, T).eq(0), -Infinity).softmax(-1);
    return this.c_proj.forward(att.matmul(v).transpose(1, 2).contiguous().view([B, T, C]));
  }
}

class MLP extends nn.Module {
  c_fc: nn.Linear;
  gelu = new nn.GELU();
  c_proj: nn.Linear;
  constructor(C: number) {
    super();
    this.c_fc = new nn.Linear(C, 4 * C);
    this.c_proj = new nn.Linear(4 * C, C);
  }

  override forward(x: Tensor): Tensor {
    return this.c_proj.forward(this.gelu.forward(this.c_fc.forward(x)));
  }
}

class Block extends nn.Module {
  ln_1: nn.LayerNorm;
  attn: CausalSelfAttention;
  ln_2: nn.LayerNorm;
  mlp: MLP;
  constructor(C: number, H: number, block: number) {
    super();
    this.ln_1 = new nn.LayerNorm(C);
    this.attn = new CausalSelfAttention(C, H, block);
    this.ln_2 = new nn.LayerNorm(C);
    this.mlp = new MLP(C);
  }

  override forward(x: Tensor): Tensor {
    x = x.add(this.attn.forward(this.ln_1.forward(x)));
    return x.add(this.mlp.forward(this.ln_2.forward(x)));
  }
}

class NanoGPT extends nn.Module {
  transformer: nn.ModuleDict;
  lm_head: nn.Linear;
  constructor(V: number, block: number, L: number, H: number, C: number) {
    super();
    this.transformer = new nn.ModuleDict({
      wte: new nn.Embedding(V, C), wpe: new nn.Embedding(block, C), drop: new nn.Dropout(0),
      h: new nn.ModuleList(Array.from({ length: L }, () => new Block(C, H, block))), ln_f: new nn.LayerNorm(C),
    });
    this.lm_head = new nn.Linear(C, V, { bias: false });
    (this.transformer.get('wte') as nn.Embedding).weight = this.lm_head.weight; // nanoGPT: transformer.wte.weight = lm_head.weight
  }

  override forward(idx: Tensor, targets: Tensor): [Tensor, Tensor] {
    const T = idx.shape[1];
    const t = this.transformer;
    let x = t.get('drop').forward(t.get('wte').forward(idx).add(t.get('wpe').forward(arange(T, undefined, 1, { dtype: 'int64' }))));
    for (const block of t.get('h') as nn.ModuleList<Block>) x = block.forward(x);
    const logits: Tensor = this.lm_head.forward(t.get('ln_f').forward(x));
    return [logits, F.crossEntropy(logits.view([-1, logits.shape[2]]), targets.view([-1]), { ignoreIndex: -1 })];
  }
}

test('nanoGPT\'s model.py written with assignment loads PyTorch\'s state dict strictly and matches its logits, loss and gradients', () => {
  const { tensors: fx, metadata } = loadFixture('gpt.safetensors');
  const c = JSON.parse(metadata.config) as { vocabSize: number; blockSize: number; nLayer: number; nHead: number; nEmbd: number };
  const model = new NanoGPT(c.vocabSize, c.blockSize, c.nLayer, c.nHead, c.nEmbd);
  const state = Object.fromEntries(Object.entries(fx).filter(([k]) => k.startsWith('state.')).map(([k, v]) => [k.slice(6), v]));
  assert.deepEqual(Object.keys(model.stateDict()), Object.keys(state), 'PyTorch\'s keys, in PyTorch\'s order');
  model.loadStateDict(state);
  const [logits, loss] = model.forward(fx.idx, fx.targets);
  assertClose(logits, fx.logits, { rtol: 1e-4, atol: 1e-5 }, 'logits');
  assert.ok(Math.abs(loss.item() - fx.loss.item()) < 1e-5);
  loss.backward();
  const named = [...model.namedParameters()];
  assert.equal(named.length, Object.keys(fx).filter((k) => k.startsWith('grad.')).length, 'the tie is one parameter, as in PyTorch');
  for (const [k, p] of named) assertClose(p.grad!, fx[`grad.${k}`], { rtol: 1e-3, atol: 1e-5 }, `grad ${k}`);
});
