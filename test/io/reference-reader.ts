/**
 * A reference safetensors reader for the tests: it says whether the official reader
 * (huggingface/safetensors, Rust: `SafeTensors::read_metadata` in safetensors/src/tensor.rs)
 * accepts a file, and nothing else. Written from that code's rules and serde_json's, and
 * independently of src/io (its own JSON scanner, no JSON.parse), so that the fuzz tests can
 * compare verdicts: a file qkv accepts must be one this reader accepts.
 *
 * The rules modelled:
 * - 8-byte little-endian length N; N ≤ 100,000,000; 8 + N ≤ file size; the header is UTF-8.
 * - serde_json: whitespace is space, tab, CR, LF; strings refuse raw control characters and any
 *   escape that leaves a lone UTF-16 surrogate; numbers follow JSON's grammar and are u64 (plain
 *   digits ≤ 2^64 − 1), i64 (negative, not −0) or f64 (a fraction, an exponent, −0, or out of
 *   range); nesting deeper than 127 fails (recursion limit 128); nothing but whitespace after
 *   the value.
 * - The header deserialises into `HashMetadata { __metadata__: Option<HashMap<String, String>>,
 *   #[serde(flatten)] tensors: HashMap<String, TensorInfo> }`: an object; `__metadata__` twice is
 *   a duplicate-field error, null is None, otherwise an object of strings (a repeated key: the
 *   last wins); every other key is a tensor (a repeated name: the last wins).
 * - `TensorInfo { dtype: Dtype, shape: Vec<usize>, data_offsets: (usize, usize) }` from an object
 *   (unknown fields ignored, a repeated field is an error, a missing one too) or from an array
 *   of exactly three values; `Dtype` a variant name (or a one-key object {name: null}); usize
 *   takes only u64 numbers.
 * - `Metadata::validate`: sorted by data_offsets, each tensor begins where the previous ended,
 *   end ≥ begin, element count and bit count without u64 overflow, whole bytes, end − begin =
 *   the byte count; and the data section ends exactly at the end of the file.
 */

export type Verdict = { ok: true } | { ok: false; reason: string };

const MAX_HEADER = 100_000_000n;
const U64_MAX = 2n ** 64n - 1n;
const BITS: Record<string, number> = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
};

type JNum = { t: 'num'; kind: 'u64' | 'i64' | 'f64'; big: bigint | null };
type JVal = null | boolean | string | JNum | JVal[] | { t: 'obj'; entries: [string, JVal][] };

class Reject extends Error {}
const reject = (why: string): never => { throw new Reject(why); };

/** serde_json's scanner, as far as accept/reject goes. */
function parseJson(text: string): JVal {
  let i = 0;
  let depth = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const hex4 = (): number => {
    const h = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) reject('bad \\u escape');
    i += 4;
    return parseInt(h, 16);
  };
  const str = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) reject('EOF in string');
      const c = text[i];
      const code = text.charCodeAt(i);
      if (c === '"') { i++; return out; }
      if (code < 0x20) reject('control character in string');
      if (c !== '\\') {
        // A raw character (the text came from valid UTF-8, so raw surrogates come in pairs).
        out += c;
        i++;
        continue;
      }
      i++;
      const e = text[i++];
      if (e === undefined) reject('EOF in escape');
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e in simple) { out += simple[e]; continue; }
      if (e !== 'u') reject('invalid escape');
      const u = hex4();
      if (u >= 0xdc00 && u <= 0xdfff) reject('lone trailing surrogate');
      if (u >= 0xd800 && u <= 0xdbff) {
        if (text[i] !== '\\' || text[i + 1] !== 'u') reject('lone leading surrogate');
        i += 2;
        const lo = hex4();
        if (lo < 0xdc00 || lo > 0xdfff) reject('lone leading surrogate');
        out += String.fromCharCode(u, lo);
        continue;
      }
      out += String.fromCharCode(u);
    }
  };
  const num = (): JNum => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!m) return reject('invalid value');
    i += m[0].length;
    if (m[2] !== undefined || m[3] !== undefined) return { t: 'num', kind: 'f64', big: null };
    const v = BigInt(m[0]);
    if (!m[0].startsWith('-')) return v <= U64_MAX ? { t: 'num', kind: 'u64', big: v } : { t: 'num', kind: 'f64', big: null };
    if (v === 0n || v < -(2n ** 63n)) return { t: 'num', kind: 'f64', big: null };
    return { t: 'num', kind: 'i64', big: v };
  };
  const value = (): JVal => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      if (++depth >= 128) reject('recursion limit exceeded');
      i++;
      const close = c === '{' ? '}' : ']';
      const entries: [string, JVal][] = [];
      const items: JVal[] = [];
      ws();
      if (text[i] === close) i++;
      else {
        for (;;) {
          if (c === '{') {
            ws();
            if (text[i] !== '"') reject('key must be a string');
            const k = str();
            ws();
            if (text[i++] !== ':') reject("expected ':'");
            entries.push([k, value()]);
          } else items.push(value());
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === close) { i++; break; }
          reject(`expected ',' or '${close}'`);
        }
      }
      depth--;
      return c === '{' ? { t: 'obj', entries } : items;
    }
    if (c === '"') return str();
    for (const [w, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(w, i)) { i += w.length; return v; }
    }
    return num();
  };
  const v = value();
  ws();
  if (i !== text.length) reject('trailing characters');
  return v;
}

const isObj = (v: JVal): v is { t: 'obj'; entries: [string, JVal][] } => v !== null && typeof v === 'object' && !Array.isArray(v) && v.t === 'obj';
const isNum = (v: JVal): v is JNum => v !== null && typeof v === 'object' && !Array.isArray(v) && v.t === 'num';

function usize(v: JVal, what: string): bigint {
  if (!isNum(v) || v.kind !== 'u64') return reject(`${what}: not an unsigned integer`);
  return v.big!;
}

function dtypeOf(v: JVal): string {
  if (typeof v === 'string') return v in BITS ? v : reject(`unknown variant ${v}`);
  if (isObj(v) && v.entries.length === 1 && v.entries[0][1] === null) return dtypeOf(v.entries[0][0]);
  return reject('dtype: expected a variant name');
}

interface Info { dtype: string; shape: bigint[]; begin: bigint; end: bigint }

function tensorInfo(v: JVal): Info {
  let dtype: JVal | undefined, shape: JVal | undefined, offsets: JVal | undefined;
  if (Array.isArray(v)) {
    if (v.length !== 3) reject('TensorInfo: invalid length');
    [dtype, shape, offsets] = v;
  } else if (isObj(v)) {
    const seen = new Set<string>();
    for (const [k, x] of v.entries) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') continue; // ignored field
      if (seen.has(k)) reject(`duplicate field ${k}`);
      seen.add(k);
      if (k === 'dtype') dtype = x;
      else if (k === 'shape') shape = x;
      else offsets = x;
    }
    if (dtype === undefined || shape === undefined || offsets === undefined) reject('missing field');
  } else reject('TensorInfo: expected a struct');
  const d = dtypeOf(dtype!);
  if (!Array.isArray(shape)) return reject('shape: expected a sequence');
  const dims = shape.map((s) => usize(s, 'shape'));
  if (!Array.isArray(offsets) || offsets.length !== 2) return reject('data_offsets: expected a tuple of 2');
  return { dtype: d, shape: dims, begin: usize(offsets[0], 'offset'), end: usize(offsets[1], 'offset') };
}

/** Would the official safetensors reader accept these bytes? */
export function referenceVerdict(bytes: Uint8Array): Verdict {
  try {
    if (bytes.length < 8) reject('HeaderTooSmall');
    const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (n > MAX_HEADER) reject('HeaderTooLarge');
    if (8n + n > BigInt(bytes.length)) reject('InvalidHeaderLength');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + Number(n)));
    } catch {
      return reject('InvalidHeader (not UTF-8)');
    }
    const root = parseJson(text);
    if (!isObj(root)) reject('InvalidHeaderDeserialization: not a map');
    const tensors = new Map<string, Info>();
    let metadataSeen = false;
    for (const [k, v] of (root as { entries: [string, JVal][] }).entries) {
      if (k === '__metadata__') {
        if (metadataSeen) reject('duplicate field __metadata__');
        metadataSeen = true;
        if (v === null) continue;
        if (!isObj(v)) reject('__metadata__: expected a map');
        for (const [, x] of (v as { entries: [string, JVal][] }).entries) if (typeof x !== 'string') reject('__metadata__: expected string values');
        continue;
      }
      tensors.set(k, tensorInfo(v));
    }
    const infos = [...tensors.values()].sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0));
    let start = 0n;
    for (const t of infos) {
      if (t.begin !== start || t.end < t.begin) reject('InvalidOffset');
      start = t.end;
      let count = 1n;
      for (const s of t.shape) {
        count *= s;
        if (count > U64_MAX) reject('ValidationOverflow');
      }
      const bits = count * BigInt(BITS[t.dtype]);
      if (bits > U64_MAX) reject('ValidationOverflow');
      if (bits % 8n !== 0n) reject('MisalignedSlice');
      if (t.end - t.begin !== bits / 8n) reject('TensorInvalidInfo');
    }
    if (start + 8n + n !== BigInt(bytes.length)) reject('MetadataIncompleteBuffer');
    return { ok: true };
  } catch (err) {
    if (err instanceof Reject) return { ok: false, reason: err.message };
    throw err;
  }
}
