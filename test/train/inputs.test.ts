/** Trainer checks its options and data before any work, and stops on a non-finite loss before the update. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, TrainingError, manualSeed, models, noGrad } from '../../src/index.js';
import { charDatasetFromText } from '../../src/data/index.js';
import { Trainer } from '../../src/train/index.js';

const data = charDatasetFromText('validate before the first step. '.repeat(20), 'test text');
const config = { vocabSize: data.tokenizer.vocabSize, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 };
const model = (): models.GPT => { manualSeed(0); return new models.GPT(config); };

test('options out of range, non-integers and unknown keys are refused at construction', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ lr: 1e308 }, /Trainer: lr must be a finite number in \(0, 1\], got 1e\+308/],
    [{ lr: NaN }, /lr must be a finite number/],
    [{ weightDecay: -1 }, /weightDecay must be a finite number in \[0, 10\], got -1/],
    [{ steps: 1e300 }, /steps must be a positive integer, got 1e\+300/],
    [{ steps: 2.5 }, /steps must be a positive integer, got 2.5/],
    [{ warmupSteps: -1 }, /warmupSteps must be a non-negative integer/],
    [{ betas: [0.9, 1] }, /betas must be two numbers in \[0, 1\)/],
    [{ weight_decay: 0.1 }, /Trainer: unknown option "weight_decay" \(did you mean weightDecay\?\)/],
  ];
  for (const [opts, message] of cases) assert.throws(() => new Trainer(model(), data, opts), (e: unknown) => e instanceof ArgumentError && message.test(e.message), JSON.stringify(opts));
});

test('a split too short for the block size is refused up front, naming the split', () => {
  const short = charDatasetFromText('x'.repeat(150) + 'y'.repeat(10), 'short text'); // validation: 16 tokens
  assert.throws(() => new Trainer(model(), short), /Trainer: the validation split of short text has 16 tokens, too few for one window of blockSize 16 \+ 1/);
});

test('a non-finite loss stops the step before backward and the update: step and weights unchanged', () => {
  const m = model();
  const t = new Trainer(m, data, { steps: 5, batchSize: 2 });
  t.trainStep();
  noGrad(() => m.lnF.weight!.fill_(Infinity));
  const snapshot = m.wte.weight.clone();
  assert.throws(() => t.trainStep(), (e: unknown) => e instanceof TrainingError && /training diverged: the loss at step 1 is NaN .*the weights are those after step 0/.test(e.message));
  assert.equal(t.step, 1);
  assert.equal(t.history.length, 1);
  assert.equal(m.wte.weight.sub(snapshot).abs().max().item(), 0, 'no update was applied');
});
