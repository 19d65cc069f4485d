/**
 * safetensors files: read tensor by tensor (never the whole file into one buffer), and write
 * atomically (a temporary file in the same folder, fsync, rename, fsync of the folder), so an
 * interrupted save leaves the previous file intact.
 *
 * Temporary files are named `.<file name>.<pid>-<random>.tmp`, beside the target. A save that
 * fails with an exception removes its temporary file; a process killed mid-save (SIGKILL, power
 * loss) leaves it behind. Such leftovers are never read by loadFile, and the next save of the
 * same file removes those whose writer is gone (its PID no longer runs on this machine, or it is
 * this process, which is not writing it): a temporary of a save still running elsewhere is kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SafetensorsError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { LoadOptions, LoadResult, SaveOptions } from './safetensors-format.js';
import { checkTensorSize, decodeTensor, readHeader } from './safetensors-read.js';
import { encodeTensor, planSave } from './safetensors-write.js';
import { attachTies } from './safetensors-ties.js';

/** Temporaries this process is writing right now (a stale one may carry this process's PID, reused). */
const inProgress = new Set<string>();

/** Marks `p` (a temporary file or folder) as being written by this process until `done` is called. */
export function markInProgress(p: string): () => void {
  const abs = path.resolve(p);
  inProgress.add(abs);
  return () => { inProgress.delete(abs); };
}

/** Whether process `pid` runs on this machine (a process of another user counts as running). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** writeFileAtomic's temporary names: `.<name>.<pid>-<8 hex digits>.tmp`. */
export const TEMP_FILE = /^\.(?<name>.+)\.(?<pid>\d+)-[0-9a-f]{8}\.tmp$/;

/**
 * Removes the temporaries in `dir` whose writer is gone: entries matching one of `patterns`
 * (each with a named group `pid`; default: writeFileAtomic's temporary files, only those of
 * `name` when given) whose PID does not run on this machine, or is this process's but not one
 * it is writing now. Files and folders alike. Returns the names removed.
 */
export function removeStaleTemporaries(dir: string, opts: { name?: string; patterns?: RegExp[] } = {}): string[] {
  const patterns = opts.patterns ?? [TEMP_FILE];
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const m = patterns.map((p) => p.exec(entry)).find((x) => x !== null);
    if (!m?.groups?.pid) continue;
    if (opts.name !== undefined && m.groups.name !== opts.name) continue;
    const pid = Number(m.groups.pid);
    const full = path.resolve(dir, entry);
    const alive = pid === process.pid ? inProgress.has(full) : processAlive(pid);
    if (alive) continue;
    try {
      fs.rmSync(full, { recursive: true, force: true });
      removed.push(entry);
    } catch { /* removed by someone else, or not ours to remove: leave it */ }
  }
  return removed;
}

/** Largest single read or write handed to the OS (Linux moves at most ~2 GiB per call). */
const IO_CHUNK = 1 << 30;

function readExactly(fd: number, length: number, position: number, file: string): Uint8Array {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, Math.min(length - got, IO_CHUNK), position + got);
    if (n === 0) throw new SafetensorsError(`safetensors: ${file}: unexpected end of file at offset ${position + got} (the file shrank while being read)`);
    got += n;
  }
  return buf;
}

/** Writes all of `bytes` at the fd's current position, looping over partial writes. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    const n = fs.writeSync(fd, bytes, done, Math.min(bytes.length - done, IO_CHUNK));
    if (!(n > 0)) throw new SafetensorsError(`safetensors: write made no progress after ${done} of ${bytes.length} bytes`);
    done += n;
  }
}

/**
 * Loads a safetensors file, checking it as `load` does, reading the header and then one tensor
 * at a time. SafetensorsError messages end with ` [path]`; a missing or unreadable file throws
 * the usual Node fs error.
 */
export function loadFile(file: string, opts: LoadOptions = {}): LoadResult {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const header = readHeader((offset, length) => readExactly(fd, length, offset, file), size);
    const tensors: Record<string, Tensor> = {};
    for (const e of header.entries) {
      checkTensorSize(e, opts); // before allocating the read buffer
      const from = header.dataStart + e.begin;
      const t = decodeTensor(e, readExactly(fd, e.end - e.begin, from, file), opts, from);
      Object.defineProperty(tensors, e.name, { value: t, enumerable: true, writable: true, configurable: true });
    }
    attachTies(tensors, header.ties);
    return { tensors, metadata: header.metadata };
  } catch (err) {
    if (err instanceof SafetensorsError) err.message = `${err.message} [${file}]`;
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `file` atomically: `write(fd)` fills a new temporary file in the same folder, which is
 * fsynced and renamed over `file`; the folder is fsynced too (where the OS allows), so the rename
 * survives a crash. If `write` throws, the temporary file is removed and `file` is untouched.
 */
export function writeFileAtomic(file: string, write: (fd: number) => void): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const done = markInProgress(tmp);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx');
  } catch (err) {
    done();
    throw err;
  }
  let open = true;
  try {
    write(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    open = false;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (open) try { fs.closeSync(fd); } catch { /* already closed */ }
    try { fs.unlinkSync(tmp); } catch { /* renamed or never created */ }
    throw err;
  } finally {
    done();
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  } catch { /* folders cannot be fsynced on every platform (Windows); the rename itself is done */ }
}

/**
 * Saves tensors to `file` atomically (see writeFileAtomic), one tensor at a time. Checks, ties
 * and layout are those of `planSave`; if a check fails (before or during the write), `file` is
 * left as it was and the temporary file is removed. Temporaries of `file` left by writers that
 * are gone (killed mid-save) are removed first (see removeStaleTemporaries).
 */
export function saveFile(file: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}, opts: SaveOptions = {}): void {
  const plan = planSave(tensors, metadata, opts);
  removeStaleTemporaries(path.dirname(path.resolve(file)), { name: path.basename(file) });
  writeFileAtomic(file, (fd) => {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(plan.header.length), true);
    writeAll(fd, len);
    writeAll(fd, plan.header);
    for (const it of plan.items) writeAll(fd, encodeTensor(it.tensor, it.name));
  });
}
