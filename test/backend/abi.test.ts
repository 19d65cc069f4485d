/**
 * The native call descriptor: native/abi.h (the definition) and src/backend/native/abi.ts (what
 * the TypeScript writer uses) agree entry for entry; the built addon exports the same layout;
 * and the loader refuses an addon with another layout, saying to rebuild it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ABI, abiMismatch, type AbiLayout } from '../../src/backend/native/abi.js';
import { loadNativeAddon } from '../../src/backend/native/index.js';
import { BINARY_OPS, UNARY_OPS } from '../../src/backend/backend.js';
import { nativeAddon } from '../../src/backend/index.js';

const header = fileURLToPath(new URL('../../native/abi.h', import.meta.url));

/** The X(C name, JavaScript name, value) entries of QKV_ABI_TABLE in native/abi.h, in order. */
function headerTable(): [string, number][] {
  const text = readFileSync(header, 'utf8');
  const start = text.indexOf('#define QKV_ABI_TABLE(X)');
  assert.ok(start >= 0, 'native/abi.h defines QKV_ABI_TABLE');
  // The macro runs to the first line that does not end in a backslash.
  const lines: string[] = [];
  for (const line of text.slice(start).split('\n')) {
    lines.push(line);
    if (!line.trimEnd().endsWith('\\')) break;
  }
  return [...lines.join('\n').matchAll(/\bX\(\s*(\w+)\s*,\s*(\w+)\s*,\s*(-?\d+)\s*\)/g)].map((m) => [m[2], Number(m[3])]);
}

test('native/abi.h and abi.ts list the same call-descriptor layout, entry for entry', () => {
  const table = headerTable();
  assert.ok(table.length >= 20, `parsed ${table.length} entries from native/abi.h`);
  assert.deepEqual(table, Object.entries(ABI));
});

test('the layout is consistent: records end to end, scalars before the first record', () => {
  const L: AbiLayout = ABI; // numbers, not the literal types of the constants
  assert.equal(L.viewStrides, L.viewShape + L.maxDims);
  assert.equal(L.viewSize, L.viewStrides + L.maxDims);
  assert.ok(L.viewNdim < L.viewShape && L.viewOffset < L.viewShape && L.viewNdim !== L.viewOffset);
  assert.ok(L.viewBase >= L.argSlots);
  assert.equal(L.metaLen, L.viewBase + L.maxViews * L.viewSize);
  for (const [k, v] of Object.entries(L)) {
    if (/^(arg|adam)[A-Z]/.test(k) && k !== 'argSlots') assert.ok(v >= 0 && v < L.argSlots, `${k} = ${v} is a scalar slot`);
  }
  // attentionBackward, the widest call, passes 10 typed arrays.
  assert.ok(L.maxViews >= 10);
});

test('the built addon exports the layout abi.ts writes', { skip: nativeAddon() ? false : 'addon not loaded' }, () => {
  assert.deepEqual({ ...nativeAddon()!.abi }, { ...ABI });
  assert.equal(abiMismatch(nativeAddon()!.abi), null);
});

test('abiMismatch names the first difference', () => {
  assert.equal(abiMismatch({ ...ABI }), null);
  assert.equal(abiMismatch({ ...ABI, viewSize: 33 }), 'viewSize is 33 in the addon but 34 here');
  const { adamMaximize: _, ...missing } = ABI;
  assert.equal(abiMismatch(missing), 'its layout has no adamMaximize');
  assert.equal(abiMismatch({ ...ABI, argFoo: 2 }), 'its layout has argFoo, unknown here');
  assert.equal(abiMismatch(undefined), 'it exports no call-descriptor layout');
});

test('the loader refuses an addon built for another layout and says to rebuild it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'qkv-abi-'));
  try {
    const fake = (abi: unknown): string => {
      const file = path.join(dir, `fake-${Math.random().toString(36).slice(2)}.cjs`);
      writeFileSync(file, `module.exports = ${JSON.stringify({ unaryOps: UNARY_OPS, binaryOps: BINARY_OPS, abi })};`);
      return file;
    };
    const stale = fake({ ...ABI, maxViews: 12, metaLen: ABI.viewBase + 12 * ABI.viewSize });
    const r = loadNativeAddon(stale);
    assert.equal(r.addon, null);
    assert.equal(
      r.error,
      `the addon at ${stale} is from another version of qkv (its call-descriptor layout differs: maxViews is 12 in the addon but 10 here); rebuild it with \`npm rebuild qkv\``,
    );
    const old = loadNativeAddon(fake(undefined));
    assert.match(old.error!, /call-descriptor layout differs: it exports no call-descriptor layout\); rebuild it/);
    assert.ok(loadNativeAddon(fake({ ...ABI })).addon, 'the same layout loads');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
