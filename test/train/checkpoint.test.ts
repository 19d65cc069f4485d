/**
 * Training checkpoints: a run interrupted and resumed from its checkpoint produces a loss curve
 * bit-identical to an uninterrupted one; a killed save never damages the latest checkpoint;
 * models save and load with their ties.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { manualSeed, models, tensor } from '../../src/index.js';
import { charDatasetFromText } from '../../src/data/index.js';
import { Trainer, saveCheckpoint, resumeTrainer, loadCheckpointModel, latestCheckpoint } from '../../src/train/index.js';
import { saveModule, loadModule } from '../../src/nn/serialization.js';
import { loadFile } from '../../src/io/files.js';
import { assertClose } from '../helpers/assert.js';

const text = 'the quick brown fox jumps over the lazy dog. '.repeat(40) + 'pack my box with five dozen liquor jugs! '.repeat(40);
const data = charDatasetFromText(text, 'pangrams');
const modelConfig = { vocabSize: data.tokenizer.vocabSize, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16, dropout: 0.1 };
const trainOpts = { steps: 8, batchSize: 4, evalInterval: 4, evalBatches: 2, warmupSteps: 2, lr: 3e-3 };
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-ckpt-'));

function fresh(): Trainer {
  manualSeed(42);
  return new Trainer(new models.GPT(modelConfig), data, trainOpts);
}

test('resume continues bit for bit: the loss curve equals the uninterrupted run', () => {
  const full = fresh();
  full.run();
  const reference = full.history.map((r) => r.loss);

  const dir = tmp();
  const first = fresh();
  for (let i = 0; i < 5; i++) first.trainStep();
  saveCheckpoint(first, dir);
  manualSeed(999); // disturb the global stream: resume must restore it (dropout draws from it)
  for (let i = 0; i < 3; i++) first.trainStep(); // work after the checkpoint is lost in a crash
  const resumed = resumeTrainer(dir, data);
  assert.equal(resumed.step, 5);
  resumed.run();
  // (The uninterrupted run also evaluated at step 4 and the interrupted one did not: evaluation
  // draws from its own generator and leaves the training streams alone.)
  assert.deepEqual(resumed.history.map((r) => r.loss), reference);
  assert.deepEqual(resumed.evals.at(-1), full.evals.at(-1));
  assert.equal(full.evals.length, 2);
  for (const [k, t] of Object.entries(full.model.stateDict())) assertClose(resumed.model.stateDict()[k], t, { rtol: 0, atol: 0 }, k);
  fs.rmSync(dir, { recursive: true });
});

test('checkpoint layout: latest → step folder with model, optimizer and trainer.json; the tie is stored once', () => {
  const dir = tmp();
  const t = fresh();
  t.trainStep();
  const folder = saveCheckpoint(t, dir);
  assert.equal(latestCheckpoint(dir), folder);
  assert.deepEqual(fs.readdirSync(folder).sort(), ['model.safetensors', 'optimizer.safetensors', 'trainer.json']);
  const { tensors, metadata } = loadFile(path.join(folder, 'model.safetensors'));
  assert.equal(JSON.parse(metadata['qkv.ties'])['lm_head.weight'], 'transformer.wte.weight');
  assert.equal(tensors['lm_head.weight'].storage, tensors['transformer.wte.weight'].storage);
  const { model } = loadCheckpointModel(dir);
  assert.equal(model.lm_head.weight, model.wte.weight);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['latest', 'step-000001']);
  fs.rmSync(dir, { recursive: true });
});

test('saveModule/loadModule keep a GPT tie, and re-tie an untied module from the file', () => {
  manualSeed(1);
  const g = new models.GPT({ vocabSize: 12, blockSize: 8, nLayer: 1, nHead: 1, nEmbd: 8 });
  const dir = tmp();
  const file = path.join(dir, 'gpt.safetensors');
  saveModule(file, g);
  const bytes = fs.readFileSync(file);
  const dataBytes = bytes.length - 8 - Number(bytes.readBigUInt64LE(0));
  assert.equal(dataBytes, 4 * g.numParameters(), 'the tied matrix is written once');
  const untied = new models.GPT({ vocabSize: 12, blockSize: 8, nLayer: 1, nHead: 1, nEmbd: 8, tieWeights: false });
  const r = loadModule(untied, file);
  assert.deepEqual(r.retied, ['lm_head.weight → transformer.wte.weight']);
  assert.equal(untied.lm_head.weight, untied.wte.weight);
  assert.equal(untied.numParameters(), g.numParameters());
  const idx = tensor([[1, 2, 3]], { dtype: 'int64' });
  assertClose(untied.forward(idx).logits, g.forward(idx).logits, { rtol: 0, atol: 0 }, 'same logits');
  fs.rmSync(dir, { recursive: true });
});

test('a save killed at any moment leaves the latest checkpoint complete and loadable', async () => {
  const dir = tmp();
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'save-forever.ts');
  for (const delay of [30, 80, 150, 300]) {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve())); // one save done, the next under way
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const { model } = loadCheckpointModel(dir);
    assert.equal(model.config.nEmbd, 64, `after a kill at ${delay} ms the latest checkpoint loads`);
  }
  fs.rmSync(dir, { recursive: true });
});
