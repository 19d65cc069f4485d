/**
 * Finite differences in float64 for every parity case (which together exercise every op with a
 * gradient rule), on the fixture's inputs converted to float64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import { gradcheckTests } from '../helpers/parity.js';
import { CASES } from '../ops/cases.js';
import type { Tensor } from '../../src/tensor/tensor.js';

// By definition not the true derivative: PyTorch gives the padding row no gradient although the
// forward reads it. Its rule is checked against PyTorch in parity.test.ts instead.
gradcheckTests('ops.safetensors', CASES, 'gradcheck', new Set(['embedding_padding']));

test('gradcheck catches a wrong gradient rule', async () => {
  const { attach } = await import('../../src/autograd/node.js');
  const { tensor } = await import('../../src/index.js');
  // y = x², with a deliberately wrong rule dy/dx = x.
  const badSquare = (x: Tensor): Tensor => attach(x.detach().mul(x.detach()), 'BadSquare', [x], (g) => [g.mul(x)]);
  const x = tensor([0.5, -1.5, 2], { dtype: 'float64', requiresGrad: true });
  const r = gradcheck(badSquare, [x], { raise: false });
  assert.equal(r.ok, false);
  assert.ok(r.maxAbsError > 0.1);
  assert.throws(() => gradcheck(badSquare, [x]), /gradcheck: gradient mismatch for input 0/);
});
