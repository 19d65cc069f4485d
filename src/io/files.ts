/**
 * safetensors files: read tensor by tensor (never the whole file into one buffer), and write
 * atomically (a temporary file in the same folder, fsync, then rename), so an interrupted save
 * leaves the previous file intact.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  decodeTensor, encodeTensor, parseHeader, planSave, readHeaderLength, type LoadOptions, type LoadResult,
} from './safetensors.js';

function readExactly(fd: number, length: number, position: number, file: string): Uint8Array {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) throw new SafetensorsError(`safetensors: ${file}: unexpected end of file at offset ${position + got}`);
    got += n;
  }
  return buf;
}

export function loadFile(file: string, opts: LoadOptions = {}): LoadResult {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const n = readHeaderLength(readExactly(fd, Math.min(8, size), 0, file), size);
    const header = parseHeader(readExactly(fd, n, 8, file), size - 8 - n);
    const tensors: Record<string, Tensor> = {};
    for (const e of header.entries) {
      tensors[e.name] = decodeTensor(e, readExactly(fd, e.end - e.begin, header.dataStart + e.begin, file), opts);
    }
    return { tensors, metadata: header.metadata };
  } catch (err) {
    if (err instanceof SafetensorsError) err.message = `${err.message} [${file}]`;
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `data` (or, chunk by chunk, what `write` produces) to `file` atomically. */
export function writeFileAtomic(file: string, write: (fd: number) => void): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    write(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    try { fs.closeSync(fd); } catch { /* already closed */ }
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    throw err;
  }
}

export function saveFile(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  const plan = planSave(tensors, metadata);
  writeFileAtomic(file, (fd) => {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(plan.header.length), true);
    fs.writeSync(fd, len);
    fs.writeSync(fd, plan.header);
    for (const it of plan.items) fs.writeSync(fd, encodeTensor(it.tensor));
  });
}
