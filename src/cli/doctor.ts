/** qkv doctor — diagnostics with a verdict per finding, for a checkpoint or a model config. */
import { ArgumentError } from '../errors.js';
import { loadForDoctor } from '../train/doctor-target.js';
import { diagnose, type Finding } from '../inspect/diagnostics.js';
import type { CommandSpec, Parsed } from './args.js';

export const spec: CommandSpec = {
  name: 'doctor',
  summary: 'diagnose a checkpoint or a model config: backend, init scale, attention saturation, LayerNorm collapse, QKV layout, tying, NaN/Inf',
  usage: 'qkv doctor [CHECKPOINT | WEIGHTS.safetensors --model CONFIG.json | --model CONFIG.json]',
  options: {
    model: { type: 'string', help: 'a GPT config (JSON: vocabSize, blockSize, nLayer, nHead, nEmbd, …); alone: diagnose a fresh model at init' },
    seed: { type: 'integer', help: 'seed for the init and the random probe tokens', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER },
  },
  details: 'CHECKPOINT is a `qkv train` folder, a step-NNNNNN folder, an export folder, or a .safetensors file with --model. Exit code 1 when any check fails.',
};

const MARK: Record<Finding['status'], string> = { ok: '✓', info: '·', warn: '!', fail: '✗' };

export function run({ positionals, values: v }: Parsed): number {
  if (positionals.length > 1) throw new ArgumentError('expected at most one checkpoint');
  const { model, metadata, findings, what } = loadForDoctor(positionals[0], v.model as string | undefined, v.seed as number);
  console.log(`qkv doctor — ${what}\n`);
  const all = [...diagnose(model, { metadata, seed: v.seed as number }), ...findings];
  for (const f of all) {
    console.log(`${MARK[f.status]} ${f.check}: ${f.message}`);
    for (const d of f.details ?? []) console.log(`    ${d}`);
  }
  const fails = all.filter((f) => f.status === 'fail').length, warns = all.filter((f) => f.status === 'warn').length;
  console.log(`\n${fails ? `${fails} problem(s) found` : 'no problems found'}${warns ? `, ${warns} warning(s)` : ''}.`);
  return fails ? 1 : 0;
}
