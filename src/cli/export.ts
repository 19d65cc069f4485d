/** qkv export — hand a trained model to PyTorch (scale-out with torchrun). */
import { ArgumentError, CheckpointError } from '../errors.js';
import * as fs from 'node:fs';
import { requireTrainCheckpoint, resumeTrainer } from '../train/checkpoint.js';
import { openCheckpoint } from '../train/open-checkpoint.js';
import { BROWN_CORPUS, loadTextData } from '../train/text-source.js';
import { exportToPyTorch } from '../train/export.js';
import { detectTorch, scaleOutCommands } from '../train/torch-env.js';
import type { CommandSpec, Parsed } from './args.js';

export const spec: CommandSpec = {
  name: 'export',
  summary: 'export a training checkpoint for PyTorch: weights, config, optimizer state, data and a train.py for torchrun',
  usage: 'qkv export --to pytorch DIR [--checkpoint CKPT]',
  options: {
    to: { type: 'string', help: 'target framework', choices: ['pytorch'] },
    checkpoint: { type: 'string', help: 'the qkv train folder to export', default: 'qkv-run' },
    'allow-invalid-utf8': { type: 'boolean', help: 'the run was trained with --allow-invalid-utf8 (its text is not valid UTF-8)', default: false },
  },
  details: 'It ends by printing the commands that continue training with the PyTorch found here (torchrun, DDP; add --fsdp to shard), as they work with that version (torch 1.13 under Python 3.11 needs torchrun --redirects 2 --tee 2). The trained model in DIR/trained loads back with qkv sample DIR/trained.',
};

export function run({ positionals, values: v }: Parsed): number {
  if (v.to !== 'pytorch') throw new ArgumentError('--to pytorch is required (the only target)');
  if (positionals.length !== 1) throw new ArgumentError('expected the output folder: qkv export --to pytorch DIR');
  const ckpt = v.checkpoint as string;
  const ck = openCheckpoint(ckpt);
  requireTrainCheckpoint(ck, 'qkv export --checkpoint');
  const src = ck.trainState!.dataSource;
  if (src !== BROWN_CORPUS && !fs.existsSync(src)) throw new CheckpointError(`${ckpt} was trained on ${src}, which is not readable here; export needs the same text`);
  const data = loadTextData(src, { allowInvalidUtf8: v.allowInvalidUtf8 as boolean, label: `the run's text ${src}` });
  const trainer = resumeTrainer(ck, data);
  const files = exportToPyTorch(positionals[0], trainer.model, { trainer });
  console.log(`exported step ${trainer.step} of ${ckpt} to ${positionals[0]}: ${files.join(', ')}`);
  const cmd = scaleOutCommands(positionals[0], detectTorch());
  console.log(`next, 2 processes: ${cmd.multi}`);
  console.log(`one process:       ${cmd.single}`);
  console.log(`(${cmd.note})`);
  return 0;
}
