/** io: safetensors in memory (`load`, `save`) and on disk (`loadFile`, `saveFile`). */
export { load, save, MAX_HEADER_BYTES } from './safetensors.js';
export type { LoadOptions, LoadResult, FileDType } from './safetensors.js';
export { loadFile, saveFile, writeFileAtomic } from './files.js';
