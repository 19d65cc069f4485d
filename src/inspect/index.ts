/** inspect: weight views and circuits, activation caches, diagnostics. */
export { runWithCache, ActivationCache } from './activation-cache.js';
export type { RunWithCacheOptions } from './activation-cache.js';
export { FactoredMatrix } from '../ops/factored-matrix.js';
export { svd, lowRankFactor, matrixRank } from '../ops/linalg.js';
export { diagnose, checkBackend, checkFinite, checkInitScale, checkAttention, checkLayerNorms, checkLayout, checkTying, checkTiedInit } from './diagnostics.js';
export type { Finding, Status, DiagnoseOptions } from './diagnostics.js';
