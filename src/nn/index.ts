/**
 * nn: modules with PyTorch's parameter names, defaults and init. `import { nn } from 'qkv'`.
 */
export { Module, RemovableHandle } from './module.js';
export type { LoadResult, RegisterBufferOptions, ForwardHook, ForwardPreHook, HookOptions } from './module.js';
export { Parameter } from './parameter.js';
export { Linear, Identity } from './linear.js';
export { Embedding } from './embedding.js';
export { LayerNorm } from './normalization.js';
export { ReLU, GELU, Tanh, Sigmoid, Softmax, Dropout } from './activation.js';
export { Sequential, ModuleList, ModuleDict } from './container.js';
export { tie, isTied } from './tie.js';
export { MSELoss, CrossEntropyLoss } from './loss.js';
export { MultiheadAttention } from './multihead-attention.js';
export type { MultiheadAttentionOptions, MultiheadAttentionForwardOptions } from './multihead-attention.js';
export { TransformerEncoderLayer, TransformerEncoder } from './transformer.js';
export type { TransformerEncoderLayerOptions, EncoderForwardOptions } from './transformer.js';
export { Attention, ATTENTION_STORAGES } from './attention.js';
export type { AttentionOptions, AttentionStorage, AttentionCache, AttentionForwardOptions, AttentionHead, ConversionReport } from './attention.js';
export { HookPoint } from './hook-point.js';
export { splitHeads, packHeads, mergeHeads, convertPackedLayout, perHeadWeights, splitPacked, fromConv1D, toConv1D, QKV_LAYOUTS } from './qkv-layout.js';
export type { QKVLayout } from './qkv-layout.js';
export { deepCopy } from './copy.js';
export { saveModule, loadModule, findTies } from './serialization.js';
export * as init from './init.js';
export * as functional from './functional.js';
export * as utils from './utils.js';
