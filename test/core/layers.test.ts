/**
 * The layering of src/ (README "How the code is laid out"): every import points down or
 * sideways within its layer, and no files import each other in a circle — type-only imports
 * included, since a circle of types is a circle of concepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Layers from the bottom: a file may import files of its own layer or below. */
const LAYERS: string[][] = [
  ['errors.ts', 'dtype.ts', 'options.ts', 'version.ts', 'strides.ts', 'math.ts'],
  ['backend/'],
  ['tensor/'],
  ['autograd/'],
  ['io/', 'data/'],
  ['ops/'],
  ['optim/'],
  ['nn/'],
  ['models/'],
  ['inspect/', 'train/'],
  ['lab/'],
  ['bench/'],
  ['cli/'],
  ['index.ts'],
];

function layerOf(rel: string): number {
  const i = LAYERS.findIndex((l) => l.some((p) => (p.endsWith('/') ? rel.startsWith(p) : rel === p)));
  if (i < 0) throw new Error(`${rel} belongs to no layer: add its folder to LAYERS (and to the README map)`);
  return i;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, re-exports, type-only and dynamic), as src-relative paths. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+'([^']+)'/gm),
    ...text.matchAll(/^\s*import\s+'([^']+)'/gm),
    ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1]);
  return specs
    .filter((s) => s.startsWith('.'))
    .map((s) => path.relative(SRC, path.resolve(path.dirname(file), s)).replace(/\.js$/, '.ts'));
}

const files = sourceFiles(SRC).map((f) => path.relative(SRC, f));
const graph = new Map(files.map((f) => [f, importsOf(path.join(SRC, f))]));

test('every source file belongs to a layer and imports only existing files', () => {
  for (const [file, deps] of graph) {
    layerOf(file);
    for (const d of deps) assert.ok(graph.has(d), `${file} imports ${d}, which is not a source file`);
  }
});

test('imports point down the layers (or stay within one)', () => {
  const upward: string[] = [];
  for (const [file, deps] of graph) {
    for (const d of deps) {
      if (layerOf(d) > layerOf(file)) upward.push(`${file} (layer ${layerOf(file)}) imports ${d} (layer ${layerOf(d)})`);
    }
  }
  assert.deepEqual(upward, []);
});

test('only the backend reaches its implementations (backend/ts, backend/native): others use the interface', () => {
  const past: string[] = [];
  for (const [file, deps] of graph) {
    if (file.startsWith('backend/')) continue;
    for (const d of deps) if (/^backend\/(ts|native|wasm)\//.test(d)) past.push(`${file} imports ${d}`);
  }
  assert.deepEqual(past, []);
});

/** Groups of files that import each other in a circle (Tarjan's strongly connected components). */
function circles(g: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const f of g.keys()) if (!index.has(f)) visit(f);
  return found;
}

test('no import circles between files', () => {
  assert.deepEqual(circles(graph), []);
});

test('the checkers can fail: a circle and the import forms are recognised', () => {
  const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
  assert.deepEqual(circles(g), [['a', 'b', 'c']]);
  const t = importsOf(path.join(SRC, 'ops', 'tensor-methods.ts'));
  assert.ok(t.includes('tensor/tensor.ts') && t.includes('autograd/tensor-methods.ts'), `parsed ${t.join(', ')}`);
  assert.ok(layerOf('cli/main.ts') > layerOf('tensor/tensor.ts'));
});

test("the README's map (How the code is laid out) lists every folder of src/ and only those", () => {
  const readme = fs.readFileSync(path.join(SRC, '..', 'README.md'), 'utf8');
  const section = readme.split('## How the code is laid out')[1]?.split('\n## ')[0] ?? '';
  const block = section.split('```')[1] ?? '';
  const listed = [...block.matchAll(/^src\/([a-z-]+)\//gm)].map((m) => m[1]).sort();
  const folders = fs.readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  assert.deepEqual(listed, folders);
  for (const top of [...block.matchAll(/^([a-z]+)\/ /gm)].map((m) => m[1])) {
    assert.ok(fs.existsSync(path.join(SRC, '..', top)), `the map lists ${top}/, which does not exist`);
  }
  // And the map's order is the layer order (top of the map = highest layer).
  const order = listed.length ? [...block.matchAll(/^src\/([a-z-]+)\//gm)].map((m) => layerOf(`${m[1]}/x.ts`)) : [];
  assert.deepEqual(order, [...order].sort((a, b) => b - a), 'folders are listed from the top layer down');
});
