/**
 * Optimizer and scheduler options: PyTorch's positional forms take effect (`new optim.Adam(params,
 * 0.01)` used to spread a number and silently keep lr 1e-3), unknown keys — in the options and in
 * parameter groups (`{ params, weight_decay: 0.1 }` used to be ignored) — are errors naming the
 * nearest valid key, and values are range-checked as PyTorch does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, nn, optim, randn, ArgumentError } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { loadFixture } from '../helpers/assert.js';

function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof ArgumentError && re.test(e.message));
}

const params = () => [new nn.Parameter(randn([3])), new nn.Parameter(randn([2, 2]))];

test('positional forms: Adam(params, lr, betas, eps, weightDecay, amsgrad), AdamW(params, lr), SGD(params, lr, momentum, …)', () => {
  const a = new optim.Adam(params(), 0.01, [0.8, 0.9], 1e-6, 0.1, true);
  assert.deepEqual({ ...a.paramGroups[0], params: undefined }, { lr: 0.01, betas: [0.8, 0.9], eps: 1e-6, weightDecay: 0.1, amsgrad: true, maximize: false, params: undefined });
  assert.equal(new optim.AdamW(params(), 0.05).paramGroups[0].lr, 0.05);
  assert.equal(new optim.AdamW(params(), 0.05).paramGroups[0].weightDecay, 0.01, 'AdamW keeps its own default');
  const s = new optim.SGD(params(), 0.1, 0.9, 0, 1e-4, true);
  assert.deepEqual([s.paramGroups[0].lr, s.paramGroups[0].momentum, s.paramGroups[0].weightDecay, s.paramGroups[0].nesterov], [0.1, 0.9, 1e-4, true]);
  assert.equal(new optim.Adam(params(), 0.01, { maximize: true }).paramGroups[0].maximize, true, 'positional then options');
  refuses(() => new optim.Adam(params(), 0.01, { lr: 0.02 }), /optim\.Adam: lr is given twice/);
});

test('the positional Adam(params, 0.01) follows PyTorch\'s Adam(lr=1e-2) trajectory', () => {
  const { tensors: fx } = loadFixture('optim.safetensors');
  const init = Object.fromEntries(Object.entries(fx).filter(([k]) => k.startsWith('init.')).map(([k, v]) => [k.slice(5), v]));
  const model = new nn.Sequential(new nn.Linear(4, 8), new nn.Tanh(), new nn.Linear(8, 3));
  model.loadStateDict(init);
  const opt = new optim.Adam(model.parameters(), 0.01);
  const losses: number[] = [];
  for (let i = 0; i < 10; i++) {
    opt.zeroGrad();
    const loss = F.crossEntropy(model.forward(fx.x), fx.y);
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  const expected = fx['adam.losses'].toFlat();
  losses.forEach((l, i) => assert.ok(Math.abs(l - expected[i]) <= 1e-5 * Math.abs(expected[i]) + 1e-7, `step ${i}: ${l} vs ${expected[i]}`));
  const sd = model.stateDict();
  assert.ok(sd['0.weight'].sub(fx['adam.final.0.weight']).abs().max().item() < 1e-5);
});

test('unknown keys are refused in options and in parameter groups, with the nearest valid key', () => {
  refuses(() => new optim.AdamW(params(), { weight_decay: 0.1 } as never), /optim\.AdamW: unknown option "weight_decay" \(did you mean weightDecay\?\)/);
  refuses(() => new optim.SGD(params(), { lr: 0.1, momentun: 0.9 } as never), /did you mean momentum\?/);
  const [p1, p2] = params();
  refuses(() => new optim.AdamW([{ params: [p1], weight_decay: 0.1 } as never, { params: [p2] }]), /AdamW parameter group: unknown option "weight_decay" \(did you mean weightDecay\?\)/);
  refuses(() => new optim.Adam([{ params: [p1], lr: -1 }]), /Adam: invalid learning rate -1/);
  refuses(() => new optim.Adam([{ params: [p1], betas: [0.9] as never }]), /betas must be two numbers/);
  refuses(() => new optim.SGD([{ params: [p1], momentum: 'high' as never }], 0.1), /SGD: invalid momentum value "high"/);
  refuses(() => new optim.Adam(p1 as never), /params must be an iterable of tensors or of groups, not one tensor/);
  refuses(() => new optim.Adam(params(), { capturable: true } as never), /capturable = true is not supported/);
  assert.ok(new optim.Adam(params(), { foreach: false, fused: null } as never) instanceof optim.Adam, 'implementation switches are accepted');
  refuses(() => new optim.Adam(params(), 0.01, [0.9, 0.999], 1e-8, 0, false, 'extra' as never), /optim\.Adam: got 6 optional positional arguments but takes at most 5/);
  const groups = new optim.AdamW([{ params: [p1], weightDecay: 0 }, { params: [p2] }], { lr: 0.01 });
  assert.deepEqual(groups.paramGroups.map((g) => g.weightDecay), [0, 0.01]);
});

test('schedulers check their options', () => {
  const opt = new optim.AdamW(params(), { lr: 0.01 });
  refuses(() => new optim.CosineWarmupLR(opt, { warmupSteps: 2, totalSteps: 10, min_lr_ratio: 0.1 } as never), /did you mean minLrRatio\?/);
  refuses(() => new optim.CosineWarmupLR(opt, { warmupSteps: 5, totalSteps: 2 }), /need 0 ≤ warmupSteps ≤ totalSteps/);
  refuses(() => optim.cosineWarmupFactor(0, { warmup_steps: 2, totalSteps: 10 } as never), /cosineWarmupFactor: unknown option "warmup_steps" \(did you mean warmupSteps\?\)/);
  refuses(() => new optim.LambdaLR(opt, 0.5 as never), /lrLambda must be a function/);
  refuses(() => new optim.LambdaLR({} as never, () => 1), /the first argument must be an optimizer/);
  const sched = new optim.CosineWarmupLR(opt, { warmupSteps: 1, totalSteps: 4 });
  assert.equal(opt.paramGroups[0].lr, 0.005);
  sched.step();
  assert.equal(opt.paramGroups[0].lr, 0.01);
});

test('clipGradNorm_ and a closure step still work with the checked optimizers', () => {
  const w = new nn.Parameter(randn([4]));
  const opt = new optim.SGD([w], 0.1);
  const loss = opt.step(() => {
    opt.zeroGrad();
    const l: Tensor = w.square().sum();
    l.backward();
    return l;
  });
  assert.ok(loss !== null && loss.item() > 0);
});
