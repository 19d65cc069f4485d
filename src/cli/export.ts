/** qkv export — hand a trained model to PyTorch (scale-out with torchrun). */
import { ArgumentError, CheckpointError } from '../errors.js';
import { loadBrownCorpus } from '../data/brown.js';
import { charDatasetFromDocuments, charDatasetFromText } from '../data/text-dataset.js';
import * as fs from 'node:fs';
import { requireTrainCheckpoint, resumeTrainer } from '../train/checkpoint.js';
import { openCheckpoint } from '../train/open-checkpoint.js';
import { exportToPyTorch } from '../train/export.js';
import type { CommandSpec, Parsed } from './args.js';

export const spec: CommandSpec = {
  name: 'export',
  summary: 'export a training checkpoint for PyTorch: weights, config, optimizer state, data and a train.py for torchrun',
  usage: 'qkv export --to pytorch DIR [--checkpoint CKPT]',
  options: {
    to: { type: 'string', help: 'target framework', choices: ['pytorch'] },
    checkpoint: { type: 'string', help: 'the qkv train folder to export', default: 'qkv-run' },
  },
  details: 'Then: cd DIR && torchrun --nproc_per_node 8 train.py --steps 1000 (add --fsdp for sharding); the trained model in DIR/trained loads back with qkv sample DIR/trained.',
};

export function run({ positionals, values: v }: Parsed): number {
  if (v.to !== 'pytorch') throw new ArgumentError('--to pytorch is required (the only target)');
  if (positionals.length !== 1) throw new ArgumentError('expected the output folder: qkv export --to pytorch DIR');
  const ckpt = v.checkpoint as string;
  const ck = openCheckpoint(ckpt);
  requireTrainCheckpoint(ck, 'qkv export --checkpoint');
  const src = ck.trainState!.dataSource;
  const data = src === 'Brown corpus' ? charDatasetFromDocuments(loadBrownCorpus(), src) : fs.existsSync(src) ? charDatasetFromText(fs.readFileSync(src, 'utf8'), src) : null;
  if (!data) throw new CheckpointError(`${ckpt} was trained on ${src}, which is not readable here; export needs the same text`);
  const trainer = resumeTrainer(ck, data);
  const files = exportToPyTorch(positionals[0], trainer.model, { trainer });
  console.log(`exported step ${trainer.step} of ${ckpt} to ${positionals[0]}: ${files.join(', ')}`);
  console.log(`next: cd ${positionals[0]} && torchrun --nproc_per_node 2 train.py --steps 100   (one process: python3 train.py)`);
  return 0;
}
