/** Seeded RNG: reproducible streams, saveable state, and the right distributions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, Generator, getRngState, manualSeed, rand, randint, randn, setRngState, ones, tensor } from '../../src/index.js';

const stats = (a: ArrayLike<number>): { mean: number; std: number } => {
  let s = 0, s2 = 0;
  for (let i = 0; i < a.length; i++) { s += a[i]; s2 += a[i] * a[i]; }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean) };
};

test('manualSeed makes runs reproducible; different seeds differ', () => {
  manualSeed(42);
  const a = randn([8]).toArray();
  manualSeed(42);
  assert.deepEqual(randn([8]).toArray(), a);
  manualSeed(43);
  assert.notDeepEqual(randn([8]).toArray(), a);
});

test('the RNG state saves and restores exactly (including a cached normal)', () => {
  manualSeed(7);
  randn([3]); // odd count: a Box–Muller spare is pending
  const state = getRngState();
  const next = [randn([5]).toArray(), rand([4]).toArray(), randint(100, [6]).toArray()];
  setRngState(JSON.parse(JSON.stringify(state)));
  assert.deepEqual([randn([5]).toArray(), rand([4]).toArray(), randint(100, [6]).toArray()], next);
  assert.throws(() => setRngState({ seed: 0, s: [0, 0, 0, 0], spare: null }), /setRngState: not a valid generator state/);
});

test('a private Generator does not disturb the default stream', () => {
  manualSeed(5);
  const a = randn([4]).toArray();
  manualSeed(5);
  randn([100], { generator: new Generator(1) });
  assert.deepEqual(randn([4]).toArray(), a);
});

test('randn is N(0, 1), rand is U[0, 1), randint is uniform over [low, high)', () => {
  manualSeed(0);
  const n = 200_000;
  const z = stats(randn([n]).toFlat());
  assert.ok(Math.abs(z.mean) < 0.01 && Math.abs(z.std - 1) < 0.01, `randn mean ${z.mean}, std ${z.std}`);
  const u = rand([n]).toFlat();
  const us = stats(u);
  assert.ok(Math.abs(us.mean - 0.5) < 0.005 && Math.abs(us.std - Math.sqrt(1 / 12)) < 0.005);
  assert.ok(Math.min(...u.subarray(0, 10000)) >= 0 && Math.max(...u.subarray(0, 10000)) < 1);
  const r = randint(3, 8, [n]).toFlat();
  const counts = new Map<number, number>();
  for (const v of r) counts.set(v, (counts.get(v) ?? 0) + 1);
  assert.deepEqual([...counts.keys()].sort(), [3, 4, 5, 6, 7]);
  for (const c of counts.values()) assert.ok(Math.abs(c / n - 0.2) < 0.01);
});

test('dropout zeroes a fraction p, scales survivors by 1/(1−p), and its gradient is the same mask', () => {
  manualSeed(3);
  const x = ones([100_000], { requiresGrad: true });
  const y = F.dropout(x, 0.3);
  const v = y.toFlat();
  let zeros = 0;
  for (const e of v) {
    if (e === 0) zeros++;
    else assert.ok(Math.abs(e - 1 / 0.7) < 1e-6);
  }
  assert.ok(Math.abs(zeros / v.length - 0.3) < 0.01, `dropped ${zeros / v.length}`);
  y.sum().backward();
  assert.deepEqual(Array.from(x.grad!.toFlat()), Array.from(v));
  assert.equal(F.dropout(x, 0.3, false), x);
  assert.deepEqual(F.dropout(tensor([1, 2]), 1).toArray(), [0, 0]);
  assert.throws(() => F.dropout(x, 1.5), /dropout: probability has to be between 0 and 1, but got 1.5/);
  manualSeed(9);
  const a = F.dropout(ones([50]), 0.5).toArray();
  manualSeed(9);
  assert.deepEqual(F.dropout(ones([50]), 0.5).toArray(), a);
});
