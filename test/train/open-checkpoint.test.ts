/**
 * openCheckpoint tells every checkpoint kind apart and returns config, weights, tokenizer and
 * metadata; nanoGPT torch.save checkpoints; what it does not open (Hugging Face folders, bare weights without a
 * config, incomplete run folders, other files) is a CheckpointError that says what the path is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointError, SafetensorsError, TorchLoadError, manualSeed, models, randint, tensor } from '../../src/index.js';
import { charDatasetFromText } from '../../src/data/index.js';
import { Trainer, exportToPyTorch, saveCheckpoint, openCheckpoint, detectCheckpoint, modelFromCheckpoint } from '../../src/train/index.js';
import { assertClose } from '../helpers/assert.js';

const data = charDatasetFromText('open the checkpoint, whatever it is. '.repeat(40), 'test text');
const config = { vocabSize: data.tokenizer.vocabSize, blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 };
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-open-'));
test.after(() => fs.rmSync(root, { recursive: true, force: true }));

manualSeed(11);
const model = new models.GPT(config);
const trainer = new Trainer(model, data, { steps: 4, batchSize: 2 });
trainer.trainStep();
const run = path.join(root, 'run');
const stepFolder = saveCheckpoint(trainer, run);
const exported = path.join(root, 'export');
exportToPyTorch(exported, model, { trainer });
const idx = randint(data.tokenizer.vocabSize, [1, 8]);
const want = model.eval().forward(idx).logits;

function refuses(p: string, message: RegExp, opts?: Parameters<typeof openCheckpoint>[1]): void {
  assert.throws(() => openCheckpoint(p, opts), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected a CheckpointError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

test('a qkv train run folder, and its step folder: config, weights, tokenizer, metadata, trainer state', () => {
  for (const [p, kind] of [[run, 'train-run'], [stepFolder, 'train-step']] as const) {
    const ck = openCheckpoint(p);
    assert.equal(ck.kind, kind);
    assert.equal(ck.stepFolder, stepFolder);
    assert.equal(ck.weightsFile, path.join(stepFolder, 'model.safetensors'));
    assert.equal(ck.config.nEmbd, 16);
    assert.equal(ck.tokenizer!.decode(ck.tokenizer!.encode('open')), 'open');
    assert.equal(ck.trainState!.step, 1);
    assert.equal(ck.metadata['qkv.ties'], JSON.stringify({ 'lm_head.weight': 'transformer.wte.weight' }));
    assert.ok('transformer.wte.weight' in ck.weights && 'lm_head.weight' in ck.weights);
    assertClose(modelFromCheckpoint(ck).eval().forward(idx).logits, want, { rtol: 0, atol: 0 }, `${kind} logits`);
  }
});

test('an export folder: config.json + model.safetensors', () => {
  const ck = openCheckpoint(exported);
  assert.equal(ck.kind, 'export');
  assert.equal(ck.exportConfig!.step, 1);
  assert.equal(ck.trainState, null);
  assert.ok(ck.tokenizer);
  assertClose(modelFromCheckpoint(ck).eval().forward(idx).logits, want, { rtol: 0, atol: 0 }, 'export logits');
});

test('a bare .safetensors file needs a config; with one (object or JSON file) it opens', () => {
  const file = path.join(exported, 'model.safetensors');
  refuses(file, /model\.safetensors is a bare safetensors file: weights without a model config; pass the config/);
  assert.equal(detectCheckpoint(file).kind, 'safetensors');
  const ck = openCheckpoint(file, { config });
  assert.equal(ck.kind, 'safetensors');
  assert.equal(ck.tokenizer, null);
  assertClose(modelFromCheckpoint(ck).eval().forward(idx).logits, want, { rtol: 0, atol: 0 }, 'bare file logits');
  // The export's config.json as --model brings its tokenizer along.
  const withCfg = openCheckpoint(file, { config: path.join(exported, 'config.json') });
  assert.ok(withCfg.tokenizer);
  const bad = path.join(root, 'bad-config.json');
  fs.writeFileSync(bad, JSON.stringify({ vocabSize: 10, blockSize: 8, nLayer: 1, nHead: 2 }));
  refuses(file, /bad-config\.json: the model config needs nEmbd \(a positive integer\), got null/, { config: bad });
  const weightsOnly = path.join(root, 'weights-only');
  fs.mkdirSync(weightsOnly);
  fs.copyFileSync(file, path.join(weightsOnly, 'model.safetensors'));
  refuses(weightsOnly, /weights-only holds model\.safetensors but no config\.json or trainer\.json: weights without a model config/);
});

test('a Hugging Face model folder is named as such (not yet supported)', () => {
  const hf = path.join(root, 'gpt2');
  fs.mkdirSync(hf);
  fs.writeFileSync(path.join(hf, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_head: 12 }));
  fs.copyFileSync(path.join(exported, 'model.safetensors'), path.join(hf, 'model.safetensors'));
  refuses(hf, /gpt2 is a Hugging Face model folder \(model_type "gpt2", weights in model\.safetensors\); qkv does not open Hugging Face folders as checkpoints yet/);
});

/** A minimal zip local file header naming `name` (what torch.save writes first). */
function zipHead(name: string): Uint8Array {
  const h = new Uint8Array(30 + name.length + 16);
  h.set([0x50, 0x4b, 0x03, 0x04]);
  new DataView(h.buffer).setUint16(26, name.length, true);
  h.set(new TextEncoder().encode(name), 30);
  return h;
}

test("torch.save files: nanoGPT's ckpt.pt opens with its model_args and meta.pkl; others are named", () => {
  const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'torch');
  for (const name of ['nanogpt-ckpt.pt', 'nanogpt-compiled-ckpt.pt']) {
    const ck = openCheckpoint(path.join(fixtures, name));
    assert.equal(ck.kind, 'torch');
    assert.deepEqual([ck.config.vocabSize, ck.config.blockSize, ck.config.nLayer, ck.config.nHead, ck.config.nEmbd], [13, 8, 2, 2, 8]);
    assert.equal(ck.tokenizer!.decode(ck.tokenizer!.encode('hello, world!')), 'hello, world!'); // meta.pkl next to the file
    const model = modelFromCheckpoint(ck);
    const reference = models.loadNanoGPT(path.join(fixtures, name));
    const idx = tensor([[1, 5, 7, 2]], { dtype: 'int64' });
    assert.ok(model.eval().forward(idx).logits.allclose(reference.eval().forward(idx).logits));
    assert.equal(model.config.tieWeights, true);
  }
  // Not a nanoGPT checkpoint: named, with the way out.
  refuses(path.join(fixtures, 'shared.pt'), /shared\.pt: a torch\.save file that is not a nanoGPT checkpoint \(no model and model_args; it holds tied, base/);
  // A folder holding one: pass the file.
  const nano = path.join(root, 'nanogpt-out');
  fs.mkdirSync(nano);
  fs.copyFileSync(path.join(fixtures, 'nanogpt-ckpt.pt'), path.join(nano, 'ckpt.pt'));
  refuses(nano, /nanogpt-out: a folder holding the torch\.save file ckpt\.pt: pass the file itself/);
  // Without meta.pkl there is no tokenizer (nanoGPT would use GPT-2's BPE).
  assert.equal(openCheckpoint(path.join(nano, 'ckpt.pt')).tokenizer, null);
  // A file that only looks like one: the torch reader's typed error names it.
  const fake = path.join(root, 'ckpt.pt');
  fs.writeFileSync(fake, zipHead('ckpt/data.pkl'));
  assert.throws(() => openCheckpoint(fake), (e: Error) => e instanceof TorchLoadError && /ckpt\.pt/.test(e.message));
});

test('everything else is refused with what it is', () => {
  refuses(path.join(root, 'nope'), /nope: no such file or folder; expected a `qkv train` folder/);
  const empty = path.join(root, 'empty');
  fs.mkdirSync(empty);
  refuses(empty, /empty: not a checkpoint \(no latest, trainer\.json, config\.json or model\.safetensors in it\)/);
  const text = path.join(root, 'notes.txt');
  fs.writeFileSync(text, 'hello\n');
  refuses(text, /notes\.txt: this is a text file \(it starts "hello"\); expected a `qkv train` folder/);
  refuses(path.join(stepFolder, 'trainer.json'), /trainer\.json is part of a checkpoint: pass the folder it is in/);
  const other = path.join(root, 'other-config');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'config.json'), '{"format":"something/9"}');
  refuses(other, /other-config\/config\.json is not a qkv export config \(its format is "something\/9"/);
  fs.writeFileSync(path.join(other, 'config.json'), '{not json');
  refuses(other, /config\.json: the config is not valid JSON/);
});

test('an incomplete run folder: latest naming a missing or partial step folder', () => {
  const broken = path.join(root, 'broken');
  fs.mkdirSync(broken);
  fs.writeFileSync(path.join(broken, 'latest'), 'step-000009\n');
  refuses(broken, /latest names step-000009, which does not exist/);
  fs.mkdirSync(path.join(broken, 'step-000009'));
  fs.writeFileSync(path.join(broken, 'step-000009', 'trainer.json'), '{}');
  refuses(broken, /step-000009: .*latest names it, but it has no model\.safetensors \(an incomplete checkpoint\)/);
  fs.writeFileSync(path.join(broken, 'latest'), '../../etc\n');
  refuses(broken, /latest names "\.\.\/\.\.\/etc", not a step-NNNNNN folder/);
});

test('the weights file is read by the strict safetensors reader (a corrupt file is a SafetensorsError)', () => {
  const corrupt = path.join(root, 'corrupt');
  fs.cpSync(exported, corrupt, { recursive: true });
  const file = path.join(corrupt, 'model.safetensors');
  fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 100));
  assert.throws(() => openCheckpoint(corrupt), SafetensorsError);
});
