/**
 * PyTorch parity of the ops a port needs (scripts/fixtures/ops_port.py), forward and gradients,
 * on every available backend, plus float64 finite differences for every case with a gradient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, assertEqual, loadFixture } from '../helpers/assert.js';
import { PORT_CASES } from './port-cases.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import { availableBackends } from '../../src/backend/index.js';
import { withBackend } from '../backend/util.js';

const { tensors, metadata } = loadFixture('ops-port.safetensors');
const cases = JSON.parse(metadata.cases) as { name: string; inputs: number; grads: number[] }[];

test('every ops-port fixture case has a qkv implementation and vice versa', () => {
  assert.deepEqual(cases.map((c) => c.name).sort(), Object.keys(PORT_CASES).sort());
});

for (const backendName of availableBackends()) for (const c of cases) {
  test(`port parity [${backendName}]: ${c.name}`, () => withBackend(backendName, () => {
    const inputs: Tensor[] = [];
    for (let i = 0; i < c.inputs; i++) {
      const x = tensors[`${c.name}.in${i}`].clone();
      if (x.isFloatingPoint()) x.requiresGrad_(true);
      inputs.push(x);
    }
    const out = PORT_CASES[c.name](...inputs);
    const expected = tensors[`${c.name}.out`];
    assert.deepEqual(out.shape, expected.shape, `${c.name}: shape`);
    if (expected.isFloatingPoint()) assertClose(out, expected, { rtol: 1e-5, atol: 1e-6 }, `${c.name} forward`);
    else assertEqual(out, expected, `${c.name} forward`);
    if (c.grads.length === 0) return;
    out.backward(tensors[`${c.name}.gy`]);
    for (const i of c.grads) {
      const g = inputs[i].grad;
      assert.ok(g !== null, `${c.name}: input ${i} got no gradient`);
      assertClose(g, tensors[`${c.name}.grad${i}`], { rtol: 1e-4, atol: 1e-5 }, `${c.name} grad of input ${i}`);
    }
  }));
}

for (const c of cases.filter((k) => k.grads.length > 0)) {
  test(`port gradcheck (float64): ${c.name}`, () => {
    const inputs: Tensor[] = [];
    for (let i = 0; i < c.inputs; i++) {
      const x = tensors[`${c.name}.in${i}`];
      inputs.push(x.isFloatingPoint() ? x.double().requiresGrad_(true) : x);
    }
    const r = gradcheck(PORT_CASES[c.name], inputs, { eps: 1e-6, atol: 1e-6, rtol: 1e-4 });
    assert.ok(r.ok);
  });
}
