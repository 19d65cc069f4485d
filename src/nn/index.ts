/**
 * nn: modules with PyTorch's parameter names, defaults and init. `import { nn } from 'qkv'`.
 */
export { Module } from './module.js';
export type { LoadResult } from './module.js';
export { Parameter } from './parameter.js';
export { Linear, Identity } from './linear.js';
export { Embedding } from './embedding.js';
export { LayerNorm } from './normalization.js';
export { ReLU, GELU, Tanh, Sigmoid, Softmax, Dropout } from './activation.js';
export { Sequential, ModuleList } from './container.js';
export { MSELoss, CrossEntropyLoss } from './loss.js';
export { MultiheadAttention } from './multihead-attention.js';
export type { MultiheadAttentionOptions, MultiheadAttentionForwardOptions } from './multihead-attention.js';
export { TransformerEncoderLayer, TransformerEncoder } from './transformer.js';
export type { TransformerEncoderLayerOptions, EncoderForwardOptions } from './transformer.js';
export { deepCopy } from './copy.js';
export * as init from './init.js';
export * as functional from './functional.js';
export * as utils from './utils.js';
