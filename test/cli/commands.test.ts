/**
 * The qkv command as a user runs it: train → sample → export → doctor, lab --quick, help and
 * error handling (one line, non-zero exit, no stack without --debug).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hasTorch } from '../helpers/torch.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'qkv.js');
const qkv = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, timeout: 300_000 });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-cli-'));

test('qkv --help lists the commands; every command has --help', () => {
  const h = qkv('--help');
  assert.equal(h.status, 0);
  for (const c of ['lab', 'train', 'sample', 'doctor', 'bench', 'export']) {
    assert.match(h.stdout, new RegExp(`\\n  ${c} `));
    const ch = qkv(c, '--help');
    assert.equal(ch.status, 0);
    assert.match(ch.stdout, new RegExp(`^qkv ${c} — `));
    assert.match(ch.stdout, /Options:/);
  }
});

test('errors are one line with a non-zero exit; --debug adds the stack', () => {
  const bad = qkv('train', '--steps', 'ten');
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /^qkv train: --steps must be an integer in \[1, 1000000000\] written in decimal digits, got "ten"; see `qkv train --help`/);
  assert.equal(qkv('frobnicate').status, 2);
  const missing = qkv('sample', '/nonexistent/run', '--debug');
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /CheckpointError: \/nonexistent\/run: no such file or folder[\s\S]*at /);
});

test('train on a text file → checkpoints, a loss plot; resume; sample; export; doctor', () => {
  const dir = tmp();
  const text = path.join(dir, 'text.txt');
  fs.writeFileSync(text, 'It was the best of times, it was the worst of times, it was the age of wisdom. '.repeat(60));
  const run = path.join(dir, 'run');
  const common = ['--text', text, '--out', run, '--n-layer', '1', '--n-embd', '32', '--n-head', '2', '--block-size', '32', '--batch-size', '8', '--eval-interval', '10', '--eval-batches', '2'];
  const t = qkv('train', ...common, '--steps', '20');
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /steps: 20/); // the resolved config is printed
  assert.match(t.stdout, /step 20: train [\d.]+, val [\d.]+ nats\/char/);
  assert.ok(fs.existsSync(path.join(run, 'loss.png')) && fs.existsSync(path.join(run, 'step-000020', 'model.safetensors')));
  assert.equal(fs.readFileSync(path.join(run, 'latest'), 'utf8').trim(), 'step-000020');
  // Resume a finished run: nothing more to do, the same final figures.
  const again = qkv('train', '--out', run, '--resume');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /resuming .* at step 20 of 20/);
  const s = qkv('sample', run, '--prompt', 'It was', '--tokens', '40', '--temperature', '0');
  assert.equal(s.status, 0, s.stderr);
  assert.ok(s.stdout.startsWith('It was') && s.stdout.trim().length >= 46);
  const out = path.join(dir, 'export');
  const e = qkv('export', '--to', 'pytorch', out, '--checkpoint', run);
  assert.equal(e.status, 0, e.stderr);
  assert.ok(fs.existsSync(path.join(out, 'train.py')));
  assert.equal(qkv('sample', out, '--prompt', 'it', '--tokens', '5').status, 0);
  const d = qkv('doctor', run);
  assert.equal(d.status, 0, d.stdout);
  assert.match(d.stdout, /✓ QKV layout: .*the layout recorded with the weights/);
  fs.rmSync(dir, { recursive: true });
});

test('qkv lab --quick --only writes the report and prints the verdict', () => {
  const dir = tmp();
  const r = qkv('lab', '--quick', '--only', 'layernorm', '--out', dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /3\. Post-LN vs pre-LN \(layernorm\)/);
  assert.match(r.stdout, /Report: .*report\.html/);
  assert.ok(fs.existsSync(path.join(dir, 'report.html')));
  fs.rmSync(dir, { recursive: true });
});

test('qkv bench prints the table (a tiny GEMM row, without PyTorch)', () => {
  const r = qkv('bench', '--only', 'gemm', '--sizes', '64', '--steps', '2', '--warmup', '1', '--no-torch');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /GEMM \(square, float32\)\s+threads\s+qkv GFLOP\/s/);
  assert.match(r.stdout, /n = 64\s+1\s+[\d.]+/);
  assert.match(r.stdout, /PyTorch not run/);
});

test('qkv bench --profile prints time per kernel of one workload step', () => {
  const r = qkv('bench', '--profile', 'w1', '--steps', '1');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^w1 on \w+: [\d.]+ ms\/step; kernels [\d.]+ ms, JS side -?[\d.]+ ms, \d+ kernel calls\/step/);
  assert.match(r.stdout, /\n +[\d.]+ ms +\d+×  matmul /);
});

test('the commands qkv export prints run as printed with the PyTorch found here (torchrun, 2 processes)', { skip: !hasTorch() && 'python3-torch is not installed' }, () => {
  const dir = tmp();
  const text = path.join(dir, 'text.txt');
  fs.writeFileSync(text, 'It was the best of times, it was the worst of times, it was the age of wisdom. '.repeat(60));
  const run = path.join(dir, 'run');
  const t = qkv('train', '--text', text, '--out', run, '--n-layer', '1', '--n-embd', '32', '--n-head', '2', '--block-size', '32', '--batch-size', '8', '--eval-interval', '10', '--eval-batches', '2', '--steps', '10');
  assert.equal(t.status, 0, t.stderr);
  const out = path.join(dir, 'export');
  const e = qkv('export', '--to', 'pytorch', out, '--checkpoint', run);
  assert.equal(e.status, 0, e.stderr);
  const printed = /^next, 2 processes: (.+)$/m.exec(e.stdout)?.[1];
  assert.ok(printed, e.stdout);
  assert.match(printed, /^cd .* && \S*torch\S* .*--nproc_per_node 2 train\.py --steps 100$/);
  // Verbatim, through a shell, as a user pastes it.
  const r = spawnSync('/bin/sh', ['-c', printed], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `${printed}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /step 109: loss [\d.]+/);
  assert.ok(fs.existsSync(path.join(out, 'trained', 'model.safetensors')));
  const s = qkv('sample', path.join(out, 'trained'), '--prompt', 'It', '--tokens', '5');
  assert.equal(s.status, 0, s.stderr);
  const single = /^one process: +(.+)$/m.exec(e.stdout)?.[1];
  assert.match(single!, /^cd .* && \S*python\S* train\.py --steps 100$/);
  fs.rmSync(dir, { recursive: true });
});

test("nanoGPT's ckpt.pt: qkv sample and qkv doctor open it (model_args, meta.pkl beside it)", () => {
  const ckpt = path.join(root, 'test', 'fixtures', 'torch', 'nanogpt-ckpt.pt');
  const s = qkv('sample', ckpt, '--prompt', 'hello', '--tokens', '12', '--temperature', '0');
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /^hello[ !,a-z]{12}\n$/);
  const d = qkv('doctor', ckpt);
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stdout, /torch\.save checkpoint, 1928 parameters\)/);
  assert.match(d.stdout, /✓ tying: wte and lm_head share one parameter/);
});
