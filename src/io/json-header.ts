/**
 * A strict JSON parser for safetensors headers. Unlike JSON.parse it rejects duplicate keys at
 * any depth (JSON.parse silently keeps the last one, which would let two entries claim one name),
 * it limits nesting (no stack overflow from `[[[[…`), and it reports the byte position of every
 * top-level key, so errors can name a file offset. Objects are created without a prototype, so a
 * key such as `__proto__` is an ordinary key.
 *
 * It is as strict as the reference reader (Rust's serde_json into the header's types) about what
 * a header can hold: every string must be valid Unicode (an escaped lone UTF-16 surrogate such
 * as `"\ud800"` is refused; serde_json refuses it too), and every number must be an integer
 * written as one — digits with an optional minus sign, no fraction, no exponent, not `-0` (the
 * header's numbers are shapes and offsets, which the reference reads as unsigned integers, so
 * `3.0`, `1.2e1` and `-0` are refused there). Negative integers are left to the caller, whose
 * message names the tensor and the field.
 */
import { SafetensorsError } from '../errors.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface ParsedHeader {
  value: Json;
  /** Byte offset (baseOffset + UTF-8 index in the text) of each top-level key's opening quote. */
  keyPositions: Map<string, number>;
}

/** Deepest nesting accepted; a safetensors header needs 3 (object → entry → shape array). */
export const MAX_JSON_DEPTH = 64;

/**
 * Parses `text` as one JSON value. `baseOffset` is the file offset of the text's first byte;
 * `label` names what is parsed in error messages (default: the header).
 */
export function parseHeaderJson(text: string, baseOffset: number, label = 'JSON header'): ParsedHeader {
  let i = 0;
  let topKey: string | null = null;
  let depthNow = 0;
  const keyChars: [string, number][] = [];
  const clip = (k: string): string => {
    const j = JSON.stringify(k);
    return j.length > 120 ? `${j.slice(0, 100)}…(${j.length} characters)` : j;
  };
  const fail = (what: string): never => {
    const inside = depthNow >= 1 && topKey !== null ? ` (inside the entry ${clip(topKey)})` : '';
    throw new SafetensorsError(`safetensors: invalid ${label} at byte ${baseOffset + byteIndex(text, i)}${inside}: ${what}`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const str = (): string => {
    const start = i;
    if (text[i] !== '"') fail('expected a string');
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail('control character in string');
      if (text[i] === '\\') i++;
      i++;
    }
    if (i >= text.length) {
      i = start;
      fail('unterminated string');
    }
    i++;
    let value: string;
    try {
      value = JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return fail('bad escape in string');
    }
    const lone = loneSurrogate(value);
    if (lone >= 0) {
      i = start;
      fail(`the string ${clip(value)} holds a lone UTF-16 surrogate (\\u${value.charCodeAt(lone).toString(16)} escape), which is not Unicode text; the reference reader refuses it`);
    }
    return value;
  };
  const num = (): number => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail(i >= text.length ? 'unexpected end of input, expected a value' : 'expected a value');
    if (m[2] !== undefined || m[3] !== undefined || m[0] === '-0') {
      fail(`the number ${m[0].length > 40 ? `${m[0].slice(0, 40)}…` : m[0]} is not an integer written as digits; a header's numbers are shapes and data_offsets, which the reference reader reads as unsigned integers (it refuses 3.0, 1.2e1 and -0)`);
    }
    i += m[0].length;
    return Number(m[0]);
  };
  const value = (depth: number): Json => {
    if (depth > MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
    depthNow = depth;
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
          fail(`duplicate key ${clip(key)}`);
        }
        if (depth === 0) {
          keyChars.push([key, at]);
          topKey = key;
        }
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj[key] = value(depth + 1);
        depthNow = depth;
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
        arr.push(value(depth + 1));
        depthNow = depth;
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
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing characters after the JSON value');
  // Character → byte positions in one pass (keys appear in increasing order).
  const keyPositions = new Map<string, number>();
  let chars = 0, bytes = 0;
  for (const [key, at] of keyChars) {
    bytes += utf8Length(text, chars, at);
    chars = at;
    keyPositions.set(key, baseOffset + bytes);
  }
  return { value: v, keyPositions };
}

/** Index of the first unpaired UTF-16 surrogate in `s`, or -1 when `s` is well-formed Unicode. */
export function loneSurrogate(s: string): number {
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && k + 1 < s.length && (s.charCodeAt(k + 1) & 0xfc00) === 0xdc00) { k++; continue; }
    return k;
  }
  return -1;
}

/** UTF-8 length of text[from, to). */
function utf8Length(text: string, from: number, to: number): number {
  let n = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && k + 1 < to && (text.charCodeAt(k + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      k++;
    } else n += 3;
  }
  return n;
}

/** UTF-8 byte index of character index `i` in `text`. */
export function byteIndex(text: string, i: number): number {
  return utf8Length(text, 0, Math.min(i, text.length));
}

/**
 * Index of the first byte at which `bytes` stops being valid UTF-8 (overlong forms, surrogates
 * and code points above U+10FFFF are invalid), or -1 when it is valid.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let k = 0;
  while (k < bytes.length) {
    const b = bytes[k];
    if (b < 0x80) { k++; continue; }
    let need: number, lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return k;
    for (let j = 1; j <= need; j++) {
      const c = bytes[k + j];
      if (c === undefined) return k;
      if (c < (j === 1 ? lo : 0x80) || c > (j === 1 ? hi : 0xbf)) return k;
    }
    k += need + 1;
  }
  return -1;
}
