/**
 * qkv doctor flags a checkpoint made with randn attention init and one with a degenerate
 * LayerNorm, and passes a healthy one; it also catches a silently untied head and a layout
 * that does not match the weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { manualSeed, models, randn, saveModule } from '../../src/index.js';
import { charDatasetFromText } from '../../src/data/index.js';
import { Trainer, saveCheckpoint } from '../../src/train/index.js';
import { diagnose, type Finding } from '../../src/inspect/diagnostics.js';
import { loadForDoctor } from '../../src/train/doctor-target.js';

const data = charDatasetFromText('doctor, doctor, give me the news. '.repeat(30), 'song');
const base = { vocabSize: data.tokenizer.vocabSize, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32 };

function checkpoint(config: models.GPTConfig, edit?: (g: models.GPT) => void): string {
  manualSeed(3);
  const g = new models.GPT(config);
  edit?.(g);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-doc-'));
  saveCheckpoint(new Trainer(g, data, { steps: 1, batchSize: 2 }), dir);
  return dir;
}

const examine = (dir: string): Finding[] => {
  const { model, metadata, findings } = loadForDoctor(dir, undefined, 0);
  return [...diagnose(model, { metadata }), ...findings];
};
const status = (fs: Finding[], check: string) => fs.find((f) => f.check === check)?.status;

test('a healthy checkpoint passes every check', () => {
  const f = examine(checkpoint(base));
  assert.deepEqual(f.filter((x) => x.status === 'fail'), []);
  for (const c of ['NaN/Inf', 'init scale', 'attention', 'LayerNorm', 'QKV layout', 'tying']) assert.equal(status(f, c), 'ok', c);
});

test('randn attention init is flagged: init scale and saturated attention', () => {
  const f = examine(checkpoint(base, (g) => {
    for (const b of g.blocks) {
      b.attn.W_Q = randn([2, 32, 16]);
      b.attn.W_K = randn([2, 32, 16]);
      b.attn.W_V = randn([2, 32, 16]);
    }
  }));
  assert.equal(status(f, 'init scale'), 'fail');
  assert.match(f.find((x) => x.check === 'init scale')!.message, /what randn \(std 1\) init looks like/);
  assert.equal(status(f, 'attention'), 'fail');
  assert.match(f.find((x) => x.check === 'attention')!.message, /saturated/);
});

test('a degenerate LayerNorm (d_model 2, post-LN) is flagged', () => {
  const f = examine(checkpoint({ ...base, nEmbd: 2, nHead: 1, normFirst: false }));
  assert.equal(status(f, 'LayerNorm'), 'fail');
  assert.match(f.find((x) => x.check === 'LayerNorm')!.message, /±\(1, −1\).*post-LN/);
});

test('a silently untied head, duplicated copies, a layout mismatch and NaN weights are flagged', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-doc-'));
  manualSeed(4);
  const untied = new models.GPT({ ...base, tieWeights: false });
  saveModule(path.join(dir, 'model.safetensors'), untied, { ...untied.checkpointMetadata(), 'qkv.layout': 'head-interleaved' });
  fs.writeFileSync(path.join(dir, 'tied.json'), JSON.stringify(base)); // claims tied and blocked
  const { model, metadata, findings } = loadForDoctor(path.join(dir, 'model.safetensors'), path.join(dir, 'tied.json'), 0);
  assert.equal(findings[0].check, 'tying (file)');
  assert.equal(findings[0].status, 'fail');
  assert.equal(status(diagnose(model, { metadata }), 'QKV layout'), 'fail');
  const dup = new models.GPT({ ...base, tieWeights: false });
  dup.lm_head.weight.requiresGrad_(false).copy_(dup.wte.weight);
  assert.equal(status(diagnose(dup), 'tying'), 'warn');
  const sick = new models.GPT(base);
  sick.lnF.weight!.requiresGrad_(false).fill_(NaN);
  assert.equal(status(diagnose(sick), 'NaN/Inf'), 'fail');
  fs.rmSync(dir, { recursive: true });
});
