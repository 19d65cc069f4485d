// Helper for checkpoint.test.ts: saves checkpoints of a mid-size model in a loop until killed.
import { manualSeed, models } from '../../src/index.js';
import { charDatasetFromText } from '../../src/data/index.js';
import { Trainer, saveCheckpoint } from '../../src/train/index.js';

const dir = process.argv[2];
const data = charDatasetFromText('abcdefghijklmnopqrstuvwxyz '.repeat(50), 'letters');
manualSeed(0);
const t = new Trainer(new models.GPT({ vocabSize: data.tokenizer.vocabSize, blockSize: 16, nLayer: 4, nHead: 4, nEmbd: 64 }), data, { steps: 1000, batchSize: 2 });
t.step = 1;
saveCheckpoint(t, dir);
process.stdout.write('saved once\n');
for (;;) {
  t.step++;
  saveCheckpoint(t, dir);
}
