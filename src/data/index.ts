/** data: the Brown corpus, a char tokenizer, datasets and batches. */
export { loadBrownCorpus, detokenizeBrown, brownCorpusDir } from './brown.js';
export type { BrownDocument } from './brown.js';
export { CharTokenizer } from './char-tokenizer.js';
export { charDatasetFromDocuments, charDatasetFromText, getBatch, unigramCrossEntropy } from './text-dataset.js';
export type { TextData } from './text-dataset.js';
