/**
 * The Node side of torch.save files: `loadTorch(pathOrBytes)` and `saveTorch(path, obj)`.
 * Everything else (zip, pickle, storages) is in the `node:`-free modules beside this one.
 *
 * Loading a zip-format file reads its directory, the pickle and then one storage at a time
 * (never the whole file into one buffer); a legacy-format file is read whole. Saving writes a
 * temporary file in the same folder, fsyncs it and renames it over the target (writeFileAtomic,
 * as for safetensors), so an interrupted save leaves the old file intact.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArgumentError, TorchLoadError } from '../../errors.js';
import { writeAll, writeFileAtomic } from '../files.js';
import { loadTorchBytes, readTorch, resolveLoadOptions, type TorchLoadOptions } from './load.js';
import { planTorchSave, type TorchSaveOptions } from './save.js';
import type { ByteSource } from './zip.js';

const IO_CHUNK = 1 << 30;

function fileSource(fd: number, file: string): ByteSource {
  const size = fs.fstatSync(fd).size;
  return {
    size,
    fresh: true,
    read(offset: number, length: number): Uint8Array {
      let buf: Uint8Array;
      try {
        buf = new Uint8Array(length);
      } catch {
        throw new TorchLoadError(`torch.load: cannot allocate ${length} bytes to read ${file} at offset ${offset}`);
      }
      let got = 0;
      while (got < length) {
        const n = fs.readSync(fd, buf, got, Math.min(length - got, IO_CHUNK), offset + got);
        if (n === 0) throw new TorchLoadError(`torch.load: unexpected end of file at offset ${offset + got} (the file shrank while being read)`);
        got += n;
      }
      return buf;
    },
  };
}

/**
 * Loads a torch.save file (a path, or its bytes) with `torch.load(weights_only=True)`'s rules:
 * dicts, lists, tuples (frozen arrays), numbers, strings, bools, None (null) and qkv Tensors, with
 * storages shared as in the file. See TorchLoadOptions for dicts, dtype widening and CRC checks.
 * A malformed or refused file is a TorchLoadError (TorchUnsafePickleError for refusals), its
 * message ending with ` [path]`; a missing file is Node's usual error.
 *
 * Example: `const ckpt = io.loadTorch('ckpt.pt'); model.loadStateDict(ckpt.model)`
 */
export function loadTorch<T = unknown>(file: string | Uint8Array | ArrayBuffer, opts?: TorchLoadOptions): T {
  if (typeof file !== 'string') return loadTorchBytes(file, opts) as T;
  const o = resolveLoadOptions(opts, 'io.loadTorch');
  const fd = fs.openSync(file, 'r');
  try {
    return readTorch(fileSource(fd, file), o) as T;
  } catch (err) {
    if (err instanceof TorchLoadError) err.message = `${err.message} [${file}]`;
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `obj` as a torch.save zip file that `torch.load(file, weights_only=True)` reads (see
 * save.ts for the values it takes). The folder inside the zip is the file name without its
 * extension, as torch.save names it. Atomic: a temporary file renamed into place.
 */
export function saveTorch(file: string, obj: unknown, opts?: TorchSaveOptions): void {
  if (typeof file !== 'string') throw new ArgumentError(`io.saveTorch: the first argument is the file path, got ${typeof file}`);
  const stem = path.basename(file).replace(/\.[^.]*$/, '');
  const pieces = planTorchSave(obj, { archiveName: stem.length > 0 && !/[\\\0]/.test(stem) ? stem : 'archive', ...opts });
  writeFileAtomic(file, (fd) => {
    for (const p of pieces) writeAll(fd, p);
  });
}
