/** qkv train — a char-level GPT on the Brown corpus (or a text file), with checkpoints and resume. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { ArgumentError, TrainingError } from '../errors.js';
import { backend } from '../backend/index.js';
import { manualSeed } from '../tensor/random.js';
import { GPT } from '../models/gpt.js';
import { unigramCrossEntropy, type TextData } from '../data/text-dataset.js';
import { BROWN_CORPUS, loadTextData } from '../train/text-source.js';
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
    steps: { type: 'integer', help: 'optimizer steps', default: 300, min: 1, max: 1_000_000_000 },
    'batch-size': { type: 'integer', help: 'sequences per step', default: 16, min: 1, max: 65_536 },
    'block-size': { type: 'integer', help: 'context length', default: 64, min: 1, max: 65_536 },
    'n-layer': { type: 'integer', help: 'transformer blocks', default: 4, min: 1, max: 1024 },
    'n-head': { type: 'integer', help: 'attention heads (must divide --n-embd)', default: 4, min: 1, max: 1024 },
    'n-embd': { type: 'integer', help: 'model width', default: 128, min: 1, max: 65_536 },
    dropout: { type: 'number', help: 'dropout', default: 0, min: 0, max: 1, maxExclusive: true },
    attention: { type: 'string', help: 'attention storage', default: 'fused', choices: ['fused', 'separate', 'merged-qk'] },
    tie: { type: 'boolean', help: 'tie the embedding and the output layer (--no-tie to untie)', default: true },
    'post-ln': { type: 'boolean', help: 'post-LN blocks instead of pre-LN', default: false },
    lr: { type: 'number', help: 'peak learning rate', default: 2e-3, min: 0, minExclusive: true, max: 1 },
    'warmup-steps': { type: 'integer', help: 'linear warm-up steps', default: 20, min: 0, max: 1_000_000_000 },
    'weight-decay': { type: 'number', help: 'AdamW weight decay (≥2-D tensors)', default: 0.1, min: 0, max: 10 },
    'eval-interval': { type: 'integer', help: 'validate and checkpoint every N steps', default: 50, min: 1, max: 1_000_000_000 },
    'eval-batches': { type: 'integer', help: 'batches per validation', default: 20, min: 1, max: 1_000_000 },
    seed: { type: 'integer', help: 'random seed', default: 1337, min: 0, max: Number.MAX_SAFE_INTEGER },
    keep: { type: 'integer', help: 'checkpoints to keep: the newest N plus the best (lowest validation loss); 0 keeps all', default: 3, min: 0, max: 1_000_000 },
    'allow-invalid-utf8': { type: 'boolean', help: 'train on a --text file that is not valid UTF-8, its invalid bytes replaced by U+FFFD (otherwise an error)', default: false },
  },
  details: 'Example: qkv train --steps 1000 --out runs/brown && qkv sample runs/brown --prompt "The jury"',
};

/**
 * Refuses, before anything is allocated, a model or batch that cannot fit: parameters × 16 bytes
 * (weights, gradients, AdamW's two moments) plus the logits of one batch (B·T·V floats, three
 * copies: logits, softmax, gradient), against the machine's memory.
 */
function checkMemory(v: Parsed['values'], vocab: number): void {
  const [L, C, T, B] = [v.nLayer, v.nEmbd, v.blockSize, v.batchSize] as number[];
  const params = 12 * L * C * C + 13 * L * C + (vocab + T) * C;
  const bytes = 16 * params + 12 * B * T * vocab;
  const total = os.totalmem();
  if (bytes > total) {
    const gb = (n: number) => `${(n / 2 ** 30).toFixed(1)} GB`;
    throw new ArgumentError(`the model (--n-layer ${L} --n-embd ${C}: ${params.toExponential(2)} parameters) and a batch (--batch-size ${B} × --block-size ${T} × vocabulary ${vocab}) need at least ${gb(bytes)}, more than this machine's ${gb(total)}; use a smaller model or batch`);
  }
}

export function run({ values: v }: Parsed): number {
  const out = v.out as string;
  let trainer: Trainer;
  let data: TextData;
  if (v.resume) {
    const ck = openCheckpoint(out);
    requireTrainCheckpoint(ck, 'qkv train --resume');
    const source = ck.trainState!.dataSource;
    data = loadTextData(source, { allowInvalidUtf8: v.allowInvalidUtf8 as boolean, label: source === BROWN_CORPUS ? source : `the run's text ${source}` });
    trainer = resumeTrainer(ck, data);
    console.log(`qkv train — resuming ${out} at step ${trainer.step} of ${trainer.opts.steps} (backend ${backend().name})`);
  } else {
    data = v.text ? loadTextData(v.text as string, { allowInvalidUtf8: v.allowInvalidUtf8 as boolean, label: `--text ${v.text}` }) : loadTextData(BROWN_CORPUS);
    checkMemory(v, data.tokenizer.vocabSize);
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
  let lastCheckpoint: string | null = null;
  const keep = v.keep as number;
  try {
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
      onCheckpoint: (t) => console.log(`checkpoint: ${(lastCheckpoint = saveCheckpoint(t, out, { keep }))}`),
    });
  } catch (err) {
    if (!(err instanceof TrainingError)) throw err;
    bar.done();
    const kept = lastCheckpoint ?? (v.resume ? `the one this run resumed from, in ${out}` : null);
    throw new TrainingError(`${err.message}; ${kept ? `the last good checkpoint is ${kept}` : 'no checkpoint was written'}: lower --lr (or warm up longer) and train again`);
  }
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
