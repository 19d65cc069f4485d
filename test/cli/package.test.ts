/** The package as a user gets it: `import … from 'qkv'` through the exports map, and the bin. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../src/version.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

test('package.json names the package, its exports and the qkv bin; versions agree', () => {
  assert.equal(pkg.name, 'qkv');
  assert.equal(pkg.type, 'module');
  assert.ok(pkg.exports['.']);
  assert.equal(pkg.bin.qkv, './bin/qkv.js');
  assert.equal(pkg.version, VERSION);
});

test("import from 'qkv' resolves through the exports map to the compiled build", () => {
  const script = `
    const q = await import('qkv');
    const names = ['tensor','zeros','ones','randn','rand','randint','arange','manualSeed','noGrad','Tensor','F'];
    const missing = names.filter((n) => !(n in q));
    if (missing.length) throw new Error('missing exports: ' + missing);
    const y = q.F.softmax(q.tensor([1, 2, 3]), -1).sum().item();
    console.log(Math.abs(y - 1) < 1e-6 ? 'ok' : 'bad ' + y);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(out.trim(), 'ok');
});

test('the qkv bin prints its version and usage', () => {
  const bin = path.join(root, 'bin', 'qkv.js');
  assert.equal(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim(), VERSION);
  assert.match(execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' }), /Usage: qkv <command>/);
});

test('the compiled package finds its non-TypeScript files: train.py (assets/) and the bench\'s torch_bench.py', async () => {
  for (const f of ['assets', 'src', 'dist', 'bin']) assert.ok(pkg.files.includes(f), `package.json "files" ships ${f}/`);
  const dist = (rel: string) => new URL(`../../dist/${rel}`, import.meta.url).href;
  const { trainPyPath } = await import(dist('train/export.js'));
  const { TORCH_SCRIPT } = await import(dist('bench/index.js'));
  assert.equal(trainPyPath(), path.join(root, 'assets', 'pytorch', 'train.py'));
  assert.equal(TORCH_SCRIPT, path.join(root, 'src', 'bench', 'torch_bench.py'));
  for (const f of [trainPyPath(), TORCH_SCRIPT]) assert.ok(fs.existsSync(f), `${f} exists`);
  assert.equal(pkg.scripts.bench, 'node bin/qkv.js bench', 'npm run bench runs qkv bench (prebench compiles dist/)');
  assert.ok(!fs.existsSync(path.join(root, 'bench')), 'one bench folder: src/bench/');
});

test('every dependency with an install script is approved in allowScripts (a fresh npm install prints no warning about it)', () => {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const withScripts = Object.entries<{ hasInstallScript?: boolean }>(lock.packages)
    .filter(([k, v]) => k !== '' && v.hasInstallScript)
    .map(([k]) => k.replace(/^.*node_modules\//, ''));
  assert.ok(withScripts.length >= 1);
  for (const name of withScripts) {
    const entry = Object.entries<boolean>(pkg.allowScripts ?? {}).find(([k]) => k === name || k.startsWith(`${name}@`));
    assert.ok(entry, `${name} has an install script: approve (true) or deny (false) it in package.json's allowScripts`);
  }
  assert.match(fs.readFileSync(path.join(root, '.ci', 'run'), 'utf8'), /grep -E '\^npm \(warn\|WARN\)' "\$install_log"/, '.ci/run checks the install log');
});
