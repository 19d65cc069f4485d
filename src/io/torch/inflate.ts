/**
 * A raw DEFLATE decoder (RFC 1951) for zip entries stored with method 8. torch.save writes its
 * entries uncompressed, but a .pt file re-zipped by another tool is deflated, and PyTorch's reader
 * (miniz) accepts it, so qkv does too.
 *
 * Canonical Huffman decoding one bit at a time (the structure of zlib's reference decoder "puff"):
 * simple and strict rather than fast. The output size is known from the zip directory: writing past
 * it, a distance before the start of the output, an over-subscribed or incomplete code, a reserved
 * block type and running out of input are all TorchLoadErrors naming the entry and the input byte.
 * Work is bounded by the input (every symbol consumes at least one bit) and the declared size.
 */
import { TorchLoadError } from '../../errors.js';

const MAXBITS = 15;
const LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEXT = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DEXT = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** The order in which code-length code lengths are sent. */
const CLORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

interface Huffman {
  /** Number of codes of each length (index 0: unused symbols). */
  count: Uint16Array;
  /** Symbols ordered by code. */
  symbol: Uint16Array;
}

/**
 * Builds a canonical code from code lengths. Returns 0 for a complete code, < 0 when
 * over-subscribed, > 0 when incomplete (the number of missing codes at the longest length).
 */
function construct(h: Huffman, lengths: ArrayLike<number>, from: number, n: number): number {
  h.count.fill(0);
  for (let s = 0; s < n; s++) h.count[lengths[from + s]]++;
  if (h.count[0] === n) return 0;
  let left = 1;
  for (let len = 1; len <= MAXBITS; len++) {
    left <<= 1;
    left -= h.count[len];
    if (left < 0) return left;
  }
  const offs = new Uint16Array(MAXBITS + 1);
  for (let len = 1; len < MAXBITS; len++) offs[len + 1] = offs[len] + h.count[len];
  for (let s = 0; s < n; s++) if (lengths[from + s] !== 0) h.symbol[offs[lengths[from + s]]++] = s;
  return left;
}

const newHuffman = (n: number): Huffman => ({ count: new Uint16Array(MAXBITS + 1), symbol: new Uint16Array(n) });

let fixed: { lit: Huffman; dist: Huffman } | null = null;
function fixedCodes(): { lit: Huffman; dist: Huffman } {
  if (fixed) return fixed;
  const l = new Uint8Array(288);
  for (let s = 0; s < 288; s++) l[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
  const lit = newHuffman(288);
  construct(lit, l, 0, 288);
  const d = new Uint8Array(30).fill(5);
  const dist = newHuffman(30);
  construct(dist, d, 0, 30);
  return (fixed = { lit, dist });
}

/**
 * Inflates `input` (a raw DEFLATE stream) into exactly `size` bytes. `where` names the zip entry
 * for error messages; `fileOffset` is the file position of input[0].
 */
export function inflateRaw(input: Uint8Array, size: number, where: string, fileOffset: number): Uint8Array {
  let out: Uint8Array;
  try {
    out = new Uint8Array(size);
  } catch {
    throw new TorchLoadError(`torch.load: ${where}: cannot allocate ${size} bytes for the inflated entry`);
  }
  let outPos = 0;
  let pos = 0;
  let bitBuf = 0;
  let bitCnt = 0;
  const fail = (what: string): never => {
    throw new TorchLoadError(`torch.load: ${where}: invalid deflate data at file offset ${fileOffset + Math.min(pos, input.length)}: ${what}`);
  };
  const bits = (need: number): number => {
    let val = bitBuf;
    while (bitCnt < need) {
      if (pos >= input.length) fail('the compressed data ends early');
      val |= input[pos++] << bitCnt;
      bitCnt += 8;
    }
    bitBuf = val >>> need;
    bitCnt -= need;
    return val & ((1 << need) - 1);
  };
  const decode = (h: Huffman): number => {
    let code = 0, first = 0, index = 0;
    for (let len = 1; len <= MAXBITS; len++) {
      code |= bits(1);
      const count = h.count[len];
      if (code - count < first) return h.symbol[index + (code - first)];
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    return fail('a Huffman code that the block does not define');
  };
  const codes = (lit: Huffman, dist: Huffman): void => {
    for (;;) {
      let sym = decode(lit);
      if (sym < 256) {
        if (outPos >= size) fail(`the data inflates to more than the ${size} bytes the zip directory declares`);
        out[outPos++] = sym;
      } else if (sym === 256) {
        return;
      } else {
        sym -= 257;
        if (sym >= 29) fail(`length symbol ${sym + 257} is invalid`);
        const len = LBASE[sym] + bits(LEXT[sym]);
        const ds = decode(dist);
        if (ds >= 30) fail(`distance symbol ${ds} is invalid`);
        const d = DBASE[ds] + bits(DEXT[ds]);
        if (d > outPos) fail(`a back-reference of distance ${d} reaches before the start of the output (at ${outPos})`);
        if (outPos + len > size) fail(`the data inflates to more than the ${size} bytes the zip directory declares`);
        for (let i = 0; i < len; i++, outPos++) out[outPos] = out[outPos - d];
      }
    }
  };

  const lengths = new Uint8Array(320);
  const lencode = newHuffman(19), lit = newHuffman(286), dist = newHuffman(30);
  let last = 0;
  do {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      bitBuf = 0;
      bitCnt = 0;
      if (pos + 4 > input.length) fail('a stored block header is cut off');
      const len = input[pos] | (input[pos + 1] << 8);
      const nlen = input[pos + 2] | (input[pos + 3] << 8);
      if (len !== (~nlen & 0xffff)) fail(`stored block length ${len} does not match its complement ${nlen}`);
      pos += 4;
      if (pos + len > input.length) fail('a stored block is cut off');
      if (outPos + len > size) fail(`the data inflates to more than the ${size} bytes the zip directory declares`);
      out.set(input.subarray(pos, pos + len), outPos);
      pos += len;
      outPos += len;
    } else if (type === 1) {
      const f = fixedCodes();
      codes(f.lit, f.dist);
    } else if (type === 2) {
      const nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
      if (nlen > 286 || ndist > 30) fail(`a dynamic block declares ${nlen} length and ${ndist} distance codes (at most 286 and 30)`);
      lengths.fill(0);
      for (let i = 0; i < ncode; i++) lengths[CLORDER[i]] = bits(3);
      if (construct(lencode, lengths, 0, 19) !== 0) fail('the code-length code is incomplete or over-subscribed');
      let index = 0;
      while (index < nlen + ndist) {
        let sym = decode(lencode);
        if (sym < 16) {
          lengths[index++] = sym;
        } else {
          let len = 0;
          if (sym === 16) {
            if (index === 0) fail('a repeat of the previous code length with no previous length');
            len = lengths[index - 1];
            sym = 3 + bits(2);
          } else if (sym === 17) {
            sym = 3 + bits(3);
          } else {
            sym = 11 + bits(7);
          }
          if (index + sym > nlen + ndist) fail('code lengths run past the declared number of codes');
          while (sym--) lengths[index++] = len;
        }
      }
      if (lengths[256] === 0) fail('the block has no end-of-block code');
      let err = construct(lit, lengths, 0, nlen);
      if (err < 0 || (err > 0 && nlen - lit.count[0] !== 1)) fail('the literal/length code is incomplete or over-subscribed');
      err = construct(dist, lengths, nlen, ndist);
      if (err < 0 || (err > 0 && ndist - dist.count[0] !== 1)) fail('the distance code is incomplete or over-subscribed');
      codes(lit, dist);
    } else {
      fail('block type 3 is reserved');
    }
  } while (!last);
  if (outPos !== size) fail(`the data inflates to ${outPos} bytes but the zip directory declares ${size}`);
  return out;
}
