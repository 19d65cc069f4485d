/** Module hooks: forward pre-hooks (may replace the inputs), forward hooks, and their RemovableHandle. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, nn, randn, ArgumentError } from '../../src/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/assert.js';

test('a forward pre-hook sees (module, args) and may replace them: an array replaces all, another value the single input', () => {
  manualSeed(0);
  const lin = new nn.Linear(3, 2);
  const x = randn([4, 3]), x2 = randn([4, 3]);
  const seen: number[][] = [];
  const h1 = lin.registerForwardPreHook((m, args) => {
    assert.equal(m, lin);
    seen.push(args[0].shape);
  });
  const h2 = lin.registerForwardPreHook(() => x2); // a non-array return wraps into [value], as PyTorch's tuple
  assertClose(lin.forward(x), x2.matmul(lin.weight.t()).add(lin.bias!), { rtol: 1e-6, atol: 1e-6 }, 'input replaced');
  h2.remove();
  const h3 = lin.registerForwardPreHook((_m, args) => [args[0].mul(2)]);
  const expected = x.mul(2).matmul(lin.weight.t()).add(lin.bias!);
  assertClose(lin.forward(x), expected, { rtol: 1e-6, atol: 1e-6 }, 'array return');
  h3.remove();
  h1.remove();
  assert.deepEqual(seen, [[4, 3], [4, 3]]);
  assertClose(lin.forward(x), x.matmul(lin.weight.t()).add(lin.bias!), { rtol: 1e-6, atol: 1e-6 }, 'no hooks left');
  assert.ok(!lin.hasHooks());
  assert.ok(!Object.prototype.hasOwnProperty.call(lin, 'forward'), 'the class forward is back');
});

test('pre-hooks run before forward hooks, and both when the module is reached from a parent', () => {
  const seq = new nn.Sequential(new nn.Linear(2, 2), new nn.ReLU());
  const order: string[] = [];
  seq[0].registerForwardHook(() => void order.push('hook'));
  seq[0].registerForwardPreHook(() => void order.push('pre'));
  seq.registerForwardPreHook(() => void order.push('seq pre'));
  seq.registerForwardHook(() => void order.push('seq hook'));
  seq.forward(randn([1, 2]));
  assert.deepEqual(order, ['seq pre', 'pre', 'hook', 'seq hook']);
});

test('handles: the same RemovableHandle type with ids; remove() is idempotent; prepend runs a hook first', () => {
  const relu = new nn.ReLU();
  const order: number[] = [];
  const a = relu.registerForwardHook(() => void order.push(1));
  const b = relu.registerForwardPreHook(() => void order.push(0));
  const c = relu.registerForwardHook(() => void order.push(2), { prepend: true });
  assert.ok(a instanceof nn.RemovableHandle && b instanceof nn.RemovableHandle);
  assert.ok(a.id !== b.id && b.id !== c.id);
  relu.forward(randn([1]));
  assert.deepEqual(order, [0, 2, 1]);
  a.remove();
  a.remove();
  c.remove();
  assert.ok(relu.hasHooks(), 'the pre-hook is still there');
  b.remove();
  assert.ok(!relu.hasHooks());
  assert.throws(() => relu.registerForwardHook(() => undefined, { with_kwargs: true } as never), (e: Error) => e instanceof ArgumentError && /unknown option "with_kwargs"; valid options: prepend/.test(e.message));
  assert.throws(() => relu.registerForwardPreHook(null as never), /registerForwardPreHook: the hook must be a function, got null/);
  relu.registerForwardHook(() => undefined);
  relu.registerForwardPreHook(() => undefined);
  relu.removeHooks();
  assert.ok(!relu.hasHooks());
});

test('hooks wrap an instance forward already in place, and give it back when removed', () => {
  manualSeed(1);
  const lin = new nn.Linear(2, 2);
  const patched = (x: Tensor) => x.neg();
  lin.forward = patched;
  const h = lin.registerForwardHook((_m, _a, out) => out.mul(3));
  const x = randn([1, 2]);
  assertClose(lin.forward(x), x.neg().mul(3), { rtol: 0, atol: 0 }, 'hooked patched forward');
  h.remove();
  assert.equal(lin.forward, patched);
});

test('a module hooked inside a deep copy keeps its own hooks apart from the original', () => {
  const lin = new nn.Linear(2, 2);
  let calls = 0;
  lin.registerForwardHook(() => void calls++);
  const copy = nn.deepCopy(lin);
  copy.removeHooks();
  lin.forward(randn([1, 2]));
  copy.forward(randn([1, 2]));
  assert.equal(calls, 1);
});
