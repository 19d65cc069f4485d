/**
 * Plain pickles (not torch.save files) read with the same allow-list: e.g. nanoGPT's
 * `data/<dataset>/meta.pkl` (`{ vocab_size, itos, stoi }` for a character-level model).
 */
import { ArgumentError } from '../../errors.js';
import { checkOptions } from '../../options.js';
import { unpickle } from './pickle.js';

/**
 * Reads one pickle (protocols 0–5, the data opcodes) with `torch.load(weights_only=True)`'s
 * allow-list; persistent ids (tensor storages) are an error. Returns the value as loadTorch
 * would (`{ dicts: 'map' }` keeps non-string keys).
 */
export function loadPickle<T = unknown>(bytes: Uint8Array, opts?: { dicts?: 'object' | 'map' }): T {
  const o = checkOptions(opts, ['dicts'], 'io.loadPickle');
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`io.loadPickle: expected a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  if (o.dicts !== undefined && o.dicts !== 'object' && o.dicts !== 'map') throw new ArgumentError(`io.loadPickle: dicts must be 'object' or 'map', got ${JSON.stringify(o.dicts)}`);
  return unpickle(bytes, 0, { where: 'pickle', fileOffset: 0, dicts: o.dicts ?? 'object' }).value as T;
}
