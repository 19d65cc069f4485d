/**
 * The TypeScript reference backend: the specification every other backend is tested against.
 * It runs everywhere, handles every dtype, and is never removed.
 */
import type { Backend } from '../backend.js';
import { binary, copy, unary, where } from './elementwise.js';
import { reduce } from './reduce.js';
import { matmul } from './matmul.js';
import { adamStep } from './optim.js';
import { attention, attentionBackward } from './attention.js';
import { gather, scatter } from './indexing.js';
import { sort } from './sort.js';
import { cumulative } from './cumulative.js';
import {
  crossEntropy, crossEntropyBackward, indexAdd, indexSelect, layerNorm, layerNormBackward, softmax, softmaxBackward,
} from './fused.js';

export const tsBackend: Backend = {
  name: 'ts',
  unary,
  binary,
  where,
  copy,
  reduce,
  matmul,
  indexSelect,
  indexAdd,
  gather,
  scatter,
  sort,
  cumulative,
  softmax,
  softmaxBackward,
  layerNorm,
  layerNormBackward,
  crossEntropy,
  crossEntropyBackward,
  adamStep,
  attention,
  attentionBackward,
};
