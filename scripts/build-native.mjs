#!/usr/bin/env node
// Builds the native backend (native/*.cc → build/Release/qkv_native.node) with node-gyp.
// Run by `npm install` (the package's install script) and by `npm run build:native`.
//
// A failed build never fails the install: qkv then runs on its TypeScript backend, and this
// script says so loudly. QKV_SKIP_NATIVE=1 skips the build on purpose.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const addon = path.join(root, 'build', 'Release', 'qkv_native.node');

function warn(lines) {
  const bar = '!'.repeat(78);
  console.error(['', bar, ...lines.map((l) => `!! ${l}`), bar, ''].join('\n'));
}

if (process.env.QKV_SKIP_NATIVE === '1') {
  console.error('qkv: QKV_SKIP_NATIVE=1 — not building the native backend; qkv will use the TypeScript backend.');
  process.exit(0);
}

// node-gyp: the copy npm passes to lifecycle scripts, else the one bundled with npm, else PATH.
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a dependency
  }
  for (const c of candidates) if (c && existsSync(c)) return [process.execPath, c];
  return ['node-gyp'];
}

const args = ['rebuild', '--jobs=max'];
// Build against the headers of the Node that runs us when npm was not told where they are
// (node-gyp would otherwise try to download them).
const localHeaders = path.join(path.dirname(process.execPath), '..', 'include', 'node');
if (!process.env.npm_config_nodedir && existsSync(path.join(localHeaders, 'node_api.h'))) {
  args.push(`--nodedir=${path.resolve(localHeaders, '..', '..')}`);
}
const [cmd, ...pre] = findNodeGyp();
console.error(`qkv: building the native backend (${[path.basename(cmd), ...pre.map((p) => path.basename(p)), ...args].join(' ')}) …`);
const t0 = Date.now();
const r = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
if (r.error || r.status !== 0) {
  warn([
    'qkv: the native backend did NOT build' + (r.error ? `: ${r.error.message}` : ` (node-gyp exited with ${r.status})`) + '.',
    'qkv still works, on its TypeScript backend, which is much slower for training.',
    'It needs python3, make, a C++17 compiler (g++ or clang) and Node\'s headers;',
    'fix the error above and run `npm rebuild qkv` (or `npm run build:native` in a checkout).',
  ]);
  process.exit(0);
}

// Check that it loads in a fresh process (a build can succeed and still not load).
const check = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(addon)}); console.log(a.isa() + ', ' + a.getNumThreads() + ' threads')`], { encoding: 'utf8' });
if (check.status !== 0) {
  warn([
    'qkv: the native backend built but does not load:',
    ...(check.stderr || '').trim().split('\n').slice(0, 6),
    'qkv will use the TypeScript backend.',
  ]);
  process.exit(0);
}
console.error(`qkv: native backend ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${check.stdout.trim()}).`);
