/**
 * A strict JSON parser for safetensors headers. Unlike JSON.parse it rejects duplicate keys
 * (JSON.parse silently keeps the last one, which would let two entries claim one name) and it
 * reports the byte position of every top-level key, so errors can name a file offset.
 */
import { SafetensorsError } from '../errors.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface ParsedHeader {
  value: Json;
  /** Character index in the header text of each top-level key. */
  keyPositions: Map<string, number>;
}

export function parseHeaderJson(text: string, baseOffset: number): ParsedHeader {
  let i = 0;
  const keyPositions = new Map<string, number>();
  const fail = (what: string): never => {
    throw new SafetensorsError(`safetensors: invalid JSON header at byte ${baseOffset + byteIndex(text, i)}: ${what}`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const str = (): string => {
    const start = i;
    if (text[i] !== '"') fail('expected a string');
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text.charCodeAt(i) < 0x20) fail('control character in string');
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('bad escape in string');
    }
  };
  const num = (): number => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail('expected a value');
    i += m[0].length;
    return Number(m[0]);
  };
  const value = (depth: number, top: boolean): Json => {
    if (depth > 64) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [k: string]: Json } = Object.create(null);
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        const at = i;
        const key = str();
        if (Object.prototype.hasOwnProperty.call(obj, key)) {
          i = at;
          fail(`duplicate key ${JSON.stringify(key)}`);
        }
        if (top) keyPositions.set(key, at);
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj[key] = value(depth + 1, false);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return obj; }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: Json[] = [];
      ws();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(value(depth + 1, false));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return arr; }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    return num();
  };
  const v = value(0, true);
  ws();
  if (i !== text.length) fail('trailing characters after the JSON object');
  return { value: v, keyPositions };
}

/** UTF-8 byte index of character index `i` in `text`. */
export function byteIndex(text: string, i: number): number {
  return Buffer.byteLength(text.slice(0, i), 'utf8');
}
