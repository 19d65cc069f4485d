/**
 * Every link in the README and in docs/ resolves inside the repository: a relative path to a file
 * or folder that exists (and does not climb out of the repository), or an anchor of a heading of
 * the same file. Links to the web are listed as failures too: the documents must stand on their
 * own in a clone or an installed package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f)), 'src/bench/README.md'];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

/** Markdown links outside code: [text](target) and <target> autolinks. */
function links(md: string): string[] {
  const prose = md.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g), ...prose.matchAll(/<(https?:\/\/[^>]+)>/g)].map((m) => m[1]);
}

for (const doc of docs) {
  test(`every link in ${doc} resolves inside the repository`, () => {
    const file = path.join(root, doc);
    const md = fs.readFileSync(file, 'utf8');
    const anchors = new Set([...md.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1])));
    const bad: string[] = [];
    for (const link of links(md)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) {
        bad.push(`${link}: a link out of the repository`);
        continue;
      }
      const [target, anchor] = link.split('#');
      if (target === '') {
        if (!anchors.has(anchor)) bad.push(`${link}: no heading with that anchor in ${doc}`);
        continue;
      }
      const resolved = path.resolve(path.dirname(file), decodeURIComponent(target));
      if (path.relative(root, resolved).startsWith('..')) bad.push(`${link}: outside the repository`);
      else if (!fs.existsSync(resolved)) bad.push(`${link}: ${path.relative(root, resolved)} does not exist`);
    }
    assert.deepEqual(bad, [], `${doc}: ${bad.length} broken link(s)`);
  });
}

test('the link checker catches links out of the repository and missing targets', () => {
  assert.deepEqual(links('see [x](../shared/DESIGN.md), [y](https://example.org) and `[z](not-a-link)`\n```\n[w](in-code)\n```'), ['../shared/DESIGN.md', 'https://example.org']);
  assert.equal(slug('Scale-out to PyTorch'), 'scale-out-to-pytorch');
  assert.ok(links(fs.readFileSync(path.join(root, 'README.md'), 'utf8')).includes('docs/DESIGN.md'), 'the README links to the design document');
});
