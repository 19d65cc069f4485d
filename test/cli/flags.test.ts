/**
 * Inputs are validated before any work starts (issue 13): every numeric flag of every command has
 * a range and is parsed strictly (decimal integers, finite numbers); the training data is checked
 * up front (both splits long enough, valid UTF-8 unless opted out); a run whose loss goes
 * non-finite stops with a clear message and a non-zero exit, keeping the last good checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, type CommandSpec } from '../../src/cli/args.js';
import * as train from '../../src/cli/train.js';
import * as sample from '../../src/cli/sample.js';
import * as doctor from '../../src/cli/doctor.js';
import * as bench from '../../src/cli/bench.js';
import * as lab from '../../src/cli/lab.js';
import * as exportCmd from '../../src/cli/export.js';
import { io } from '../../src/index.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'qkv.js');
const qkv = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, timeout: 300_000 });
const SPECS: CommandSpec[] = [train.spec, sample.spec, doctor.spec, bench.spec, lab.spec, exportCmd.spec];

test('every numeric flag of every command declares its range', () => {
  for (const spec of SPECS) {
    for (const [name, o] of Object.entries(spec.options)) {
      if (o.type !== 'number' && o.type !== 'integer') continue;
      assert.ok(o.min !== undefined && o.max !== undefined, `qkv ${spec.name} --${name} has a min and a max`);
      if (typeof o.default === 'number') assert.doesNotThrow(() => parseArgs(spec, [`--${name}`, String(o.default)]), `the default of --${name} is in range`);
    }
  }
});

const refused: [CommandSpec, string, string, RegExp][] = [
  [train.spec, 'steps', '0x10', /--steps must be an integer in \[1, 1000000000\] written in decimal digits, got "0x10"/],
  [train.spec, 'steps', '1e300', /--steps must be an integer .* written in decimal digits, got "1e300"/],
  [train.spec, 'steps', '16.0', /written in decimal digits, got "16.0"/],
  [train.spec, 'steps', '9007199254740993', /--steps must be an integer below 2\^53/],
  [train.spec, 'steps', '0', /--steps must be an integer in \[1, 1000000000\], got 0/],
  [train.spec, 'batch-size', '1000000000', /--batch-size must be an integer in \[1, 65536\], got 1000000000/],
  [train.spec, 'lr', '1e308', /--lr must be a number in \(0, 1\], got 1e308/],
  [train.spec, 'lr', '0', /--lr must be a number in \(0, 1\], got 0/],
  [train.spec, 'lr', 'Infinity', /--lr must be a number in \(0, 1\], got "Infinity"/],
  [train.spec, 'lr', 'NaN', /--lr must be a number .*got "NaN"/],
  [train.spec, 'lr', '0x1', /--lr must be a number .*got "0x1"/],
  [train.spec, 'weight-decay', '-1', /--weight-decay must be a number in \[0, 10\], got -1/],
  [train.spec, 'dropout', '1', /--dropout must be a number in \[0, 1\), got 1/],
  [sample.spec, 'tokens', '1e9', /--tokens must be an integer in \[1, 100000\] written in decimal digits, got "1e9"/],
  [sample.spec, 'tokens', '1000000000', /--tokens must be an integer in \[1, 100000\], got 1000000000/],
  [sample.spec, 'temperature', '-1', /--temperature must be a number in \[0, 100\], got -1/],
  [bench.spec, 'threads', '0', /--threads must be an integer in \[1, 1024\], got 0/],
];
for (const [spec, flag, value, message] of refused) {
  test(`qkv ${spec.name} --${flag} ${value} is refused before any work`, () => {
    assert.throws(() => parseArgs(spec, [`--${flag}`, value]), (e: unknown) => (e as Error).name === 'ArgumentError' && message.test((e as Error).message));
  });
}

test('plain values in range are accepted (signs, exponents where numbers allow them)', () => {
  const v = parseArgs(train.spec, ['--steps', '+12', '--lr', '3e-4', '--weight-decay', '0', '--dropout', '.5']).values;
  assert.deepEqual([v.steps, v.lr, v.weightDecay, v.dropout], [12, 3e-4, 0, 0.5]);
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-flags-'));
const small = ['--n-layer', '1', '--n-embd', '16', '--n-head', '2', '--block-size', '16', '--batch-size', '4', '--eval-batches', '1'];

test('the data is checked before training: a validation split too short for the block size, invalid UTF-8, NUL bytes', () => {
  const dir = tmp();
  const short = path.join(dir, 'short.txt');
  fs.writeFileSync(short, 'abcdefghij'.repeat(20)); // 200 chars: 20 of validation
  const r = qkv('train', '--text', short, '--out', path.join(dir, 'run'), ...small, '--block-size', '32', '--steps', '5');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /the validation split of .*short\.txt has 20 tokens, too few for one window of blockSize 32 \+ 1/);
  assert.ok(!fs.existsSync(path.join(dir, 'run')), 'nothing was written');
  const latin1 = path.join(dir, 'latin1.txt');
  fs.writeFileSync(latin1, Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' au lait. '.repeat(80))]));
  const l = qkv('train', '--text', latin1, '--out', path.join(dir, 'run'), ...small, '--steps', '2');
  assert.equal(l.status, 1);
  assert.match(l.stderr, /--text .*latin1\.txt is not valid UTF-8: byte 0xe9 at offset 3 \(Latin-1, UTF-16 or binary data\?\); convert it to UTF-8, or pass --allow-invalid-utf8/);
  const ok = qkv('train', '--text', latin1, '--out', path.join(dir, 'run'), ...small, '--steps', '2', '--eval-interval', '2', '--allow-invalid-utf8');
  assert.equal(ok.status, 0, ok.stderr);
  const nul = path.join(dir, 'nul.txt');
  fs.writeFileSync(nul, `${'text '.repeat(100)}\0${'more '.repeat(100)}`);
  assert.match(qkv('train', '--text', nul, '--out', path.join(dir, 'run2'), ...small, '--steps', '2').stderr, /nul\.txt holds a NUL byte at offset 500 \(binary data\?\)/);
  const huge = qkv('train', '--text', short, '--out', path.join(dir, 'run3'), '--n-embd', '65536', '--n-layer', '1024', '--n-head', '1');
  assert.equal(huge.status, 1);
  assert.match(huge.stderr, /parameters\) and a batch .* need at least [\d.]+ GB, more than this machine's [\d.]+ GB/);
  fs.rmSync(dir, { recursive: true });
});

test('a run whose loss goes non-finite stops with exit 1 and keeps the last good checkpoint', () => {
  const dir = tmp();
  const text = path.join(dir, 'text.txt');
  fs.writeFileSync(text, 'a stable text to train on for a few steps. '.repeat(40));
  const run = path.join(dir, 'run');
  const first = qkv('train', '--text', text, '--out', run, ...small, '--steps', '8', '--eval-interval', '4');
  assert.equal(first.status, 0, first.stderr);
  // Poison the latest checkpoint's weights, then let the run continue from it.
  const folder = path.join(run, 'step-000008');
  const weights = path.join(folder, 'model.safetensors');
  const { tensors, metadata } = io.loadFile(weights);
  tensors['transformer.ln_f.weight'].storage.data.fill(NaN);
  io.saveFile(weights, Object.fromEntries(Object.entries(tensors).filter(([k]) => k !== 'lm_head.weight')), metadata);
  const cfg = path.join(folder, 'trainer.json');
  const state = JSON.parse(fs.readFileSync(cfg, 'utf8'));
  state.trainOptions.steps = 12;
  fs.writeFileSync(cfg, JSON.stringify(state));
  const before = fs.readdirSync(run).sort();
  const r = qkv('train', '--out', run, '--resume');
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /^qkv train: training diverged: the loss at step 8 is NaN \(learning rate [\d.e-]+\); the weights are those after step 7; the last good checkpoint is the one this run resumed from, in .*run: lower --lr/);
  assert.deepEqual(fs.readdirSync(run).sort(), before, 'no checkpoint was written after the divergence');
  fs.rmSync(dir, { recursive: true });
});
