/**
 * safetensors in memory: the public surface of the reader (safetensors-read.ts), the writer
 * (safetensors-write.ts) and tie handling (safetensors-ties.ts); files on disk are files.ts.
 * See DESIGN.md, "Checkpoints and interop", and the README's "safetensors" section.
 */
export { MAX_HEADER_BYTES, MAX_TENSOR_BYTES, FILE_DTYPES } from './safetensors-format.js';
export type { FileDType, Header, HeaderEntry, LoadOptions, LoadResult, SaveOptions } from './safetensors-format.js';
export { load, readHeader, readHeaderLength, parseHeader, checkEntry, checkTiling, decodeTensor, checkTensorSize } from './safetensors-read.js';
export { save, planSave, encodeTensor, type SavePlan } from './safetensors-write.js';
export { TIES_METADATA_KEY, attachTies } from './safetensors-ties.js';
