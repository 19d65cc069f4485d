/**
 * Token streams for language modelling: a train/validation split and nanoGPT's get_batch
 * (random windows x = data[i : i+T], y = data[i+1 : i+T+1]) from a seeded generator.
 */
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { CharTokenizer } from './char-tokenizer.js';

export interface TextData {
  tokenizer: CharTokenizer;
  train: Int32Array;
  val: Int32Array;
  /** Where the text came from, for reports. */
  source: string;
}

/**
 * Builds a char-level dataset from documents: every `valEvery`-th document goes to validation
 * (so both splits span every category), the rest to training; documents are separated by a newline.
 */
export function charDatasetFromDocuments(docs: readonly { text: string }[], source: string, valEvery = 10): TextData {
  const train = docs.filter((_, i) => i % valEvery !== valEvery - 1).map((d) => d.text).join('\n\n');
  const val = docs.filter((_, i) => i % valEvery === valEvery - 1).map((d) => d.text).join('\n\n');
  if (val.length === 0) throw new ArgumentError(`dataset: ${docs.length} documents leave no validation split (every ${valEvery}th goes to validation)`);
  const tokenizer = CharTokenizer.fromText(train + val);
  return { tokenizer, train: tokenizer.encode(train), val: tokenizer.encode(val), source };
}

/** A char-level dataset from one text: the first 90% trains, the last 10% validates (nanoGPT). */
export function charDatasetFromText(text: string, source: string, valFraction = 0.1): TextData {
  const tokenizer = CharTokenizer.fromText(text);
  const ids = tokenizer.encode(text);
  const n = Math.floor(ids.length * (1 - valFraction));
  return { tokenizer, train: ids.slice(0, n), val: ids.slice(n), source };
}

/** A batch of B random windows of length T: x and y (B, T) int64, y shifted by one. */
export function getBatch(data: Int32Array, batchSize: number, blockSize: number, generator: Generator): { x: Tensor; y: Tensor } {
  if (data.length <= blockSize) throw new ArgumentError(`getBatch: ${data.length} tokens are too few for windows of ${blockSize} + 1`);
  const x = Tensor.empty([batchSize, blockSize], 'int64');
  const y = Tensor.empty([batchSize, blockSize], 'int64');
  const xd = x.storage.data, yd = y.storage.data;
  for (let b = 0; b < batchSize; b++) {
    const i = generator.nextInt(0, data.length - blockSize);
    for (let t = 0; t < blockSize; t++) {
      xd[b * blockSize + t] = data[i + t];
      yd[b * blockSize + t] = data[i + t + 1];
    }
  }
  return { x, y };
}

/**
 * Cross-entropy (nats/token) of the unigram model fitted on `train` and evaluated on `val`,
 * with add-one smoothing: the baseline a language model must beat.
 */
export function unigramCrossEntropy(train: Int32Array, val: Int32Array, vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  for (const t of train) counts[t]++;
  const total = train.length + vocabSize;
  let nll = 0;
  for (const t of val) nll -= Math.log(counts[t] / total);
  return nll / val.length;
}
