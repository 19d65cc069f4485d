/**
 * Typed errors, one class per family, so callers can catch precisely.
 *
 * Every message names the op, the argument and the offending shapes or values, e.g.
 * `matmul: inner dimensions differ: a is [2,3], b is [4,5]`.
 */

/** Base class of every error qkv throws on purpose. */
export class QkvError extends Error {
  override name = 'QkvError';
}

/** Shapes that do not fit: broadcasting, matmul, view, cat, reshape, bad dims. */
export class ShapeError extends QkvError {
  override name = 'ShapeError';
}

/** A dtype an op cannot take (e.g. float targets for cross-entropy). */
export class DTypeError extends QkvError {
  override name = 'DTypeError';
}

/** A bad argument value that is not a shape problem (negative probability, bad index). */
export class ArgumentError extends QkvError {
  override name = 'ArgumentError';
}

/** Misuse of autograd: backward twice, non-scalar backward, in-place on a saved tensor. */
export class AutogradError extends QkvError {
  override name = 'AutogradError';
}

/**
 * A tensor that cannot be allocated: more elements than a JavaScript typed array holds, or more
 * memory than the process can get. Names the op, the shape and the byte count.
 */
export class AllocationError extends QkvError {
  override name = 'AllocationError';
}

/** A malformed or unsupported safetensors file; names the tensor, the field and the byte offset. */
export class SafetensorsError extends QkvError {
  override name = 'SafetensorsError';
}

/**
 * A torch.save file that cannot be loaded: not a torch.save file, a truncated or inconsistent
 * archive (zip structure, CRC, missing records), a malformed pickle, a tensor that does not fit its
 * storage, or a dtype qkv cannot hold. Names the zip entry or pickle, the byte offset and the value.
 */
export class TorchLoadError extends QkvError {
  override name = 'TorchLoadError';
}

/**
 * A pickle that asks for something `torch.load(weights_only=True)` refuses: a global outside the
 * allow-list, a call (REDUCE) of a callable that is not a tensor rebuild function, BUILD on an
 * object that is not an OrderedDict, NEWOBJ of a class other than Parameter, and the opcodes that
 * construct arbitrary objects (INST, OBJ, NEWOBJ_EX, EXT*). Nothing in the file was executed.
 */
export class TorchUnsafePickleError extends TorchLoadError {
  override name = 'TorchUnsafePickleError';
}

/** A value `io.saveTorch` cannot write as a torch.save file (names the path inside the object). */
export class TorchSaveError extends QkvError {
  override name = 'TorchSaveError';
}

/** A state dict that does not fit a module: missing, unexpected or wrong-shape keys. */
export class StateDictError extends QkvError {
  override name = 'StateDictError';
}

/**
 * A path that is not a checkpoint qkv can open (a torch.save file, a Hugging Face folder, a bare
 * weights file without its config, an incomplete run folder); names the path and what it is.
 */
export class CheckpointError extends QkvError {
  override name = 'CheckpointError';
}

/** A training run that cannot go on: the loss became NaN or infinite (the run stops before the update). */
export class TrainingError extends QkvError {
  override name = 'TrainingError';
}

/** Formats a shape the way error messages print it: `[2,3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
