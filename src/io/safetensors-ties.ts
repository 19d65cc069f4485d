/**
 * Declared weight ties in safetensors files (qkv's `__metadata__["qkv.ties"]`): checking a
 * declaration read from a file, resolving the ties of a save, and re-attaching aliases on load.
 */
import { SafetensorsError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { loneSurrogate, parseHeaderJson, type Json } from './json-header.js';
import { clipText, q, setOwn, show } from './safetensors-format.js';

/**
 * Metadata key under which declared weight ties are recorded: a JSON object `{alias: target}`,
 * e.g. `{"lm_head.weight":"transformer.wte.weight"}`. The data of a tie is stored once, under the
 * target's name; the alias has no entry of its own. On load the alias is returned as a tensor that
 * shares storage with the target (same dtype, shape, strides and offset). Valid ties: every alias
 * differs from its target, is not a tensor stored in the file and is not `__metadata__`; every
 * target is a tensor stored in the file (so there are no chains and no cycles). Anything else is
 * a SafetensorsError. Readers that do not know the key (PyTorch, HF) simply see the target.
 */
export const TIES_METADATA_KEY = 'qkv.ties';

/** Validates `metadata[TIES_METADATA_KEY]` against the names stored in the file (on read). */
export function checkTies(metadata: Record<string, string>, stored: Set<string>, at: number): Record<string, string> {
  if (!Object.prototype.hasOwnProperty.call(metadata, TIES_METADATA_KEY)) return {};
  const where = `__metadata__[${q(TIES_METADATA_KEY)}] (header byte ${at})`;
  const ties = parseTies(metadata[TIES_METADATA_KEY], where);
  for (const [alias, target] of Object.entries(ties)) {
    if (stored.has(alias)) throw new SafetensorsError(`safetensors: ${where}: tie alias ${q(alias)} is also stored as a tensor; a tie's data is stored once, under its target`);
    if (!stored.has(target)) {
      const why = Object.prototype.hasOwnProperty.call(ties, target) ? 'is itself an alias (chains and cycles are not allowed)' : 'is not a tensor in the file';
      throw new SafetensorsError(`safetensors: ${where}: tie ${q(alias)} → ${q(target)}: the target ${why}`);
    }
  }
  return ties;
}

/** Parses a ties declaration (JSON object of strings, no duplicate keys, alias ≠ target). */
export function parseTies(text: string, where: string): Record<string, string> {
  let value: Json;
  try {
    value = parseHeaderJson(text, 0, 'JSON').value;
  } catch (err) {
    if (!(err instanceof SafetensorsError)) throw err;
    throw new SafetensorsError(`safetensors: ${where} is not a JSON object {alias: target}: ${err.message.replace('safetensors: ', '').replace(' at byte ', ' at UTF-8 byte ')}`);
  }
  return checkTieObject(value, where);
}

/** Checks a ties object: string targets, alias ≠ target, no alias named `__metadata__`. */
export function checkTieObject(value: unknown, where: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SafetensorsError(`safetensors: ${where} must be an object {alias: target}, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const ties: Record<string, string> = {};
  for (const [alias, target] of Object.entries(value)) {
    if (typeof target !== 'string') throw new SafetensorsError(`safetensors: ${where}: the target of tie ${q(alias)} is ${target === null ? 'null' : typeof target}, not a tensor name`);
    if (alias === target) throw new SafetensorsError(`safetensors: ${where}: tie ${q(alias)} names itself as its target`);
    if (alias === '__metadata__') throw new SafetensorsError(`safetensors: ${where}: a tie alias may not be named "__metadata__"`);
    for (const s of [alias, target]) {
      if (loneSurrogate(s) >= 0) throw new SafetensorsError(`safetensors: ${where}: tie ${q(alias)} → ${q(target)}: ${q(s)} holds a lone UTF-16 surrogate, which is not Unicode text`);
    }
    setOwn(ties, alias, target);
  }
  return ties;
}

/** The effective ties of a save: `opts.ties` and/or `metadata[TIES_METADATA_KEY]`, checked against `tensors`. */
export function resolveTies(tensors: Record<string, Tensor>, metadata: Record<string, string>, declared: Record<string, string> | undefined): Record<string, string> {
  const where = `save: ties`;
  let ties: Record<string, string> = {};
  if (declared !== undefined) ties = checkTieObject(declared, where);
  if (Object.prototype.hasOwnProperty.call(metadata, TIES_METADATA_KEY)) {
    const fromMeta = parseTies(metadata[TIES_METADATA_KEY], `save: metadata[${q(TIES_METADATA_KEY)}]`);
    if (declared === undefined) ties = fromMeta;
    else if (JSON.stringify(Object.entries(fromMeta).sort()) !== JSON.stringify(Object.entries(ties).sort())) {
      throw new SafetensorsError(`safetensors: save: metadata[${q(TIES_METADATA_KEY)}] = ${clipText(metadata[TIES_METADATA_KEY])} disagrees with the ties option ${show(ties)}`);
    }
  }
  const has = (name: string): boolean => Object.prototype.hasOwnProperty.call(tensors, name);
  for (const [alias, target] of Object.entries(ties)) {
    const tie = `tie ${q(alias)} → ${q(target)}`;
    if (!has(target)) throw new SafetensorsError(`safetensors: ${where}: ${tie}: the target is not among the tensors being saved`);
    if (Object.prototype.hasOwnProperty.call(ties, target)) throw new SafetensorsError(`safetensors: ${where}: ${tie}: the target is itself an alias (chains and cycles are not allowed)`);
    if (has(alias)) {
      const a = tensors[alias], t = tensors[target];
      const same = a.storage === t.storage && a.dtype === t.dtype && a.offset === t.offset
        && a.shape.length === t.shape.length && a.shape.every((s, d) => s === t.shape[d] && a.strides[d] === t.strides[d]);
      if (!same) {
        throw new SafetensorsError(
          `safetensors: ${where}: ${tie}: ${q(alias)} (${a.dtype} ${fmtShape(a.shape)}) is not the same tensor as ${q(target)} (${t.dtype} ${fmtShape(t.shape)}); a tie must be one storage seen through the same view`,
        );
      }
    }
  }
  return ties;
}

/** Adds each tie alias as a view sharing the target's storage. */
export function attachTies(tensors: Record<string, Tensor>, ties: Record<string, string>): void {
  for (const [alias, target] of Object.entries(ties)) {
    const t = tensors[target];
    setOwn(tensors, alias, t.asStrided(t.shape, t.strides, t.offset));
  }
}
