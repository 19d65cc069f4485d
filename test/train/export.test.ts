/**
 * Scale-out to PyTorch: the exported folder rebuilds the same model in PyTorch (same logits), its
 * train.py trains under torchrun with 2 processes (DDP on CPU), and the result imports back.
 * The PyTorch parts need python3-torch and are skipped without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { io, manualSeed, models, randint } from '../../src/index.js';
import { charDatasetFromText } from '../../src/data/index.js';
import { Trainer, exportToPyTorch, importFromPyTorch, scaleOutCommands, shellQuote, detectTorch } from '../../src/train/index.js';
import type { GPTConfig } from '../../src/models/gpt.js';
import { assertClose } from '../helpers/assert.js';
import { PYTHON, hasTorch } from '../helpers/torch.js';

const data = charDatasetFromText('a small text to train on, exported to pytorch and back. '.repeat(60), 'test text');
const noTorch = !hasTorch() && 'python3-torch is not installed';

function exported(extra: Partial<GPTConfig>, steps = 2): { dir: string; model: models.GPT } {
  manualSeed(5);
  const model = new models.GPT({ vocabSize: data.tokenizer.vocabSize, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 16, ...extra });
  const trainer = new Trainer(model, data, { steps: 50, batchSize: 4 });
  for (let i = 0; i < steps; i++) trainer.trainStep();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-export-'));
  exportToPyTorch(dir, model, { trainer });
  return { dir, model };
}

function pytorchLogits(script: string, from: string, idx: ReturnType<typeof randint>): ReturnType<typeof randint> {
  const inFile = path.join(from, 'idx.safetensors'), outFile = path.join(from, 'pt-logits.safetensors');
  io.saveFile(inFile, { idx });
  const r = spawnSync(PYTHON, [script, '--from', from, '--logits', inFile, outFile], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return io.loadFile(outFile).tensors.logits;
}

test('the export folder holds the model, config, optimizer state, data and train.py, and imports back', () => {
  const { dir, model } = exported({});
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'data.safetensors', 'model.safetensors', 'optimizer.safetensors', 'train.py']);
  const back = importFromPyTorch(dir);
  assert.equal(back.config.step, 2);
  assert.equal(back.tokenizer!.decode(back.tokenizer!.encode('pytorch')), 'pytorch');
  const idx = randint(data.tokenizer.vocabSize, [2, 16]);
  assertClose(back.model.eval().forward(idx).logits, model.eval().forward(idx).logits, { rtol: 0, atol: 0 }, 'round trip');
  assert.throws(() => importFromPyTorch(dir + '-missing'), /no such file or folder/);
  fs.rmSync(dir, { recursive: true });
});

for (const [name, extra] of [
  ['nanoGPT-style, tied', {}],
  ['merged-qk storage, post-LN, no bias', { attention: 'merged-qk', normFirst: false, bias: false }],
  ['NeoX-style: rotary, parallel residual, interleaved, untied', { positional: 'rotary', rotaryPct: 0.5, parallelResidual: true, layout: 'head-interleaved', tieWeights: false, activation: 'gelu_tanh' }],
] as const) {
  test(`train.py rebuilds the same model in PyTorch: ${name}`, { skip: noTorch }, () => {
    const { dir, model } = exported(extra as Partial<GPTConfig>);
    const idx = randint(data.tokenizer.vocabSize, [2, 16]);
    const pt = pytorchLogits(path.join(dir, 'train.py'), dir, idx);
    assertClose(pt, model.eval().forward(idx).logits, { rtol: 1e-4, atol: 1e-5 }, `${name} logits`);
    fs.rmSync(dir, { recursive: true });
  });
}

test('train.py continues training under torchrun --nproc_per_node 2 (DDP, CPU) and the result imports back', { skip: noTorch }, () => {
  const { dir } = exported({}, 3);
  const out = path.join(dir, 'trained');
  // --redirects/--tee work around torch 1.13's torchrun under Python 3.11 (see train.py).
  const r = spawnSync('torchrun', ['--redirects', '2', '--tee', '2', '--nproc_per_node', '2', path.join(dir, 'train.py'), '--steps', '3', '--batch-size', '2', '--out', out], { encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /step 3: loss [\d.]+/);
  assert.match(r.stdout, /step 5: loss [\d.]+/);
  const back = importFromPyTorch(out);
  assert.equal(back.config.step, 6);
  // The model trained in PyTorch, imported into qkv, computes what PyTorch computes.
  const idx = randint(data.tokenizer.vocabSize, [1, 16]);
  const pt = pytorchLogits(path.join(dir, 'train.py'), out, idx);
  assertClose(back.model.eval().forward(idx).logits, pt, { rtol: 1e-4, atol: 1e-5 }, 'imported logits');
  // …and it did change: not the exported weights.
  const before = importFromPyTorch(dir).model.eval().forward(idx).logits;
  assert.ok(before.sub(pt).abs().max().item() > 1e-4);
  fs.rmSync(dir, { recursive: true });
});

test('scale-out commands: the torchrun workaround only where the torch found needs it; paths quoted for the shell', () => {
  const env = { python: '/usr/bin/python3.11', torchrun: 'torchrun', torchVersion: '1.13.0', pythonVersion: '3.11.2', needsStdWorkaround: true };
  const c = scaleOutCommands('/tmp/my export', env);
  assert.equal(c.multi, "cd '/tmp/my export' && torchrun --redirects 2 --tee 2 --nproc_per_node 2 train.py --steps 100");
  assert.equal(c.single, "cd '/tmp/my export' && /usr/bin/python3.11 train.py --steps 100");
  assert.match(c.note, /PyTorch 1\.13\.0 under Python 3\.11\.2/);
  const fixed = scaleOutCommands('out', { ...env, needsStdWorkaround: false, torchrun: null, python: 'python3' }, { nproc: 8, steps: 5 });
  assert.equal(fixed.multi, 'cd out && python3 -m torch.distributed.run --nproc_per_node 8 train.py --steps 5');
  assert.match(scaleOutCommands('out', null).note, /PyTorch was not found here/);
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});

test('detectTorch asks the installed torch whether torchrun loses its defaults (torch 1.13 under Python 3.11)', { skip: noTorch }, () => {
  const env = detectTorch()!;
  assert.ok(env, 'torch is found');
  const r = spawnSync(env.python, ['-c', 'import sys, torch; print(torch.__version__, sys.version_info[1])'], { encoding: 'utf8' });
  const [version, minor] = r.stdout.trim().split(' ');
  assert.equal(env.torchVersion, version);
  if (version.startsWith('1.13') && Number(minor) >= 11) assert.equal(env.needsStdWorkaround, true);
});
