/** qkv doctor — diagnostics with a verdict per finding, for a checkpoint or a model config. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArgumentError } from '../errors.js';
import { GPT, type GPTConfig } from '../models/gpt.js';
import { loadFile } from '../io/files.js';
import { manualSeed } from '../tensor/random.js';
import { latestCheckpoint, readCheckpointInfo } from '../train/checkpoint.js';
import { diagnose, checkFileTying, type Finding } from '../inspect/diagnostics.js';
import type { CommandSpec, Parsed } from './args.js';

export const spec: CommandSpec = {
  name: 'doctor',
  summary: 'diagnose a checkpoint or a model config: backend, init scale, attention saturation, LayerNorm collapse, QKV layout, tying, NaN/Inf',
  usage: 'qkv doctor [CHECKPOINT | WEIGHTS.safetensors --model CONFIG.json | --model CONFIG.json]',
  options: {
    model: { type: 'string', help: 'a GPT config (JSON: vocabSize, blockSize, nLayer, nHead, nEmbd, …); alone: diagnose a fresh model at init' },
    seed: { type: 'integer', help: 'seed for the init and the random probe tokens', default: 0 },
  },
  details: 'CHECKPOINT is a `qkv train` folder, a step-NNNNNN folder, or an export folder. Exit code 1 when any check fails.',
};

const MARK: Record<Finding['status'], string> = { ok: '✓', info: '·', warn: '!', fail: '✗' };

/** Loads what doctor should examine; returns the model, the file metadata and file-level findings. */
export function loadForDoctor(target: string | undefined, configFile: string | undefined, seed: number): { model: GPT; metadata: Record<string, string>; findings: Finding[]; what: string } {
  let config: GPTConfig;
  let weights: string | null = null;
  if (configFile) {
    if (!fs.existsSync(configFile)) throw new ArgumentError(`--model ${configFile}: no such file`);
    const raw = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    config = raw.model ?? raw.modelConfig ?? raw; // accept an export/trainer config too
    if (target) weights = target;
  } else if (target) {
    if (!fs.existsSync(target)) throw new ArgumentError(`${target}: no such file or folder`);
    if (fs.statSync(target).isFile()) throw new ArgumentError(`${target} is a weights file: pass its config with --model CONFIG.json`);
    if (fs.existsSync(path.join(target, 'latest')) || fs.existsSync(path.join(target, 'trainer.json'))) {
      config = readCheckpointInfo(target).modelConfig;
      weights = path.join(latestCheckpoint(target), 'model.safetensors');
    } else if (fs.existsSync(path.join(target, 'config.json'))) {
      config = JSON.parse(fs.readFileSync(path.join(target, 'config.json'), 'utf8')).model;
      weights = path.join(target, 'model.safetensors');
    } else {
      throw new ArgumentError(`${target}: not a checkpoint (no latest, trainer.json or config.json)`);
    }
  } else {
    throw new ArgumentError('give a checkpoint folder, or --model CONFIG.json');
  }
  manualSeed(seed);
  const model = new GPT(config);
  const findings: Finding[] = [];
  let metadata: Record<string, string> = {};
  if (weights) {
    const file = loadFile(weights);
    metadata = file.metadata;
    const f = checkFileTying(file.tensors, metadata, model.config.tieWeights);
    if (f) findings.push(f);
    model.loadStateDict(file.tensors);
  }
  return { model, metadata, findings, what: weights ? `${weights} (${model.numParameters()} parameters)` : `a fresh GPT at init from ${configFile}` };
}

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
