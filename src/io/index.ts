/**
 * io: safetensors in memory (`load`, `save`) and on disk (`loadFile`, `saveFile`).
 *
 *   load(bytes, { castFloats? })                 → { tensors, metadata }
 *   save(tensors, metadata?, { ties? })          → Uint8Array
 *   loadFile(path, { castFloats? })              → { tensors, metadata }   (tensor by tensor)
 *   saveFile(path, tensors, metadata?, { ties? })                           (atomic)
 *
 * Ties: `{ ties: { 'lm_head.weight': 'transformer.wte.weight' } }` writes the target once and
 * records `__metadata__["qkv.ties"] = '{"lm_head.weight":"transformer.wte.weight"}'`; loading
 * returns the alias sharing storage with the target. Every malformed input is a SafetensorsError.
 */
export { load, save, MAX_HEADER_BYTES, MAX_TENSOR_BYTES, TIES_METADATA_KEY } from './safetensors.js';
export type { LoadOptions, LoadResult, SaveOptions, FileDType } from './safetensors.js';
export { loadFile, saveFile, writeFileAtomic } from './files.js';
export { fromNanoGPT, fromHFGPT2, toHFGPT2, fromGPTNeoX, toGPTNeoX } from './key-maps.js';
// torch.save files (zip and legacy): io.loadTorch(pathOrBytes, opts) / io.saveTorch(path, obj).
export { loadTorch, saveTorch } from './torch/files.js';
export { loadTorchBytes, isTorchSaveFile, sniffTorchFormat } from './torch/load.js';
export type { TorchLoadOptions } from './torch/load.js';
export { saveTorchBytes } from './torch/save.js';
export type { TorchSaveOptions } from './torch/save.js';
export { loadPickle } from './torch/plain-pickle.js';
export { TorchGlobal, TorchStorage } from './torch/values.js';
export type { TorchDTypeName } from './torch/values.js';
