/**
 * nn parity with PyTorch: each module is built in qkv, loads PyTorch's state_dict with
 * strict: true (no renaming), and must reproduce PyTorch's outputs and the gradients w.r.t.
 * inputs and every parameter — on every available backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, loadFixture } from '../helpers/assert.js';
import { NN_CASES, runCase } from './cases.js';
import { availableBackends } from '../../src/backend/index.js';
import { withBackend } from '../backend/util.js';

const { tensors, metadata } = loadFixture('nn.safetensors');
const cases = JSON.parse(metadata.cases) as { name: string; inputs: number; outputs: number[]; grad_inputs: number[] }[];

test('every nn fixture case has a qkv counterpart and vice versa', () => {
  assert.deepEqual(cases.map((c) => c.name).sort(), Object.keys(NN_CASES).sort());
});

for (const backendName of availableBackends()) for (const c of cases) {
  test(`nn parity [${backendName}]: ${c.name}`, () => withBackend(backendName, () => {
    manualSeed(0);
    const m = NN_CASES[c.name].build().eval();
    const prefix = `${c.name}.state.`;
    const sd = Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    const { missingKeys, unexpectedKeys } = m.loadStateDict(sd, { strict: true });
    assert.deepEqual([missingKeys, unexpectedKeys], [[], []]);
    assert.deepEqual(Object.keys(m.stateDict()), Object.keys(sd), 'stateDict keys in PyTorch order');

    const inputs: Tensor[] = [];
    for (let i = 0; i < c.inputs; i++) {
      const x = tensors[`${c.name}.in${i}`].clone(); // fresh leaves for each backend
      if (c.grad_inputs.includes(i)) x.requiresGrad_(true);
      inputs.push(x);
    }
    const outs = runCase(c.name, m, inputs);
    let total: Tensor | null = null;
    for (const i of c.outputs) {
      const o = outs[i];
      assert.ok(o, `${c.name}: output ${i} missing`);
      assertClose(o, tensors[`${c.name}.out${i}`], { rtol: 1e-5, atol: 1e-5 }, `${c.name} output ${i}`);
      const term = o.mul(tensors[`${c.name}.gy${i}`]).sum();
      total = total ? total.add(term) : term;
    }
    for (let i = 0; i < outs.length; i++) {
      if (!c.outputs.includes(i)) assert.equal(outs[i], null, `${c.name}: output ${i} should be null (needWeights false)`);
    }
    total!.backward();
    for (const i of c.grad_inputs) {
      assertClose(inputs[i].grad!, tensors[`${c.name}.grad.in${i}`], { rtol: 1e-4, atol: 1e-5 }, `${c.name} grad of input ${i}`);
    }
    for (const [k, p] of m.namedParameters()) {
      assertClose(p.grad ?? p.zerosLike(), tensors[`${c.name}.grad.state.${k}`], { rtol: 1e-4, atol: 1e-5 }, `${c.name} grad of ${k}`);
    }
  }));
}
