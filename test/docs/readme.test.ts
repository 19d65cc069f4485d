/**
 * Runs every ```ts example in README.md as written (importing 'qkv' from the sources) and, when
 * a ```text block follows it, compares what it prints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```(?:\s*\n(?:[^\n`]*\n)?\s*```text\n([\s\S]*?)```)?/g)];

test('the README has runnable examples', () => {
  assert.ok(blocks.length >= 1);
});

blocks.forEach((m, i) => {
  test(`README example ${i + 1} runs as written${m[2] ? ' and prints what the README says' : ''}`, () => {
    const src = m[1].replaceAll(/from 'qkv'/g, `from ${JSON.stringify(path.join(root, 'src', 'index.ts'))}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkv-readme-'));
    const file = path.join(dir, `example-${i + 1}.ts`);
    fs.writeFileSync(file, src);
    try {
      const out = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' });
      if (m[2] !== undefined) assert.equal(out.trim(), m[2].trim());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
