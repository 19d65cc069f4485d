/**
 * 10-step training trajectories against PyTorch: the same small model, batch and initial
 * weights; losses, learning rates, clipped norms, final weights and Adam state must match —
 * on every available backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, nn, optim } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, loadFixture } from '../helpers/assert.js';
import { availableBackends } from '../../src/backend/index.js';
import { withBackend } from '../backend/util.js';

const { tensors: fx, metadata } = loadFixture('optim.safetensors');
const caseNames = JSON.parse(metadata.cases) as string[];

type Made = { opt: optim.Optimizer<{ lr: number }>; sched?: optim.LRScheduler; clip?: number };
const CASES: Record<string, (ps: nn.Parameter[]) => Made> = {
  sgd_momentum: (ps) => ({ opt: new optim.SGD(ps, { lr: 0.1, momentum: 0.9 }) }),
  sgd_nesterov_wd: (ps) => ({ opt: new optim.SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-2 }) }),
  sgd_dampening_maximize: (ps) => ({ opt: new optim.SGD(ps, { lr: 0.1, momentum: 0.5, dampening: 0.3, maximize: true }) }),
  adam: (ps) => ({ opt: new optim.Adam(ps, { lr: 1e-2 }) }),
  adam_wd_amsgrad: (ps) => ({ opt: new optim.Adam(ps, { lr: 1e-2, weightDecay: 0.1, amsgrad: true }) }),
  adamw: (ps) => ({ opt: new optim.AdamW(ps, { lr: 1e-2 }) }),
  adamw_cosine_clip: (ps) => {
    const opt = new optim.AdamW(ps, { lr: 2e-2, weightDecay: 0.1, betas: [0.9, 0.95] });
    return { opt, sched: new optim.CosineWarmupLR(opt, { warmupSteps: 3, totalSteps: 8, minLrRatio: 0.1 }), clip: 0.5 };
  },
  adam_param_groups: (ps) => ({
    opt: new optim.Adam([{ params: ps.slice(0, 2), lr: 3e-2 }, { params: ps.slice(2), weightDecay: 0.05 }], { lr: 1e-2 }),
  }),
};

const initState = Object.fromEntries(Object.entries(fx).filter(([k]) => k.startsWith('init.')).map(([k, v]) => [k.slice(5), v]));

test('every optimizer fixture case has a qkv counterpart', () => {
  assert.deepEqual([...caseNames].sort(), Object.keys(CASES).sort());
});

for (const backendName of availableBackends()) for (const name of caseNames) {
  test(`10-step trajectory matches PyTorch [${backendName}]: ${name}`, () => withBackend(backendName, () => {
    const model = new nn.Sequential(new nn.Linear(4, 8), new nn.Tanh(), new nn.Linear(8, 3));
    model.loadStateDict(initState);
    const { opt, sched, clip } = CASES[name](model.parameters());
    const losses: number[] = [], lrs: number[] = [], norms: number[] = [];
    for (let step = 0; step < 10; step++) {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(fx.x) as Tensor, fx.y);
      loss.backward();
      if (clip) norms.push(nn.utils.clipGradNorm_(model.parameters(), clip).item());
      lrs.push(opt.paramGroups[0].lr);
      opt.step();
      sched?.step();
      losses.push(loss.item());
    }
    const close = (a: number[], e: Tensor, label: string, rtol: number) =>
      a.forEach((v, i) => assert.ok(Math.abs(v - e.toFlat()[i]) <= rtol * Math.abs(e.toFlat()[i]) + 1e-7, `${label}[${i}]: ${v} vs ${e.toFlat()[i]}`));
    close(losses, fx[`${name}.losses`], 'loss', 1e-5);
    close(lrs, fx[`${name}.lrs`], 'lr', 1e-12);
    if (clip) close(norms, fx[`${name}.norms`], 'clipped norm', 1e-5);
    for (const [k, t] of Object.entries(model.stateDict())) {
      assertClose(t, fx[`${name}.final.${k}`], { rtol: 1e-4, atol: 1e-6 }, `${name} final ${k}`);
    }
    if (name.startsWith('adam')) {
      const st = opt.stateDict().state['0'];
      assertClose(st.exp_avg_sq as Tensor, fx[`${name}.exp_avg_sq.0`], { rtol: 1e-4, atol: 1e-9 }, `${name} exp_avg_sq`);
      assert.equal(st.step, 10);
    }
  }));
}
