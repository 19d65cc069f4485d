/**
 * Saving and loading a module's state dict as safetensors with its weight ties intact: tied
 * parameters (one Parameter under several keys, e.g. GPT's `transformer.wte.weight` and
 * `lm_head.weight`) are written once and declared in `__metadata__` (see TIES_METADATA_KEY);
 * loading into a module re-ties what the file declares tied.
 */
import { StateDictError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Module, LoadResult as ModuleLoadResult } from './module.js';
import { Parameter } from './parameter.js';
import { checkOptions } from '../options.js';
import { loadFile, saveFile } from '../io/files.js';
import { TIES_METADATA_KEY, type LoadOptions } from '../io/safetensors.js';

/** alias → target for state-dict keys that are views of the same memory (the first key is the target). */
export function findTies(sd: Record<string, Tensor>): Record<string, string> {
  const seen = new Map<string, string>();
  const ties: Record<string, string> = {};
  for (const [k, t] of Object.entries(sd)) {
    const sig = `${t.dtype}|${t.shape.join(',')}|${t.strides.join(',')}|${t.offset}`;
    const match = [...seen.entries()].find(([key, s]) => s === sig && sd[key].storage === t.storage);
    if (match) ties[k] = match[0];
    else seen.set(k, sig);
  }
  return ties;
}

/** Writes `module.stateDict()` to `file` (atomically), each tied weight once. */
export function saveModule(file: string, module: Module, metadata: Record<string, string> = {}): void {
  const sd = module.stateDict();
  saveFile(file, sd, metadata, { ties: findTies(sd) });
}

/**
 * Loads `file` into `module` (strict by default). Ties declared in the file are restored first:
 * where the module holds two separate Parameters for a tied pair, the alias is pointed at the
 * target's Parameter. Returns the missing/unexpected keys, the restored ties and the metadata.
 */
export function loadModule(
  module: Module, file: string, opts: LoadOptions & { strict?: boolean } = {},
): ModuleLoadResult & { retied: string[]; metadata: Record<string, string> } {
  const { strict = true, ...loadOpts } = checkOptions(opts, ['castFloats', 'strict'], 'loadModule');
  const { tensors, metadata } = loadFile(file, loadOpts);
  const ties: Record<string, string> = metadata[TIES_METADATA_KEY] ? JSON.parse(metadata[TIES_METADATA_KEY]) : {};
  const retied = retie(module, ties, `loadModule: ${file}`);
  const r = module.loadStateDict(tensors, { strict });
  return { ...r, retied, metadata };
}

/**
 * Points each tied alias's Parameter at its target's (alias → target state-dict keys), where the
 * module holds two separate Parameters of the same shape; returns the ties made ('alias → target').
 * Keys the module lacks are left to loadStateDict to report. `where` names the caller and source.
 */
export function retie(module: Module, ties: Record<string, string>, where: string): string[] {
  const retied: string[] = [];
  for (const [alias, target] of Object.entries(ties)) {
    const a = locate(module, alias), t = locate(module, target);
    if (!a || !t || a.param === t.param) continue;
    if (a.param.shape.join() !== t.param.shape.join()) {
      throw new StateDictError(`${where} ties ${alias} to ${target}, but the module's shapes differ (${fmtShape(a.param.shape)} vs ${fmtShape(t.param.shape)})`);
    }
    a.owner.registerParameter(a.name, t.param);
    retied.push(`${alias} → ${target}`);
  }
  return retied;
}

function locate(module: Module, key: string): { owner: Module; name: string; param: Parameter } | null {
  const dot = key.lastIndexOf('.');
  let owner: Module;
  try {
    owner = module.getSubmodule(dot < 0 ? '' : key.slice(0, dot));
  } catch {
    return null;
  }
  const name = key.slice(dot + 1);
  const param = [...owner.namedParameters({ recurse: false })].find(([n]) => n === name)?.[1];
  return param instanceof Parameter ? { owner, name, param } : null;
}
