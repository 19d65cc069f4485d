/**
 * What `qkv doctor` examines: the model of a checkpoint (opened by openCheckpoint, weights loaded
 * as stored) or, with only a config, a fresh model at init; plus the file-level findings that
 * need the stored tensors (a tie the file declares but the config does not, or the reverse).
 */
import { ArgumentError } from '../errors.js';
import { GPT } from '../models/gpt.js';
import { manualSeed } from '../tensor/random.js';
import { checkFileTying, type Finding } from '../inspect/diagnostics.js';
import { openCheckpoint, readModelConfig, type Checkpoint } from './open-checkpoint.js';

export interface DoctorTarget {
  model: GPT;
  /** The weights file's metadata ({} for a fresh model). */
  metadata: Record<string, string>;
  /** Findings about the file itself (tying as stored). */
  findings: Finding[];
  /** One line: what is being examined. */
  what: string;
  /** The opened checkpoint, or null for a fresh model. */
  checkpoint: Checkpoint | null;
}

const KIND_LABEL = { 'train-run': 'qkv train run', 'train-step': 'qkv train checkpoint', export: 'qkv export folder', safetensors: 'safetensors weights', torch: 'torch.save checkpoint' } as const;

/**
 * Loads what doctor should examine. `target` is anything openCheckpoint opens; `configFile`
 * (doctor's --model) overrides its config, or alone gives a fresh model at init. The model's
 * init is seeded with `seed` (weights loaded afterwards replace it).
 */
export function loadForDoctor(target: string | undefined, configFile: string | undefined, seed: number): DoctorTarget {
  if (!target && !configFile) throw new ArgumentError('give a checkpoint (folder or .safetensors file), or --model CONFIG.json');
  manualSeed(seed);
  if (!target) {
    const model = new GPT(readModelConfig(configFile!).config);
    return { model, metadata: {}, findings: [], what: `a fresh GPT at init from ${configFile}`, checkpoint: null };
  }
  const ck = openCheckpoint(target, { config: configFile });
  const model = new GPT(ck.config);
  const findings: Finding[] = [];
  const f = checkFileTying(ck.weights, ck.metadata, model.config.tieWeights);
  if (f) findings.push(f);
  model.loadStateDict(ck.weights);
  return { model, metadata: ck.metadata, findings, what: `${ck.weightsFile} (${KIND_LABEL[ck.kind]}, ${model.numParameters()} parameters)`, checkpoint: ck };
}
