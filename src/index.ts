/**
 * qkv — a TypeScript transformer workbench.
 *
 * `import { tensor, randn, noGrad, F } from 'qkv'`
 */
import './ops/tensor-methods.js'; // completes the Tensor class with its PyTorch-named methods
export { Tensor } from './tensor/tensor.js';
export type { NestedArray } from './tensor/tensor.js';
export {
  tensor, zeros, ones, full, empty, zerosLike, onesLike, fullLike, arange, linspace, eye,
  randn, rand, randint, randnLike, randLike,
} from './tensor/creation.js';
export type { TensorOptions, RandomOptions } from './tensor/creation.js';
export { manualSeed, getRngState, setRngState, Generator, defaultGenerator } from './tensor/random.js';
export { tidy, keep, storagePoolStats } from './tensor/allocator.js';
export type { RngState } from './tensor/random.js';
export { noGrad, enableGrad, isGradEnabled, setGradEnabled } from './autograd/grad-mode.js';
export { gradcheck } from './autograd/gradcheck.js';
export type { DType } from './dtype.js';
export {
  QkvError, ShapeError, DTypeError, ArgumentError, AutogradError, AllocationError, SafetensorsError, StateDictError,
  TorchLoadError, TorchUnsafePickleError, TorchSaveError,
} from './errors.js';
export { CheckpointError, TrainingError } from './errors.js';
export { cat, stack, flip, roll } from './ops/shape.js';
export { gather, scatter, scatterAdd, maskedSelect, nonzero } from './ops/indexing.js';
export type { IndexSpec } from './ops/indexing.js';
export { sort, argsort, topk } from './ops/sort.js';
export { cumsum, cumprod } from './ops/cumulative.js';
export { multinomial } from './ops/sampling.js';
export { einsum } from './ops/einsum.js';
export { rearrange, reduce, repeat } from './ops/einops.js';
export * as einops from './ops/einops.js';
export { where } from './ops/elementwise.js';
export { matmul, bmm } from './ops/matmul.js';
export { backend, setBackend, availableBackends } from './backend/index.js';
export { setNumThreads, getNumThreads, nativeStatus } from './backend/index.js';
export * as F from './nn/functional.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as models from './models/index.js';
export * as inspect from './inspect/index.js';
export * as data from './data/index.js';
export * as train from './train/index.js';
export * as lab from './lab/index.js';
export * as io from './io/index.js';
export { saveModule, loadModule } from './nn/serialization.js';
