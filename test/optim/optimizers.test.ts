/** Optimizer API: groups, zeroGrad, state dicts, the fused Adam kernel vs its twin, schedules, clipping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, nn, optim, randn, tensor, noGrad } from '../../src/index.js';
import { adamUpdate, adamUpdateComposed } from '../../src/ops/optim.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/assert.js';

const model = () => {
  manualSeed(0);
  return new nn.Sequential(new nn.Linear(4, 8), new nn.Tanh(), new nn.Linear(8, 2));
};
const lossOf = (m: nn.Sequential) => (m.forward(randn([8, 4])) as Tensor).square().mean();

test('defaults follow PyTorch', () => {
  const m = model();
  const adam = new optim.Adam(m.parameters());
  assert.deepEqual({ ...adam.paramGroups[0], params: undefined }, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: undefined });
  assert.equal(new optim.AdamW(m.parameters()).paramGroups[0].weightDecay, 0.01);
  assert.throws(() => new optim.SGD(m.parameters(), {} as never), /SGD: invalid learning rate undefined \(lr is required\)/);
  assert.throws(() => new optim.Adam(m.parameters(), { betas: [0.9, 1] }), /invalid beta parameter at index 1: 1/);
  assert.throws(() => new optim.SGD([{ params: m.parameters() }, { params: m.parameters() }], { lr: 1 }), /appear in more than one parameter group/);
});

test('an optimizer state dict saved and loaded continues the run exactly', () => {
  const a = model();
  const optA = new optim.AdamW(a.parameters(), { lr: 1e-2 });
  for (let i = 0; i < 3; i++) { optA.zeroGrad(); lossOf(a).backward(); optA.step(); }
  const sd = optA.stateDict();
  assert.deepEqual(Object.keys(sd.state['0']), ['step', 'exp_avg', 'exp_avg_sq']);
  assert.deepEqual(sd.param_groups[0].params, [0, 1, 2, 3]);
  assert.equal(sd.param_groups[0].weight_decay, 0.01);
  const b = model();
  b.loadStateDict(a.stateDict());
  const optB = new optim.AdamW(b.parameters(), { lr: 1 });
  optB.loadStateDict(sd);
  assert.equal(optB.paramGroups[0].lr, 1e-2);
  manualSeed(5);
  optA.zeroGrad(); lossOf(a).backward(); optA.step();
  manualSeed(5);
  optB.zeroGrad(); lossOf(b).backward(); optB.step();
  for (const [k, t] of Object.entries(a.stateDict())) assert.deepEqual(b.stateDict()[k].toArray(), t.toArray(), k);
  assert.throws(() => new optim.AdamW(model().parameters().slice(0, 2)).loadStateDict(sd), /group 0 has 4 parameters in the state dict, 2 in the optimizer/);
});

test('the fused Adam/AdamW kernel agrees with its composed twin', () => {
  for (const [decoupled, amsgrad, maximize] of [[false, false, false], [true, true, false], [false, true, true]] as const) {
    manualSeed(3);
    const p = randn([37], { dtype: 'float64' }), g = randn([37], { dtype: 'float64' });
    const state = () => [randn([37], { dtype: 'float64' }), randn([37], { dtype: 'float64' }).abs(), randn([37], { dtype: 'float64' }).abs()];
    manualSeed(4);
    const [m1, v1, x1] = state();
    manualSeed(4);
    const [m2, v2, x2] = state();
    const p1 = p.clone(), p2 = p.clone();
    const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, decoupled, step: 3, maximize };
    noGrad(() => {
      adamUpdate(p1, g, m1, v1, amsgrad ? x1 : null, hp);
      adamUpdateComposed(p2, g, m2, v2, amsgrad ? x2 : null, hp);
    });
    for (const [a, b, n] of [[p1, p2, 'param'], [m1, m2, 'exp_avg'], [v1, v2, 'exp_avg_sq'], [x1, x2, 'max_exp_avg_sq']] as const) {
      assertClose(a, b, { rtol: 1e-12, atol: 1e-14 }, `${n} (decoupled ${decoupled}, amsgrad ${amsgrad})`);
    }
  }
});

test('CosineWarmupLR: warm-up, cosine, floor (nanoGPT), and it resumes from a state dict', () => {
  const opt = new optim.AdamW(model().parameters(), { lr: 6e-4 });
  const sched = new optim.CosineWarmupLR(opt, { warmupSteps: 10, totalSteps: 100, minLrRatio: 0.1 });
  const lrs = [sched.getLastLr()[0]];
  for (let i = 0; i < 120; i++) { sched.step(); lrs.push(sched.getLastLr()[0]); }
  assert.ok(Math.abs(lrs[0] - 6e-4 / 11) < 1e-15);
  assert.ok(Math.abs(lrs[9] - 6e-4 * 10 / 11) < 1e-15);
  assert.ok(Math.abs(lrs[10] - 6e-4) < 1e-15);
  assert.ok(Math.abs(lrs[55] - 6e-4 * (0.1 + 0.45)) < 1e-12);
  assert.ok(Math.abs(lrs[100] - 6e-5) < 1e-15 && Math.abs(lrs[120] - 6e-5) < 1e-15);
  for (let i = 11; i <= 100; i++) assert.ok(lrs[i] <= lrs[i - 1]);
  const opt2 = new optim.AdamW(model().parameters(), { lr: 6e-4 });
  const s2 = new optim.CosineWarmupLR(opt2, { warmupSteps: 10, totalSteps: 100 });
  s2.loadStateDict(sched.stateDict());
  assert.equal(opt2.paramGroups[0].lr, lrs[120]);
});

test('clipGradNorm_ returns the total norm and scales gradients to maxNorm (2-norm and inf-norm)', () => {
  const a = tensor([3, 0], { requiresGrad: true }), b = tensor([4], { requiresGrad: true });
  a.grad = tensor([3, 0]);
  b.grad = tensor([4]);
  const total = nn.utils.clipGradNorm_([a, b], 1);
  assert.equal(total.item(), 5);
  assert.ok(Math.abs(a.grad.toFlat()[0] - 0.6) < 1e-6 && Math.abs(b.grad.toFlat()[0] - 0.8) < 1e-6);
  assert.equal(nn.utils.clipGradNorm_([a, b], 10).item() < 1.0001, true); // already small: unchanged
  b.grad = tensor([-7]);
  assert.equal(nn.utils.clipGradNorm_([a, b], 100, { normType: Infinity }).item(), 7);
  b.grad = tensor([NaN]);
  assert.throws(() => nn.utils.clipGradNorm_([b], 1, { errorIfNonfinite: true }), /total norm of order 2 for gradients is non-finite/);
});

test('zeroGrad sets to null by default, or zeros', () => {
  const m = model();
  const opt = new optim.SGD(m.parameters(), { lr: 0.1 });
  lossOf(m).backward();
  opt.zeroGrad(false);
  assert.ok(m.parameters().every((p) => p.grad !== null && p.grad.abs().sum().item() === 0));
  opt.zeroGrad();
  assert.ok(m.parameters().every((p) => p.grad === null));
});
