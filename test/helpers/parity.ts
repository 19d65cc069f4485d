/**
 * The PyTorch parity runners shared by the op fixtures (scripts/fixtures/ops.py, ops_port.py):
 * each case's inputs, output, upstream gradient and input gradients, replayed through the qkv
 * function of the same name — forward and gradients on every backend, and float64 finite
 * differences of every gradient rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, assertEqual, loadFixture } from './assert.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import { availableBackends } from '../../src/backend/index.js';
import { withBackend } from '../backend/util.js';

type Cases = Record<string, (...x: Tensor[]) => Tensor>;
interface FixtureCase { name: string; inputs: number; grads: number[] }

function load(fixture: string): { tensors: Record<string, Tensor>; cases: FixtureCase[] } {
  const { tensors, metadata } = loadFixture(fixture);
  return { tensors, cases: JSON.parse(metadata.cases) as FixtureCase[] };
}

/** One test per case and backend: forward to rtol 1e-5, gradients to rtol 1e-4 (float32). */
export function parityTests(fixture: string, impl: Cases, label: string): void {
  const { tensors, cases } = load(fixture);
  test(`every ${fixture} case has a qkv implementation and vice versa`, () => {
    assert.deepEqual(cases.map((c) => c.name).sort(), Object.keys(impl).sort());
  });
  for (const backendName of availableBackends()) for (const c of cases) {
    test(`${label} [${backendName}]: ${c.name}`, () => withBackend(backendName, () => {
      const inputs: Tensor[] = [];
      for (let i = 0; i < c.inputs; i++) {
        const x = tensors[`${c.name}.in${i}`].clone(); // fresh leaves for each backend
        if (x.isFloatingPoint()) x.requiresGrad_(true);
        inputs.push(x);
      }
      const out = impl[c.name](...inputs);
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
}

/** One float64 finite-difference check per case with a gradient (except `skip`). */
export function gradcheckTests(fixture: string, impl: Cases, label: string, skip: ReadonlySet<string> = new Set()): void {
  const { tensors, cases } = load(fixture);
  for (const c of cases.filter((k) => k.grads.length > 0 && !skip.has(k.name))) {
    test(`${label} (float64): ${c.name}`, () => {
      const inputs: Tensor[] = [];
      for (let i = 0; i < c.inputs; i++) {
        const x = tensors[`${c.name}.in${i}`];
        inputs.push(x.isFloatingPoint() ? x.double().requiresGrad_(true) : x);
      }
      assert.ok(gradcheck(impl[c.name], inputs, { eps: 1e-6, atol: 1e-6, rtol: 1e-4 }).ok);
    });
  }
}
