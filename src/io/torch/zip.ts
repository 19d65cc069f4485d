/**
 * The zip container of torch.save files (PyTorch ≥ 1.6), read and written without `node:`.
 *
 * What torch writes (PyTorchStreamWriter over miniz): every entry under one folder (`<stem>/…`,
 * `archive/…` for a buffer), stored (method 0), with a data descriptor (flag bit 3, so the local
 * header's CRC and sizes are 0), the data aligned to 64 bytes by an extra field `FB` of padding,
 * then a central directory, a ZIP64 end-of-central-directory record and locator, and the classic
 * end record. Entries: `data.pkl`, `data/<key>` for each storage, `version` (and since PyTorch 2,
 * `byteorder`, `.data/version`, `.data/serialization_id`).
 *
 * The reader follows the central directory (as miniz does) and checks, with a TorchLoadError
 * naming the entry and the file offset: the end record is found and consistent (single disk,
 * entry counts, directory inside the file), ZIP64 records where present, every directory entry
 * (signature, lengths within the directory, ZIP64 extra fields when a field is saturated), no
 * duplicate names, each local header (signature, same name and method; same CRC and sizes unless a
 * data descriptor is used), the data inside the file and before the directory, no encryption,
 * method 0 (stored, sizes equal) or 8 (deflate, inflated here), and the CRC-32 of what it reads.
 */
import { TorchLoadError } from '../../errors.js';
import { crc32 } from './crc32.js';
import { inflateRaw } from './inflate.js';

/** Random access to the bytes of a file or buffer (the reader never needs all of it at once). */
export interface ByteSource {
  readonly size: number;
  /** Bytes [offset, offset + length); the caller guarantees offset + length ≤ size. */
  read(offset: number, length: number): Uint8Array;
  /** True when `read` returns a new buffer the caller may keep (a file read), false for a view. */
  readonly fresh: boolean;
}

/** A ByteSource over bytes in memory (reads are views; nothing is copied here). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (o, n) => bytes.subarray(o, o + n), fresh: false };
}

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  /** File offset of this entry's central directory record (for messages). */
  directoryOffset: number;
  /** Raw name bytes, compared with the local header's. */
  nameBytes: Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;
/** Deflate cannot expand data by more than this factor (a zip bomb claims more and is refused). */
const MAX_DEFLATE_RATIO = 1032;

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function u64(view: DataView, at: number, what: string, fileOffset: number): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TorchLoadError(`torch.load: zip: ${what} at file offset ${fileOffset} is ${v}, beyond 2^53`);
  return Number(v);
}

function decodeName(bytes: Uint8Array, utf8: boolean, at: number): string {
  if (utf8) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new TorchLoadError(`torch.load: zip: the entry name at file offset ${at} is flagged UTF-8 but is not valid UTF-8`);
    }
  }
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** The central directory of a zip file, and reads of its entries. */
export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  /** Entries in directory order. */
  readonly order: ZipEntry[] = [];
  /** Where the central directory starts: every entry's data must end before it. */
  readonly directoryStart: number;

  constructor(readonly source: ByteSource) {
    const size = source.size;
    const fail = (msg: string): never => {
      throw new TorchLoadError(`torch.load: zip: ${msg}`);
    };
    if (size < 22) fail(`the file is ${size} bytes, too short for a zip end-of-central-directory record (22 bytes)`);
    // The end record is 22 bytes plus a comment of at most 65,535 bytes: search backwards.
    const tailLen = Math.min(size, 22 + 0xffff);
    const tailStart = size - tailLen;
    const tail = source.read(tailStart, tailLen);
    const tv = dv(tail);
    let endAt = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail[i] === 0x50 && tv.getUint32(i, true) === SIG_END) {
        endAt = i;
        break;
      }
    }
    if (endAt < 0) fail(`no end-of-central-directory record in the last ${tailLen} bytes (the file is truncated or not a zip)`);
    const endOffset = tailStart + endAt;
    const disk = tv.getUint16(endAt + 4, true), cdDisk = tv.getUint16(endAt + 6, true);
    let count = tv.getUint16(endAt + 10, true);
    const countOnDisk = tv.getUint16(endAt + 8, true);
    let cdSize = tv.getUint32(endAt + 12, true);
    let cdOffset = tv.getUint32(endAt + 16, true);
    let limit = endOffset; // the directory ends before the end record (or the ZIP64 record)
    // A ZIP64 locator sits just before the end record; torch always writes one.
    if (endOffset >= 20) {
      const loc = source.read(endOffset - 20, 20), lv = dv(loc);
      if (lv.getUint32(0, true) === SIG_LOCATOR64) {
        const at = endOffset - 20;
        if (lv.getUint32(4, true) !== 0 || lv.getUint32(16, true) > 1) fail(`the ZIP64 locator at file offset ${at} describes a multi-disk archive`);
        const rec = u64(lv, 8, 'the ZIP64 end record offset', at + 8);
        if (rec + 56 > at) fail(`the ZIP64 end record offset ${rec} (locator at file offset ${at}) leaves no room for the 56-byte record before the locator`);
        const r = source.read(rec, 56), rv = dv(r);
        if (rv.getUint32(0, true) !== SIG_END64) fail(`no ZIP64 end-of-central-directory record at file offset ${rec}, where the locator at ${at} points`);
        if (rv.getUint32(16, true) !== 0 || rv.getUint32(20, true) !== 0) fail(`the ZIP64 end record at file offset ${rec} describes a multi-disk archive`);
        const count64 = u64(rv, 32, 'the ZIP64 entry count', rec + 32);
        const onDisk64 = u64(rv, 24, 'the ZIP64 entry count on this disk', rec + 24);
        const size64 = u64(rv, 40, 'the ZIP64 central directory size', rec + 40);
        const offset64 = u64(rv, 48, 'the ZIP64 central directory offset', rec + 48);
        if (onDisk64 !== count64) fail(`the ZIP64 end record at file offset ${rec} counts ${onDisk64} entries on this disk but ${count64} in all`);
        const agree = (v32: number, sat: number, v64: number, what: string): void => {
          if (v32 !== sat && v32 !== v64) fail(`the end record at file offset ${endOffset} says ${what} ${v32}, the ZIP64 record at ${rec} says ${v64}`);
        };
        agree(count, U16_MAX, count64, 'entry count');
        agree(cdSize, U32_MAX, size64, 'central directory size');
        agree(cdOffset, U32_MAX, offset64, 'central directory offset');
        count = count64;
        cdSize = size64;
        cdOffset = offset64;
        limit = rec;
      }
    }
    if (limit === endOffset) {
      if (disk !== 0 || cdDisk !== 0) fail(`the end record at file offset ${endOffset} describes a multi-disk archive (disk ${disk}, directory on disk ${cdDisk})`);
      if (countOnDisk !== count) fail(`the end record at file offset ${endOffset} counts ${countOnDisk} entries on this disk but ${count} in all`);
    }
    if (cdOffset + cdSize > limit) {
      fail(`the central directory (offset ${cdOffset}, ${cdSize} bytes) runs past the end record at file offset ${limit}`);
    }
    if (count * 46 > cdSize) fail(`the end record counts ${count} entries, but a ${cdSize}-byte central directory holds at most ${Math.floor(cdSize / 46)}`);
    this.directoryStart = cdOffset;
    const cd = source.read(cdOffset, cdSize), cv = dv(cd);
    let p = 0;
    for (let i = 0; i < count; i++) {
      const at = cdOffset + p;
      if (p + 46 > cdSize) fail(`central directory entry ${i} at file offset ${at} runs past the end of the directory`);
      if (cv.getUint32(p, true) !== SIG_CENTRAL) fail(`central directory entry ${i}: bad signature at file offset ${at}`);
      const flags = cv.getUint16(p + 8, true), method = cv.getUint16(p + 10, true), crc = cv.getUint32(p + 16, true);
      let compressedSize = cv.getUint32(p + 20, true), sz = cv.getUint32(p + 24, true);
      const nameLen = cv.getUint16(p + 28, true), extraLen = cv.getUint16(p + 30, true), commentLen = cv.getUint16(p + 32, true);
      const diskStart = cv.getUint16(p + 34, true);
      let localOffset = cv.getUint32(p + 42, true);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cdSize) fail(`central directory entry ${i} at file offset ${at}: its name, extra field and comment (${nameLen + extraLen + commentLen} bytes) run past the end of the directory`);
      const nameBytes = cd.slice(p + 46, p + 46 + nameLen);
      const name = decodeName(nameBytes, (flags & 0x800) !== 0, at + 46);
      // ZIP64 extended information: the saturated fields, in this order.
      if (sz === U32_MAX || compressedSize === U32_MAX || localOffset === U32_MAX || diskStart === U16_MAX) {
        let e = p + 46 + nameLen;
        const eEnd = e + extraLen;
        let found = false;
        while (e + 4 <= eEnd) {
          const id = cv.getUint16(e, true), len = cv.getUint16(e + 2, true);
          if (e + 4 + len > eEnd) fail(`entry ${JSON.stringify(name)}: an extra field at file offset ${cdOffset + e} runs past the entry's extra data`);
          if (id === 0x0001) {
            found = true;
            let q = e + 4;
            const take = (what: string): number => {
              if (q + 8 > e + 4 + len) fail(`entry ${JSON.stringify(name)}: the ZIP64 extra field at file offset ${cdOffset + e} is too short for the ${what}`);
              const v = u64(cv, q, `entry ${JSON.stringify(name)}: ZIP64 ${what}`, cdOffset + q);
              q += 8;
              return v;
            };
            if (sz === U32_MAX) sz = take('uncompressed size');
            if (compressedSize === U32_MAX) compressedSize = take('compressed size');
            if (localOffset === U32_MAX) localOffset = take('local header offset');
            break;
          }
          e += 4 + len;
        }
        if (!found) fail(`entry ${JSON.stringify(name)} (file offset ${at}) has saturated size or offset fields but no ZIP64 extra field`);
      }
      if (diskStart !== 0 && diskStart !== U16_MAX) fail(`entry ${JSON.stringify(name)} (file offset ${at}) starts on disk ${diskStart}; multi-disk archives are not supported`);
      if (this.entries.has(name)) fail(`the entry name ${JSON.stringify(name)} appears twice (second at file offset ${at}); the archive is inconsistent`);
      const entry: ZipEntry = { name, method, flags, crc, compressedSize, size: sz, localOffset, directoryOffset: at, nameBytes };
      this.entries.set(name, entry);
      this.order.push(entry);
      p = end;
    }
    if (p !== cdSize) fail(`the central directory is ${cdSize} bytes but its ${count} entries fill ${p}; the archive is inconsistent`);
  }

  /** The file offset where an entry's data starts (after checking its local header). */
  dataOffset(e: ZipEntry): number {
    const fail = (msg: string): never => {
      throw new TorchLoadError(`torch.load: zip entry ${JSON.stringify(e.name)}: ${msg}`);
    };
    if (e.localOffset + 30 > this.directoryStart) fail(`the local header offset ${e.localOffset} is not before the central directory (file offset ${this.directoryStart})`);
    const h = this.source.read(e.localOffset, 30), hv = dv(h);
    if (hv.getUint32(0, true) !== SIG_LOCAL) fail(`no local header signature at file offset ${e.localOffset}`);
    const flags = hv.getUint16(6, true), method = hv.getUint16(8, true);
    const nameLen = hv.getUint16(26, true), extraLen = hv.getUint16(28, true);
    const start = e.localOffset + 30 + nameLen + extraLen;
    if (start > this.directoryStart) fail(`the local header at file offset ${e.localOffset} runs into the central directory`);
    const localName = this.source.read(e.localOffset + 30, nameLen);
    if (localName.length !== e.nameBytes.length || localName.some((b, i) => b !== e.nameBytes[i])) {
      fail(`the local header at file offset ${e.localOffset} names a different file than the central directory`);
    }
    if (method !== e.method) fail(`the local header at file offset ${e.localOffset} says compression method ${method}, the central directory ${e.method}`);
    if ((flags & 0x8) === 0) {
      const crc = hv.getUint32(14, true), comp = hv.getUint32(18, true), sz = hv.getUint32(22, true);
      if (crc !== e.crc || (comp !== U32_MAX && comp !== e.compressedSize) || (sz !== U32_MAX && sz !== e.size)) {
        fail(`the local header at file offset ${e.localOffset} disagrees with the central directory (CRC ${crc.toString(16)} vs ${e.crc.toString(16)}, sizes ${comp}/${sz} vs ${e.compressedSize}/${e.size})`);
      }
    }
    if (start + e.compressedSize > this.directoryStart) {
      fail(`its ${e.compressedSize} bytes of data at file offset ${start} run past the start of the central directory (file offset ${this.directoryStart}); the file is truncated or inconsistent`);
    }
    return start;
  }

  /**
   * The entry's uncompressed bytes, CRC-checked unless `checkCrc` is false. A stored entry read
   * from an in-memory source is a view of it; callers that keep bytes must copy them.
   */
  read(e: ZipEntry, checkCrc = true): Uint8Array {
    const fail = (msg: string): never => {
      throw new TorchLoadError(`torch.load: zip entry ${JSON.stringify(e.name)}: ${msg}`);
    };
    if (e.flags & 0x1) fail('is encrypted');
    const start = this.dataOffset(e);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.size) fail(`is stored (not compressed) but its sizes differ (${e.compressedSize} vs ${e.size})`);
      try {
        data = this.source.read(start, e.size);
      } catch (err) {
        if (err instanceof RangeError) fail(`cannot allocate ${e.size} bytes`);
        throw err;
      }
    } else if (e.method === 8) {
      if (e.size > e.compressedSize * MAX_DEFLATE_RATIO + 64) fail(`claims ${e.size} bytes from ${e.compressedSize} compressed bytes, more than deflate can produce`);
      data = inflateRaw(this.source.read(start, e.compressedSize), e.size, `zip entry ${JSON.stringify(e.name)}`, start);
    } else {
      return fail(`uses compression method ${e.method}; only stored (0) and deflate (8) entries can be read`);
    }
    if (checkCrc) {
      const c = crc32(data);
      if (c !== e.crc) fail(`CRC-32 mismatch: the data at file offset ${start} has ${c.toString(16).padStart(8, '0')}, the directory says ${e.crc.toString(16).padStart(8, '0')} (the file is corrupted)`);
    }
    return data;
  }
}

// ------------------------------------------------------------------------------------------------
// Writing

export interface ZipWriteEntry {
  name: string;
  data: Uint8Array;
}

/** torch aligns every entry's data to this many bytes (kFieldAlignment). */
const ALIGN = 64;

/**
 * Lays out a zip the way torch.save does (stored entries, 64-byte aligned data, ZIP64 end records)
 * but with the CRC and sizes in the local headers (no data descriptors) and ZIP64 extra fields
 * only where a size or offset needs 64 bits (`forceZip64` writes them everywhere, for tests).
 * Returns the pieces in file order; the entries' data arrays are included by reference.
 */
export function zipPieces(entries: ZipWriteEntry[], opts: { forceZip64?: boolean } = {}): Uint8Array[] {
  const enc = new TextEncoder();
  const pieces: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let at = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const utf8 = name.some((b) => b >= 0x80);
    const size = e.data.length;
    const crc = crc32(e.data);
    const big = opts.forceZip64 || size >= U32_MAX;
    const bigOffset = opts.forceZip64 || at >= U32_MAX;
    const zip64Local = big ? 20 : 0; // id, len, uncompressed, compressed
    const headerNoPad = 30 + name.length + zip64Local + 4;
    const pad = (ALIGN - ((at + headerNoPad) % ALIGN)) % ALIGN;
    const extraLen = zip64Local + 4 + pad;
    const h = new Uint8Array(30 + name.length + extraLen);
    const hv = dv(h);
    hv.setUint32(0, SIG_LOCAL, true);
    hv.setUint16(4, big || bigOffset ? 45 : 20, true);
    hv.setUint16(6, utf8 ? 0x800 : 0, true);
    hv.setUint16(8, 0, true);
    hv.setUint32(14, crc, true);
    hv.setUint32(18, big ? U32_MAX : size, true);
    hv.setUint32(22, big ? U32_MAX : size, true);
    hv.setUint16(26, name.length, true);
    hv.setUint16(28, extraLen, true);
    h.set(name, 30);
    let x = 30 + name.length;
    if (big) {
      hv.setUint16(x, 0x0001, true);
      hv.setUint16(x + 2, 16, true);
      hv.setBigUint64(x + 4, BigInt(size), true);
      hv.setBigUint64(x + 12, BigInt(size), true);
      x += 20;
    }
    hv.setUint16(x, 0x4246, true); // 'FB', torch's padding field
    hv.setUint16(x + 2, pad, true);
    h.fill(0x5a, x + 4); // 'Z'
    pieces.push(h, e.data);

    const cExtra = (big ? 16 : 0) + (bigOffset ? 8 : 0);
    const c = new Uint8Array(46 + name.length + (cExtra ? 4 + cExtra : 0));
    const cv = dv(c);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, big || bigOffset ? 45 : 20, true);
    cv.setUint16(6, big || bigOffset ? 45 : 20, true);
    cv.setUint16(8, utf8 ? 0x800 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, big ? U32_MAX : size, true);
    cv.setUint32(24, big ? U32_MAX : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, cExtra ? 4 + cExtra : 0, true);
    cv.setUint32(42, bigOffset ? U32_MAX : at, true);
    c.set(name, 46);
    if (cExtra) {
      let q = 46 + name.length;
      cv.setUint16(q, 0x0001, true);
      cv.setUint16(q + 2, cExtra, true);
      q += 4;
      if (big) {
        cv.setBigUint64(q, BigInt(size), true);
        cv.setBigUint64(q + 8, BigInt(size), true);
        q += 16;
      }
      if (bigOffset) cv.setBigUint64(q, BigInt(at), true);
    }
    central.push(c);
    at += h.length + size;
  }
  const cdOffset = at;
  const cdSize = central.reduce((n, c) => n + c.length, 0);
  pieces.push(...central);
  const end64At = cdOffset + cdSize;
  const tail = new Uint8Array(56 + 20 + 22);
  const tv = dv(tail);
  tv.setUint32(0, SIG_END64, true);
  tv.setBigUint64(4, 44n, true);
  tv.setUint16(12, 45, true);
  tv.setUint16(14, 45, true);
  tv.setBigUint64(24, BigInt(entries.length), true);
  tv.setBigUint64(32, BigInt(entries.length), true);
  tv.setBigUint64(40, BigInt(cdSize), true);
  tv.setBigUint64(48, BigInt(cdOffset), true);
  tv.setUint32(56, SIG_LOCATOR64, true);
  tv.setBigUint64(64, BigInt(end64At), true);
  tv.setUint32(72, 1, true);
  tv.setUint32(76, SIG_END, true);
  const n16 = entries.length >= U16_MAX ? U16_MAX : entries.length;
  tv.setUint16(84, n16, true);
  tv.setUint16(86, n16, true);
  tv.setUint32(88, cdSize >= U32_MAX ? U32_MAX : cdSize, true);
  tv.setUint32(92, cdOffset >= U32_MAX ? U32_MAX : cdOffset, true);
  pieces.push(tail);
  return pieces;
}
