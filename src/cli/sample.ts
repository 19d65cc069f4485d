/** qkv sample — generate text from a training checkpoint or an exported folder. */
import { ArgumentError, CheckpointError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { modelFromCheckpoint, openCheckpoint } from '../train/open-checkpoint.js';
import type { CommandSpec, Parsed } from './args.js';

export const spec: CommandSpec = {
  name: 'sample',
  summary: 'generate text from a checkpoint (qkv train) or an export folder (qkv export / train.py)',
  usage: 'qkv sample CHECKPOINT [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed N]',
  options: {
    prompt: { type: 'string', help: 'text to continue', default: 'The ' },
    tokens: { type: 'integer', help: 'characters to generate', default: 300, min: 1, max: 100_000 },
    temperature: { type: 'number', help: '0 = greedy', default: 0.8, min: 0, max: 100 },
    'top-k': { type: 'integer', help: 'sample among the k most likely', default: 40, min: 1, max: 1_000_000 },
    seed: { type: 'integer', help: 'sampling seed', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER },
  },
};

export function run({ positionals, values: v }: Parsed): number {
  if (positionals.length !== 1) throw new ArgumentError('expected one checkpoint folder: qkv sample CHECKPOINT');
  const ck = openCheckpoint(positionals[0]);
  const tokenizer = ck.tokenizer;
  if (!tokenizer) throw new CheckpointError(`${positionals[0]}: the ${ck.kind === 'export' ? 'export was written without data, so it has' : 'checkpoint has'} no tokenizer to encode the prompt`);
  const model = modelFromCheckpoint(ck);
  const prompt = tokenizer.encode(v.prompt as string);
  if (prompt.length === 0) throw new ArgumentError('--prompt must not be empty');
  const idx = Tensor.fromTypedArray(Float64Array.from(prompt), [1, prompt.length], 'int64');
  const out = model.eval().generate(idx, v.tokens as number, {
    temperature: v.temperature as number, topK: v.topK as number, generator: new Generator(v.seed as number),
  });
  console.log(tokenizer.decode(out.toFlat()));
  return 0;
}
