/**
 * Training on real text: a small char GPT trained for a few hundred steps on part of the Brown
 * corpus must go well below the unigram baseline on held-out documents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, models } from '../../src/index.js';
import { charDatasetFromDocuments, loadBrownCorpus, unigramCrossEntropy } from '../../src/data/index.js';
import { Trainer } from '../../src/train/index.js';

test('a char GPT on the Brown corpus beats the unigram baseline by a wide margin', () => {
  const data = charDatasetFromDocuments(loadBrownCorpus({ maxDocuments: 60 }), 'Brown corpus (60 documents)');
  const unigram = unigramCrossEntropy(data.train, data.val, data.tokenizer.vocabSize);
  manualSeed(0);
  const model = new models.GPT({ vocabSize: data.tokenizer.vocabSize, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 64 });
  const trainer = new Trainer(model, data, { steps: 250, batchSize: 16, lr: 3e-3, evalInterval: 250, evalBatches: 10 });
  trainer.run();
  const { val } = trainer.evals[trainer.evals.length - 1];
  assert.ok(val < unigram - 0.4, `validation loss ${val.toFixed(3)} vs unigram ${unigram.toFixed(3)}`);
  const first = trainer.history[0].loss, last = trainer.history[trainer.history.length - 1].loss;
  assert.ok(first > Math.log(data.tokenizer.vocabSize) - 0.3 && last < first - 1, `training loss ${first} → ${last}`);
});
