/** The seed rule: an effect only when it holds in every seed or the 95% interval excludes zero. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claim, compareTimes, decide, fmtStat, quantile, recheckClaims, stat } from '../../src/lab/seeds.js';

test('decide: all seeds one way is an effect; a split is noise unless the t interval excludes zero', () => {
  assert.equal(decide([1, 2, 3], [2, 3, 4]).outcome, 'a<b');
  assert.equal(decide([3, 4, 5], [2, 3, 4]).outcome, 'a>b');
  // 4 of 5 lower: noise when the fifth swings far the other way, an effect when the interval of
  // the mean difference still excludes zero.
  const swing = decide([0, 0, 0, 0, 0], [1, 1, 1, 1, -1]);
  assert.deepEqual([swing.less, swing.outcome], [4, 'noise']);
  assert.ok(swing.ci95![0] < 0 && swing.ci95![1] > 0);
  const small = decide([0, 0, 0, 0, 0], [1, 1, 1, 1, -0.1]);
  assert.deepEqual([small.less, small.outcome], [4, 'a<b']);
  assert.ok(small.ci95![1] < 0);
  const strong = decide([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1.1, 0.9, 1, 1.05, 0.95, 1, 1.02, 0.98, -0.01]);
  assert.equal(strong.less, 9);
  assert.equal(strong.outcome, 'a<b', '9 of 10 with the interval clear of zero');
  assert.equal(decide([1, 2, 3], [1, 2, 3]).outcome, 'equal');
  assert.equal(decide([1, 5], [2, 4]).outcome, 'noise');
});

test('decide: null (never happened) ranks above every number; a constant can stand for B', () => {
  const r = decide([100, 200, null], [null, null, null]);
  assert.deepEqual([r.less, r.greater, r.outcome], [2, 0, 'noise']); // two lower, one tie
  assert.equal(decide([100, 200], [null, null]).outcome, 'a<b');
  assert.equal(decide([0.1, 0.2, 0.3], 0.5).outcome, 'a<b');
  assert.equal(decide([0.1, 0.2, 0.6], 0.5).outcome, 'noise');
  assert.equal(stat([3, null, 1]).max, null);
  assert.equal(stat([3, null, 1]).median, 3);
  assert.equal(fmtStat([1, 2, 3]), '2 (1–3)');
  assert.equal(fmtStat([2, 2]), '2 (every seed)');
});

test('claim text says what the seeds say, and recheckClaims catches a verdict the seeds do not support', () => {
  const seeds = { a: [1, 2, 3], b: [2, 3, 4], c: [1, 5, 2] };
  const c1 = claim('x', seeds, 'a', 'b', 'A', 'B');
  assert.match(c1.text, /^A < B in 3 of 3 seeds; difference -1 median, -1 to -1$/);
  const c2 = claim('y', seeds, 'c', 'b', 'C', 'B');
  assert.match(c2.text, /C < B in 2 of 3 seeds.* — within seed noise$/);
  const e = { name: 'e', verdict: `${c1.text}. ${c2.text}.`, asAsked: { judgement: '' }, seeds, claims: [c1, c2] };
  assert.deepEqual(recheckClaims(e), []);
  // A tampered seed: the stored claim now says more than the seeds support.
  const tampered = { ...e, seeds: { ...seeds, a: [1, 2, 9] } };
  assert.match(recheckClaims(tampered).join('\n'), /e\/x: the seeds give noise, the claim says a<b/);
  // An effect claimed in words for a noise outcome.
  const lying = { ...e, claims: [c1, { ...c2, outcome: 'a<b' as const, text: c2.text.replace(' — within seed noise', '') }], verdict: `${c1.text}. ${c2.text.replace(' — within seed noise', '')}.` };
  assert.ok(recheckClaims(lying).some((p) => /e\/y: the seeds give noise, the claim says a<b/.test(p)));
  // A claim the verdict does not quote.
  assert.match(recheckClaims({ ...e, verdict: c1.text }).join('\n'), /e\/y: the verdict does not quote the claim/);
});

test('timings: medians, interquartile ranges, within noise when they overlap', () => {
  assert.equal(quantile([1, 2, 3, 4, 5], 0.5), 3);
  assert.equal(quantile([1, 2, 3, 4, 5], 0.25), 2);
  assert.equal(compareTimes([10, 11, 12, 13], [20, 21, 22, 23]).withinNoise, false);
  assert.equal(compareTimes([10, 11, 12, 13], [12, 12.1, 12.2, 30]).withinNoise, true);
  assert.ok(Math.abs(compareTimes([10, 10, 10], [20, 20, 20]).ratio - 2) < 1e-12);
});
