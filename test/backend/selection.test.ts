/**
 * Backend selection: native when the addon loaded, TypeScript otherwise; QKV_BACKEND=ts|native
 * forces one; QKV_NUM_THREADS and setNumThreads; nativeStatus for `qkv doctor`; one warning on
 * stderr when the addon is missing; non-float32 work always reaches the TypeScript kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  availableBackends, backend, getNumThreads, nativeAddon, nativeStatus, setBackend, setNumThreads, tsBackend,
} from '../../src/backend/index.js';
import { loadNativeAddon } from '../../src/backend/native/index.js';
import { randn, matmul } from '../../src/index.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const loaded = nativeAddon() !== null;

/** Runs a snippet against the compiled package (dist/) in a child with the given environment. */
function child(code: string, env: Record<string, string | undefined>, cwd = root): { out: string; err: string; status: number | null } {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) e[k] = v;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd, env: e, encoding: 'utf8' });
  return { out: r.stdout.trim(), err: r.stderr.trim(), status: r.status };
}

const hasDist = fs.existsSync(path.join(root, 'dist', 'index.js'));
const distSkip = hasDist ? false : 'dist/ is not built (npm test builds it first)';

test('the native backend implements every method of the Backend interface', { skip: loaded ? false : 'addon not loaded' }, () => {
  const native = setBackend('native');
  setBackend(native.name);
  for (const k of Object.keys(tsBackend)) assert.equal(typeof (native as unknown as Record<string, unknown>)[k], typeof (tsBackend as unknown as Record<string, unknown>)[k], k);
});

test('the native backend is the default when it loaded; both are listed', () => {
  if (!loaded) {
    assert.deepEqual(availableBackends(), ['ts']);
    return;
  }
  assert.deepEqual(availableBackends().sort(), ['native', 'ts']);
  if (process.env.QKV_BACKEND !== 'ts') assert.equal(nativeStatus().active, backend().name);
});

test('nativeStatus reports what qkv doctor needs', () => {
  const s = nativeStatus();
  assert.equal(typeof s.loaded, 'boolean');
  assert.equal(s.loaded, loaded);
  assert.match(s.path, /build[/\\]Release[/\\]qkv_native\.node$/);
  assert.equal(typeof s.threads, 'number');
  assert.ok('avx2' in s.cpuFeatures || Object.keys(s.cpuFeatures).length === 0);
  if (loaded) {
    assert.equal(s.error, null);
    assert.ok(s.isa === 'avx2' || s.isa === 'scalar');
  } else {
    assert.ok(s.error && s.error.length > 0);
  }
});

test('setNumThreads validates its argument and getNumThreads reports it', () => {
  const prev = getNumThreads();
  assert.throws(() => setNumThreads(0), /setNumThreads: expected an integer from 1 to 256, got 0/);
  assert.throws(() => setNumThreads(1.5), /got 1\.5/);
  assert.throws(() => setNumThreads(300), /got 300/);
  if (loaded) {
    setNumThreads(1);
    assert.equal(getNumThreads(), 1);
    setNumThreads(2);
    assert.equal(getNumThreads(), 2);
    setNumThreads(prev);
  } else {
    setNumThreads(2);
    assert.equal(getNumThreads(), 1, 'the TypeScript backend is single-threaded');
  }
});

test('a missing addon is reported with the path and what to do', () => {
  const r = loadNativeAddon('/nonexistent/qkv_native.node');
  assert.equal(r.addon, null);
  assert.match(r.error!, /the addon is not built \(\/nonexistent\/qkv_native\.node is missing; run `npm rebuild qkv`/);
});

test('float64, integer and bool work goes to the TypeScript kernels on the native backend', { skip: loaded ? false : 'addon not loaded' }, () => {
  const prev = backend().name;
  try {
    const a = randn([5, 7], { dtype: 'float64' }), b = randn([7, 3], { dtype: 'float64' });
    setBackend('ts');
    const ref = matmul(a, b).toFlat();
    setBackend('native');
    const got = matmul(a, b);
    assert.equal(got.dtype, 'float64');
    assert.deepEqual(Array.from(got.toFlat()), Array.from(ref), 'bit-identical: the same TypeScript kernel ran');
    const i = randn([4]).gt(0).logicalAnd(randn([4]).lt(1));
    assert.equal(i.dtype, 'bool');
  } finally {
    setBackend(prev);
  }
});

test('QKV_BACKEND=ts does not load the addon and says why; QKV_BACKEND=native forces it; anything else is an error', { skip: distSkip }, () => {
  const show = "import('./dist/index.js').then((q) => { q.tensor([1, 2]).add(1); const s = q.nativeStatus(); console.log(JSON.stringify({ names: q.availableBackends(), active: s.active, loaded: s.loaded, error: s.error, threads: q.getNumThreads() })); })";
  const ts = child(show, { QKV_BACKEND: 'ts' });
  assert.equal(ts.status, 0, ts.err);
  const t = JSON.parse(ts.out);
  assert.deepEqual(t.names, ['ts']);
  assert.equal(t.active, 'ts');
  assert.match(t.error, /QKV_BACKEND=ts/);
  assert.equal(ts.err, '', 'no warning when the TypeScript backend was chosen');
  if (loaded) {
    const nat = child(show, { QKV_BACKEND: 'native', QKV_NUM_THREADS: '1' });
    assert.equal(nat.status, 0, nat.err);
    const n = JSON.parse(nat.out);
    assert.equal(n.active, 'native');
    assert.equal(n.threads, 1, 'QKV_NUM_THREADS=1');
  }
  const bad = child(show, { QKV_BACKEND: 'cuda' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.err, /QKV_BACKEND must be "ts" or "native" \(or unset\), got "cuda"/);
  const badThreads = child(show, { QKV_BACKEND: undefined, QKV_NUM_THREADS: 'many' });
  assert.equal(badThreads.status, 0);
  if (loaded) assert.match(badThreads.err, /qkv: ignoring QKV_NUM_THREADS=many \(expected an integer from 1 to 256\)/);
});

test('without the addon, qkv runs on the TypeScript backend and warns once on stderr; QKV_BACKEND=native then fails clearly', { skip: distSkip }, () => {
  // A copy of the compiled package without build/: what a failed native build leaves.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-noaddon-'));
  try {
    fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const code = "import('./dist/index.js').then((q) => { const y = q.tensor([[1, 2], [3, 4]]).matmul(q.tensor([[1], [1]])); q.tensor([1]).exp(); console.log(JSON.stringify({ y: y.toArray(), names: q.availableBackends(), s: q.nativeStatus() })); })";
    const r = child(code, { QKV_BACKEND: undefined }, dir);
    assert.equal(r.status, 0, r.err);
    const o = JSON.parse(r.out);
    assert.deepEqual(o.y, [[3], [7]]);
    assert.deepEqual(o.names, ['ts']);
    assert.equal(o.s.loaded, false);
    assert.match(o.s.error, /the addon is not built/);
    const warnings = r.err.split('\n').filter((l) => l.includes('native backend unavailable'));
    assert.equal(warnings.length, 1, `exactly one warning line, got: ${r.err}`);
    assert.match(warnings[0], /^qkv: WARNING: native backend unavailable, using the \(much slower\) TypeScript backend: the addon is not built/);
    const forced = child(code, { QKV_BACKEND: 'native' }, dir);
    assert.notEqual(forced.status, 0);
    assert.match(forced.err, /QKV_BACKEND=native, but the native backend is unavailable: the addon is not built/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
