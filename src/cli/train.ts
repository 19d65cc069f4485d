/** qkv train — a char-level GPT on the Brown corpus (or a text file), with checkpoints and resume. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArgumentError } from '../errors.js';
import { backend } from '../backend/index.js';
import { manualSeed } from '../tensor/random.js';
import { GPT } from '../models/gpt.js';
import { loadBrownCorpus } from '../data/brown.js';
import { charDatasetFromDocuments, charDatasetFromText, unigramCrossEntropy, type TextData } from '../data/text-dataset.js';
import { Trainer } from '../train/trainer.js';
import { requireTrainCheckpoint, resumeTrainer, saveCheckpoint } from '../train/checkpoint.js';
import { openCheckpoint } from '../train/open-checkpoint.js';
import { pngRenderer, toSvg } from '../lab/plot.js';
import { describeConfig, type CommandSpec, type Parsed } from './args.js';
import { Progress, fmtTime } from './progress.js';

export const spec: CommandSpec = {
  name: 'train',
  summary: 'train a char-level GPT on the Brown corpus (default) or a text file',
  usage: 'qkv train [--text FILE] [--out DIR] [--steps N] [--resume] [model and optimizer flags]',
  options: {
    text: { type: 'string', help: 'train on this UTF-8 text file instead of the Brown corpus' },
    out: { type: 'string', help: 'checkpoint folder', default: 'qkv-run' },
    resume: { type: 'boolean', help: 'continue the run in --out from its latest checkpoint', default: false },
    steps: { type: 'integer', help: 'optimizer steps', default: 300 },
    'batch-size': { type: 'integer', help: 'sequences per step', default: 16 },
    'block-size': { type: 'integer', help: 'context length', default: 64 },
    'n-layer': { type: 'integer', help: 'transformer blocks', default: 4 },
    'n-head': { type: 'integer', help: 'attention heads', default: 4 },
    'n-embd': { type: 'integer', help: 'model width', default: 128 },
    dropout: { type: 'number', help: 'dropout', default: 0 },
    attention: { type: 'string', help: 'attention storage', default: 'fused', choices: ['fused', 'separate', 'merged-qk'] },
    tie: { type: 'boolean', help: 'tie the embedding and the output layer (--no-tie to untie)', default: true },
    'post-ln': { type: 'boolean', help: 'post-LN blocks instead of pre-LN', default: false },
    lr: { type: 'number', help: 'peak learning rate', default: 2e-3 },
    'warmup-steps': { type: 'integer', help: 'linear warm-up steps', default: 20 },
    'weight-decay': { type: 'number', help: 'AdamW weight decay (≥2-D tensors)', default: 0.1 },
    'eval-interval': { type: 'integer', help: 'validate and checkpoint every N steps', default: 50 },
    'eval-batches': { type: 'integer', help: 'batches per validation', default: 20 },
    seed: { type: 'integer', help: 'random seed', default: 1337 },
  },
  details: 'Example: qkv train --steps 1000 --out runs/brown && qkv sample runs/brown --prompt "The jury"',
};

function loadData(text: string | undefined): TextData {
  if (text) {
    if (!fs.existsSync(text)) throw new ArgumentError(`--text ${text}: no such file`);
    return charDatasetFromText(fs.readFileSync(text, 'utf8'), path.resolve(text));
  }
  return charDatasetFromDocuments(loadBrownCorpus(), 'Brown corpus');
}

export function run({ values: v }: Parsed): number {
  const out = v.out as string;
  let trainer: Trainer;
  let data: TextData;
  if (v.resume) {
    const ck = openCheckpoint(out);
    requireTrainCheckpoint(ck, 'qkv train --resume');
    const source = ck.trainState!.dataSource;
    data = loadData(source === 'Brown corpus' ? undefined : source);
    trainer = resumeTrainer(ck, data);
    console.log(`qkv train — resuming ${out} at step ${trainer.step} of ${trainer.opts.steps} (backend ${backend().name})`);
  } else {
    data = loadData(v.text as string | undefined);
    manualSeed(v.seed as number);
    const model = new GPT({
      vocabSize: data.tokenizer.vocabSize, blockSize: v.blockSize as number, nLayer: v.nLayer as number, nHead: v.nHead as number,
      nEmbd: v.nEmbd as number, dropout: v.dropout as number, tieWeights: v.tie as boolean, normFirst: !(v.postLn as boolean),
      attention: v.attention as 'fused',
    });
    trainer = new Trainer(model, data, {
      steps: v.steps as number, batchSize: v.batchSize as number, lr: v.lr as number, warmupSteps: v.warmupSteps as number,
      weightDecay: v.weightDecay as number, evalInterval: v.evalInterval as number, evalBatches: v.evalBatches as number, seed: v.seed as number,
    });
    console.log(`qkv train — backend ${backend().name}\n${describeConfig(v)}`);
  }
  const unigram = unigramCrossEntropy(data.train, data.val, data.tokenizer.vocabSize);
  console.log(`data: ${data.source}: ${data.train.length} train / ${data.val.length} val characters, vocabulary ${data.tokenizer.vocabSize}; unigram baseline ${unigram.toFixed(3)} nats/char`);
  console.log(`model: ${trainer.model.numParameters()} parameters (${trainer.model.config.tieWeights ? 'tied' : 'untied'} head, ${trainer.model.config.attention} attention)`);
  const tokensPerStep = trainer.opts.batchSize * trainer.model.config.blockSize;
  const bar = new Progress(trainer.opts.steps, 'train');
  let ema = NaN;
  trainer.run({
    onStep: (r) => {
      ema = Number.isNaN(ema) ? r.loss : 0.9 * ema + 0.1 * r.loss;
      bar.update(r.step + 1, `loss ${ema.toFixed(3)} · ${Math.round(tokensPerStep / (r.ms / 1000))} tok/s`);
    },
    onEval: (e) => {
      bar.update(e.step, `loss ${ema.toFixed(3)}`, true);
      bar.done();
      console.log(`step ${e.step}: train ${e.train.toFixed(4)}, val ${e.val.toFixed(4)} nats/char (unigram ${unigram.toFixed(3)})`);
    },
    onCheckpoint: (t) => console.log(`checkpoint: ${saveCheckpoint(t, out)}`),
  });
  const svg = toSvg({
    kind: 'line', title: 'qkv train: loss', xLabel: 'step', yLabel: 'cross-entropy (nats/char)',
    series: [
      { name: 'train (per step)', x: trainer.history.map((h) => h.step), y: trainer.history.map((h) => h.loss) },
      { name: 'validation', x: trainer.evals.map((e) => e.step), y: trainer.evals.map((e) => e.val), dashed: true },
    ],
    hlines: [{ y: unigram, label: 'unigram baseline' }],
  });
  fs.writeFileSync(path.join(out, 'loss.svg'), svg);
  const png = pngRenderer().render;
  if (png) fs.writeFileSync(path.join(out, 'loss.png'), png(svg));
  const last = trainer.evals[trainer.evals.length - 1];
  const seconds = trainer.history.reduce((s, h) => s + h.ms, 0) / 1000;
  console.log(`done: val ${last.val.toFixed(4)} vs unigram ${unigram.toFixed(4)} nats/char after ${trainer.step} steps (${fmtTime(seconds)} of training); loss plot ${path.join(out, png ? 'loss.png' : 'loss.svg')}`);
  return 0;
}
