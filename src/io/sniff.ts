/**
 * What a file is, from its first bytes: safetensors, or one of the files people hand to a
 * safetensors reader by mistake (a torch.save checkpoint, a pickle, a GGUF or NumPy file, a Git
 * LFS pointer, an HTML page saved instead of the download, a JSON config…). Readers call this
 * after a file fails to parse, so that the error says what the file is and what to do instead of
 * "header length 8245937123593767760 exceeds the limit".
 */
import { firstInvalidUtf8 } from './json-header.js';

export type FileFormat =
  | 'safetensors' | 'torch-zip' | 'torch-legacy' | 'pickle' | 'zip' | 'gguf' | 'numpy' | 'hdf5' | 'gzip'
  | 'git-lfs-pointer' | 'html' | 'json' | 'text' | 'empty' | 'unknown';

export interface Sniffed {
  format: FileFormat;
  /** One sentence for an error message: "this is a PyTorch torch.save file (…): use io.loadTorch". */
  message: string;
}

/** Bytes to pass to sniffFormat: enough for every check below. */
export const SNIFF_BYTES = 512;

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean => sig.every((x, i) => b[at + i] === x);
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
/** The pickle opcodes torch.save's legacy format starts with: PROTO 2, LONG1 10 bytes of its magic number. */
const TORCH_LEGACY = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** The first bytes as text (for text-like formats), without a UTF-8 byte-order mark. */
function headText(b: Uint8Array): string {
  let s = '';
  for (let i = startsWith(b, [0xef, 0xbb, 0xbf]) ? 3 : 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Text: valid UTF-8 (an incomplete character cut off at the end of a full prefix allowed), no control characters but tab and newlines. */
function isText(b: Uint8Array): boolean {
  if (b.length === 0) return false;
  for (const x of b) if (x < 0x20 ? x !== 9 && x !== 10 && x !== 13 : x === 0x7f) return false;
  const bad = firstInvalidUtf8(b);
  return bad === -1 || (b.length === SNIFF_BYTES && bad >= b.length - 3);
}

/**
 * Recognises a file from its first bytes (pass SNIFF_BYTES of them, or all of a shorter file).
 * `safetensors` means: a plausible 8-byte header length followed by a JSON object; `unknown`
 * means none of the formats below.
 */
export function sniffFormat(head: Uint8Array): Sniffed {
  const b = head.subarray(0, SNIFF_BYTES);
  if (b.length === 0) return { format: 'empty', message: 'the file is empty' };
  if (b.length >= 9) {
    const n = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    let i = 8;
    while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
    if (n <= 100_000_000n && b[i] === 0x7b) return { format: 'safetensors', message: 'this looks like a safetensors file' };
  }
  if (startsWith(b, ascii('PK\x03\x04'))) {
    // A zip's first local file header: name length at 26, the name from 30. torch.save writes
    // `<archive name>/data.pkl` first.
    const len = b.length >= 30 ? b[26] | (b[27] << 8) : 0;
    const name = headText(b.subarray(30, 30 + len));
    if (/(^|\/)data\.pkl$/.test(name)) {
      return { format: 'torch-zip', message: `this is a PyTorch torch.save file (a zip archive holding ${name}), not safetensors: use io.loadTorch` };
    }
    return { format: 'zip', message: `this is a zip archive${name ? ` (first entry ${JSON.stringify(name)})` : ''}, not safetensors` };
  }
  if (startsWith(b, ascii('PK\x05\x06'))) return { format: 'zip', message: 'this is an empty zip archive, not safetensors' };
  if (startsWith(b, TORCH_LEGACY)) {
    return { format: 'torch-legacy', message: 'this is a PyTorch torch.save file in the legacy (pre-1.6) format, not safetensors: use io.loadTorch' };
  }
  if (b[0] === 0x80 && b.length > 1 && b[1] >= 2 && b[1] <= 5) {
    return { format: 'pickle', message: `this is a Python pickle (protocol ${b[1]}), not safetensors; if torch.save wrote it, use io.loadTorch (pickles that run code are never loaded)` };
  }
  if (startsWith(b, ascii('GGUF'))) return { format: 'gguf', message: 'this is a GGUF file (llama.cpp), not safetensors; qkv does not read GGUF' };
  if (startsWith(b, [0x93, ...ascii('NUMPY')])) return { format: 'numpy', message: 'this is a NumPy .npy file, not safetensors' };
  if (startsWith(b, [0x89, ...ascii('HDF\r\n\x1a\n')])) return { format: 'hdf5', message: 'this is an HDF5 file (e.g. Keras .h5), not safetensors' };
  if (startsWith(b, [0x1f, 0x8b])) return { format: 'gzip', message: 'this is gzip-compressed data, not safetensors: decompress it first' };
  const text = headText(b);
  if (text.startsWith('version https://git-lfs')) {
    return { format: 'git-lfs-pointer', message: 'this is a Git LFS pointer file, not the weights: fetch the real file (git lfs pull)' };
  }
  const trimmed = text.trimStart();
  if (/^<(!doctype html|html|head|body|!--|\?xml)/i.test(trimmed)) {
    return { format: 'html', message: 'this is an HTML or XML page, not safetensors (a download that saved a web page instead of the file?)' };
  }
  if (isText(b) && (trimmed.startsWith('{') || trimmed.startsWith('['))) {
    const what = /"weight_map"/.test(text) ? 'a sharded checkpoint index (model.safetensors.index.json): load the shards it lists'
      : /"model_type"/.test(text) ? 'a Hugging Face config.json: the weights are in the folder beside it'
        : 'a JSON file';
    return { format: 'json', message: `this is ${what}, not safetensors (a safetensors file starts with an 8-byte header length)` };
  }
  if (isText(b)) {
    const first = trimmed.split(/\r?\n/)[0].slice(0, 40);
    return { format: 'text', message: `this is a text file (it starts ${JSON.stringify(first)}), not safetensors` };
  }
  return { format: 'unknown', message: 'the file is not in a format qkv recognises' };
}
