/**
 * Crash safety of saveFile: a child process saving over an existing file is killed with SIGKILL
 * mid-write; the old file must be intact and loadable, and no half-written file may take its
 * place. A killed save leaves its temporary file (`.<name>.<pid>-<random>.tmp`) behind: it is
 * never read by loadFile, and the next save of the same file removes it (its writer is gone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io, tensor } from '../../src/index.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..', '..');
const CHILD = path.join(HERE, 'save-child.ts');
const TEMP = /^\.model\.safetensors\.\d+-[0-9a-f]{8}\.tmp$/;

function startChild(file: string, mode: 'pause' | 'run', mb: number): { child: ChildProcess; lines: string[]; waitFor: (line: string) => Promise<void>; exited: Promise<NodeJS.Signals | number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file, mode, String(mb)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  const waiters: [string, () => void][] = [];
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const [want, resolve] of waiters) if (want === line) resolve();
    }
  });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const waitFor = (line: string): Promise<void> => new Promise((resolve, reject) => {
    if (lines.includes(line)) return resolve();
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child did not print "${line}" within 60 s; stderr: ${stderr}`)); }, 60_000);
    waiters.push([line, () => { clearTimeout(timer); resolve(); }]);
    void exited.then((how) => { clearTimeout(timer); if (!lines.includes(line)) reject(new Error(`child exited (${how}) before printing "${line}"; stderr: ${stderr}`)); });
  });
  return { child, lines, waitFor, exited };
}

function oldFile(dir: string): { file: string; before: Buffer } {
  const file = path.join(dir, 'model.safetensors');
  io.saveFile(file, { old: tensor([1, 2, 3]) }, { run: 'old' });
  return { file, before: fs.readFileSync(file) };
}

function assertOld(file: string, before: Buffer): void {
  assert.equal(Buffer.compare(fs.readFileSync(file), before), 0, 'the old file is byte-for-byte intact');
  const r = io.loadFile(file);
  assert.deepEqual(r.metadata, { run: 'old' });
  assert.deepEqual(r.tensors.old.toArray(), [1, 2, 3]);
}

test('SIGKILL in the middle of saveFile leaves the old file intact; the partial data is only in a temporary file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-kill-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { file, before } = oldFile(dir);
  const mb = 4;
  const { child, waitFor, exited } = startChild(file, 'pause', mb);
  await waitFor('paused');

  // Mid-write: the length, header and first tensor are in the temporary file, the second is not.
  const temps = fs.readdirSync(dir).filter((n) => n !== 'model.safetensors');
  assert.equal(temps.length, 1, `one temporary file beside the target: ${temps.join(', ')}`);
  assert.match(temps[0], TEMP);
  const partial = fs.statSync(path.join(dir, temps[0])).size;
  assert.ok(partial > mb * 2 ** 20 && partial < 2 * mb * 2 ** 20, `the temporary file holds a partial save (${partial} bytes)`);
  assertOld(file, before);

  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assertOld(file, before);
  // The leftover is still there until the next save of the file, which removes it (its writer is dead).
  assert.deepEqual(fs.readdirSync(dir).filter((n) => TEMP.test(n)), temps);
  io.saveFile(file, { next: tensor([4]) });
  assert.deepEqual(io.loadFile(file).tensors.next.toArray(), [4]);
  assert.deepEqual(fs.readdirSync(dir), ['model.safetensors'], 'the next save removed the dead writer\'s temporary');
});

test('SIGKILL at arbitrary moments of a real (unpaused) save: the target is always the old file or the complete new one', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-kill-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const seen = new Set<string>();
  for (const delay of [0, 3, 10, 30, 150]) {
    const { file, before } = oldFile(dir);
    const { child, lines, waitFor, exited } = startChild(file, 'run', 16);
    await waitFor('saving');
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited;
    const now = fs.readFileSync(file);
    if (Buffer.compare(now, before) === 0) {
      assertOld(file, before);
      seen.add('old');
    } else {
      // Only a complete file may have replaced the old one.
      const r = io.loadFile(file);
      assert.deepEqual(r.metadata, { run: 'new' });
      assert.equal(r.tensors.a.numel(), 16 * 262_144);
      assert.deepEqual([r.tensors.a.toFlat()[0], r.tensors.b.toFlat()[16 * 262_144 - 1]], [2, 3]);
      seen.add(lines.includes('saved') ? 'new' : 'new, killed after the rename');
    }
    for (const n of fs.readdirSync(dir)) if (TEMP.test(n)) fs.rmSync(path.join(dir, n));
  }
  t.diagnostic(`outcomes: ${[...seen].join(', ')}`);
});
