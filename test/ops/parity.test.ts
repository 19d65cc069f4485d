/**
 * PyTorch parity: every case of scripts/fixtures/ops.py, forward and gradients, on the
 * fixture's own inputs, on every available backend. Forward to rtol 1e-5, gradients to rtol
 * 1e-4 (float32).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, assertEqual, loadFixture } from '../helpers/assert.js';
import { CASES } from './cases.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { availableBackends } from '../../src/backend/index.js';
import { withBackend } from '../backend/util.js';

const { tensors, metadata } = loadFixture('ops.safetensors');
const cases = JSON.parse(metadata.cases) as { name: string; inputs: number; grads: number[] }[];

test('every fixture case has a qkv implementation and vice versa', () => {
  assert.deepEqual(cases.map((c) => c.name).sort(), Object.keys(CASES).sort());
});

for (const backendName of availableBackends()) for (const c of cases) {
  test(`parity [${backendName}]: ${c.name}`, () => withBackend(backendName, () => {
    const inputs: Tensor[] = [];
    for (let i = 0; i < c.inputs; i++) {
      const x = tensors[`${c.name}.in${i}`].clone(); // fresh leaves for each backend
      if (x.isFloatingPoint()) x.requiresGrad_(true);
      inputs.push(x);
    }
    const out = CASES[c.name](...inputs);
    const expected = tensors[`${c.name}.out`];
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
