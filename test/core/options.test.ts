import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOptions, nearestKey } from '../../src/options.js';
import { ArgumentError } from '../../src/errors.js';

test('checkOptions accepts known keys and undefined', () => {
  assert.deepEqual(checkOptions({ bias: false }, ['bias', 'dtype'], 'nn.Linear'), { bias: false });
  assert.deepEqual(checkOptions(undefined, ['bias'], 'nn.Linear'), {});
});

test('checkOptions names the unknown key and the nearest valid one', () => {
  assert.throws(() => checkOptions({ batch_first: true }, ['batchFirst', 'normFirst'], 'nn.TransformerEncoderLayer'),
    (e: Error) => e instanceof ArgumentError && /unknown option "batch_first" \(did you mean batchFirst\?\)/.test(e.message));
  assert.throws(() => checkOptions({ weight_decay: 0.1 }, ['lr', 'weightDecay'], 'optim.AdamW'), /did you mean weightDecay\?/);
  assert.throws(() => checkOptions({ zzz: 1 }, ['lr', 'weightDecay'], 'optim.AdamW'), (e: Error) => !/did you mean/.test(e.message) && /valid options: lr, weightDecay/.test(e.message));
  assert.throws(() => checkOptions([1] as unknown as object, ['a'], 'f'), /options must be an object/);
});

test('nearestKey: snake_case, case and small typos', () => {
  assert.equal(nearestKey('dim_feedforward', ['dimFeedforward', 'dropout']), 'dimFeedforward');
  assert.equal(nearestKey('padding_idx', ['paddingIdx', 'maxNorm']), 'paddingIdx');
  assert.equal(nearestKey('dropuot', ['dropout', 'activation']), 'dropout');
  assert.equal(nearestKey('completelyDifferent', ['lr']), null);
});
