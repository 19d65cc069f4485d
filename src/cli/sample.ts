/** qkv sample — generate text from a training checkpoint or an exported folder. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { loadCheckpointModel } from '../train/checkpoint.js';
import { importFromPyTorch } from '../train/export.js';
import type { GPT } from '../models/gpt.js';
import type { CharTokenizer } from '../data/char-tokenizer.js';
import type { CommandSpec, Parsed } from './args.js';

export const spec: CommandSpec = {
  name: 'sample',
  summary: 'generate text from a checkpoint (qkv train) or an export folder (qkv export / train.py)',
  usage: 'qkv sample CHECKPOINT [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed N]',
  options: {
    prompt: { type: 'string', help: 'text to continue', default: 'The ' },
    tokens: { type: 'integer', help: 'characters to generate', default: 300 },
    temperature: { type: 'number', help: '0 = greedy', default: 0.8 },
    'top-k': { type: 'integer', help: 'sample among the k most likely', default: 40 },
    seed: { type: 'integer', help: 'sampling seed', default: 0 },
  },
};

export function loadForSampling(where: string): { model: GPT; tokenizer: CharTokenizer } {
  if (!fs.existsSync(where)) throw new ArgumentError(`${where}: no such checkpoint folder; pass the --out folder of qkv train, or an export folder`);
  if (fs.existsSync(path.join(where, 'latest')) || fs.existsSync(path.join(where, 'trainer.json'))) return loadCheckpointModel(where);
  const { model, tokenizer } = importFromPyTorch(where);
  if (!tokenizer) throw new ArgumentError(`${where}: the export has no tokenizer (it was exported without data)`);
  return { model, tokenizer };
}

export function run({ positionals, values: v }: Parsed): number {
  if (positionals.length !== 1) throw new ArgumentError('expected one checkpoint folder: qkv sample CHECKPOINT');
  const { model, tokenizer } = loadForSampling(positionals[0]);
  const prompt = tokenizer.encode(v.prompt as string);
  if (prompt.length === 0) throw new ArgumentError('--prompt must not be empty');
  const idx = Tensor.fromTypedArray(Float64Array.from(prompt), [1, prompt.length], 'int64');
  const out = model.eval().generate(idx, v.tokens as number, {
    temperature: v.temperature as number, topK: v.topK as number, generator: new Generator(v.seed as number),
  });
  console.log(tokenizer.decode(out.toFlat()));
  return 0;
}
