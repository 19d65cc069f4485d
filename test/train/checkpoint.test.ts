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
  const [history, ...rest] = fs.readdirSync(dir).sort();
  assert.match(history, /^history-[0-9a-f]{8}\.jsonl$/);
  assert.deepEqual(rest, ['latest', 'step-000001']);
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

/** Entries a killed save can leave: temporary step folders and temporary files. */
const TEMPORARY = /\.tmp$/;

test('a save killed at any moment leaves the latest checkpoint complete and loadable; the next save removes the leftovers', async (t) => {
  const dir = tmp();
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'save-forever.ts');
  const leftovers = new Set<string>();
  for (const delay of [30, 80, 150, 300]) {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve())); // one save done, the next under way
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const { model } = loadCheckpointModel(dir);
    assert.equal(model.config.nEmbd, 64, `after a kill at ${delay} ms the latest checkpoint loads`);
    for (const n of fs.readdirSync(dir)) if (TEMPORARY.test(n)) leftovers.add(n);
  }
  t.diagnostic(`temporaries left by the 4 killed savers: ${[...leftovers].join(', ') || 'none'}`);
  // The next save (another process's, or this one's) removes what the dead writers left.
  const next = fresh();
  next.trainStep();
  saveCheckpoint(next, dir);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => TEMPORARY.test(n)), [], 'no temporary is left after the next save');
  fs.rmSync(dir, { recursive: true });
});

test('only temporaries of writers that are gone are removed: a running writer\'s stay', async () => {
  const dir = tmp();
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => dead.once('exit', r));
  try {
    const names = {
      live: `.step-000003.${live.pid}.tmp`, dead: `.step-000003.${dead.pid}.tmp`, mine: `.step-000004.${process.pid}.tmp`,
      liveFile: `.latest.${live.pid}-0a1b2c3d.tmp`, deadFile: `.latest.${dead.pid}-0a1b2c3d.tmp`, other: '.notes.tmp',
    };
    for (const n of [names.live, names.dead, names.mine]) fs.mkdirSync(path.join(dir, n, 'inner'), { recursive: true });
    for (const n of [names.liveFile, names.deadFile, names.other]) fs.writeFileSync(path.join(dir, n), 'x');
    const t = fresh();
    t.trainStep();
    saveCheckpoint(t, dir);
    const left = fs.readdirSync(dir).filter((n) => TEMPORARY.test(n)).sort();
    // A dead PID's temporaries go; so does one with this process's PID that it is not writing (a reused PID).
    assert.deepEqual(left, [names.other, names.liveFile, names.live].sort());
  } finally {
    live.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true });
  }
});

test('--keep: a long run keeps the newest N checkpoints plus the best; the history is stored once, append-only', () => {
  const dir = tmp();
  manualSeed(7);
  const t = new Trainer(new models.GPT(modelConfig), data, { ...trainOpts, steps: 30, evalInterval: 1, evalBatches: 1 });
  let most = 0;
  const sizes: number[] = [];
  t.run({
    onCheckpoint: (tr) => {
      const folder = saveCheckpoint(tr, dir, { keep: 2 });
      const folders = fs.readdirSync(dir).filter((n) => /^step-\d+$/.test(n));
      most = Math.max(most, folders.length);
      // The best checkpoint so far (lowest validation loss) is always kept.
      const best = tr.evals.reduce((a, b) => (b.val < a.val ? b : a));
      assert.ok(folders.includes(`step-${String(best.step).padStart(6, '0')}`), `best (step ${best.step}) kept at step ${tr.step}`);
      assert.ok(folders.includes(path.basename(folder)));
      sizes.push(fs.statSync(path.join(folder, 'trainer.json')).size);
    },
  });
  assert.ok(most <= 3, `at most keep + 1 (the best) step folders at any time, saw ${most}`);
  assert.ok(most >= 2);
  // trainer.json does not grow with the run (the history is not repeated in it)…
  assert.ok(Math.max(...sizes) - Math.min(...sizes) < 64, `trainer.json sizes ${Math.min(...sizes)}–${Math.max(...sizes)} bytes`);
  // …the history file holds every record once.
  const [historyFile] = fs.readdirSync(dir).filter((n) => n.startsWith('history-'));
  const lines = fs.readFileSync(path.join(dir, historyFile), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.kind === 'step').length, 30);
  assert.equal(lines.filter((l) => l.kind === 'eval').length, 30);
  assert.deepEqual(lines.filter((l) => l.kind === 'step').map((l) => l.loss), t.history.map((h) => h.loss));
  // Resuming from it restores the whole history.
  const back = resumeTrainer(dir, data);
  assert.deepEqual(back.history, t.history);
  assert.deepEqual(back.evals, t.evals);
  fs.rmSync(dir, { recursive: true });
});

test('history lines appended by a killed save are dropped: resume reads the checkpoint\'s prefix, the next save truncates', () => {
  const dir = tmp();
  const t = fresh();
  for (let i = 0; i < 3; i++) t.trainStep();
  saveCheckpoint(t, dir);
  const [historyFile] = fs.readdirSync(dir).filter((n) => n.startsWith('history-'));
  const file = path.join(dir, historyFile);
  const good = fs.readFileSync(file);
  fs.appendFileSync(file, '{"kind":"step","step":3,"loss":9.9,"lr":0.1,"ms":1}\n{"kind":"st'); // a save killed mid-append
  const back = resumeTrainer(dir, data);
  assert.equal(back.history.length, 3);
  assert.deepEqual(back.history, t.history);
  back.trainStep();
  saveCheckpoint(back, dir);
  const now = fs.readFileSync(file);
  assert.equal(Buffer.compare(now.subarray(0, good.length), good), 0, 'the old prefix is unchanged (append-only)');
  assert.equal(now.toString().trim().split('\n').length, 4, 'the orphaned lines are gone, the new step appended');
  // A checkpoint whose history file lost bytes is an error that says so.
  fs.truncateSync(file, 10);
  assert.throws(() => resumeTrainer(dir, data), /has 10 bytes, fewer than the \d+ the checkpoint recorded/);
  fs.rmSync(dir, { recursive: true });
});

test('checkpoints of the first format (history inside trainer.json) still resume', () => {
  const dir = tmp();
  const t = fresh();
  for (let i = 0; i < 2; i++) t.trainStep();
  const folder = saveCheckpoint(t, dir);
  const json = JSON.parse(fs.readFileSync(path.join(folder, 'trainer.json'), 'utf8'));
  const v1 = { ...json, format: 'qkv-train-checkpoint/1', history: t.history, evals: t.evals };
  fs.writeFileSync(path.join(folder, 'trainer.json'), JSON.stringify(v1));
  for (const f of fs.readdirSync(dir)) if (f.startsWith('history-')) fs.rmSync(path.join(dir, f));
  const back = resumeTrainer(dir, data);
  assert.deepEqual(back.history, t.history);
  back.trainStep();
  saveCheckpoint(back, dir);
  assert.equal(resumeTrainer(dir, data).history.length, 3, 'the first save after it starts a history file');
  fs.rmSync(dir, { recursive: true });
});
