/**
 * Creating tensors: `tensor(data, opts)` from nested arrays, flat arrays with a shape, or typed
 * arrays; zeros/ones/full/empty; arange/linspace/eye; random randn/rand/randint from the seeded
 * generator. Shapes are arrays: `zeros([2, 3])`.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { checkDType, type DType, type TypedArray } from '../dtype.js';
import { allocateData } from './allocator.js';
import { checkOptions } from '../options.js';
import { checkShape, numel } from './shape.js';
import { Tensor, type NestedArray } from './tensor.js';
import { defaultGenerator, type Generator } from './random.js';

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

const TENSOR_KEYS = ['dtype', 'requiresGrad'];
const RANDOM_KEYS = ['dtype', 'requiresGrad', 'generator'];

/**
 * A size list in either of PyTorch's forms, optionally followed by options:
 * `zeros(2, 3)`, `zeros([2, 3])`, `zeros(2, 3, { dtype })`, `zeros([2, 3], { dtype })`.
 */
export type SizeArgs<O> = [readonly number[], O?] | [...number[], O] | number[];

function sizeArgs<O extends object>(args: readonly unknown[], op: string, keys: readonly string[]): [number[], O] {
  let list = args.slice();
  while (list.length > 0 && list[list.length - 1] === undefined) list.pop(); // f(shape, undefined)
  let opts = {} as O;
  const last = list[list.length - 1];
  if (list.length > 0 && typeof last === 'object' && last !== null && !Array.isArray(last)) {
    opts = checkOptions(last as O, keys, op);
    list = list.slice(0, -1);
  }
  if (list.length === 1 && Array.isArray(list[0])) return [checkShape(list[0] as number[], op), opts];
  if (list.some((v) => typeof v !== 'number')) {
    throw new ArgumentError(`${op}: expected sizes as numbers, ${op}(2, 3), or one array, ${op}([2, 3]), optionally followed by options; got (${list.map((v) => (Array.isArray(v) ? `[${v}]` : JSON.stringify(v))).join(', ')})`);
  }
  return [checkShape(list as number[], op), opts];
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

function dtypeOfTyped(a: ArrayLike<number>): DType | null {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'bool';
  return null;
}

/**
 * A new tensor holding a copy of `data`.
 *
 * - nested arrays: `tensor([[1, 2], [3, 4]])` (shape inferred; ragged input is an error);
 * - a flat array or typed array with a shape: `tensor([1, 2, 3, 4], { shape: [2, 2] })`;
 * - a typed array alone is 1-D; its type gives the dtype (Float32Array → float32, …).
 *
 * The default dtype is float32 (JS numbers do not say int or float); pass `dtype: 'int64'` for
 * indices and labels.
 */
export function tensor(
  data: NestedArray | ArrayLike<number> | BigInt64Array,
  opts: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  checkOptions(opts, [...TENSOR_KEYS, 'shape'], 'tensor');
  let dtype: DType;
  let flat: ArrayLike<number>;
  let shape: number[];
  if (data instanceof BigInt64Array) {
    flat = Array.from(data, (v) => Number(v));
    dtype = opts.dtype ?? 'int64';
    shape = [data.length];
  } else if (ArrayBuffer.isView(data)) {
    flat = data as ArrayLike<number>;
    dtype = opts.dtype ?? dtypeOfTyped(flat) ?? 'float32';
    shape = [flat.length];
  } else if (typeof data === 'number' || typeof data === 'boolean') {
    flat = [Number(data)];
    dtype = opts.dtype ?? (typeof data === 'boolean' ? 'bool' : 'float32');
    shape = [];
  } else if (Array.isArray(data)) {
    shape = inferNestedShape(data);
    flat = (data as unknown[]).flat(Infinity).map((v) => Number(v));
    const allBool = (data as unknown[]).flat(Infinity).every((v) => typeof v === 'boolean') && flat.length > 0;
    dtype = opts.dtype ?? (allBool ? 'bool' : 'float32');
  } else {
    throw new ArgumentError(`tensor: unsupported data of type ${typeof data}; pass nested arrays, a flat array with { shape }, or a typed array`);
  }
  checkDType(dtype, 'tensor');
  if (opts.shape) {
    shape = checkShape(opts.shape, 'tensor');
    if (numel(shape) !== flat.length) {
      throw new ShapeError(`tensor: ${flat.length} values do not fill shape ${fmtShape(shape)} (${numel(shape)} elements)`);
    }
  }
  const storage = allocateData(dtype, [flat.length], 'tensor');
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    storage[i] = dtype === 'bool' ? (v ? 1 : 0) : dtype === 'int64' || dtype === 'int32' ? Math.trunc(v) : v;
  }
  return finish(Tensor.fromTypedArray(storage, shape, dtype), opts);
}

function inferNestedShape(data: unknown[]): number[] {
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const check = (node: unknown, d: number, path: string): void => {
    if (d === shape.length) {
      if (typeof node !== 'number' && typeof node !== 'boolean') throw new ShapeError(`tensor: element at ${path} is ${JSON.stringify(node)}, not a number`);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[d]) {
      throw new ShapeError(`tensor: ragged nested array: expected length ${shape[d]} at ${path}, got ${Array.isArray(node) ? node.length : typeof node}`);
    }
    node.forEach((c, i) => check(c, d + 1, `${path}[${i}]`));
  };
  check(data, 0, 'data');
  return shape;
}

export function zeros(...args: SizeArgs<TensorOptions>): Tensor {
  const [shape, opts] = sizeArgs<TensorOptions>(args, 'zeros', TENSOR_KEYS);
  return finish(Tensor.zeros(shape, checkDType(opts.dtype ?? 'float32', 'zeros'), 'zeros'), opts);
}

export function ones(...args: SizeArgs<TensorOptions>): Tensor {
  const [shape, opts] = sizeArgs<TensorOptions>(args, 'ones', TENSOR_KEYS);
  return finish(Tensor.ones(shape, checkDType(opts.dtype ?? 'float32', 'ones'), 'ones'), opts);
}

/** A tensor of `shape` filled with `value` (torch.full takes the size as one list, as here). */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  checkOptions(opts, TENSOR_KEYS, 'full');
  if (!Array.isArray(shape)) throw new ArgumentError(`full: the size must be an array, full([2, 3], value), got ${JSON.stringify(shape)}`);
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new ArgumentError(`full: the fill value must be a number, got ${JSON.stringify(value)}`);
  return finish(Tensor.full(checkShape(shape, 'full'), value, checkDType(opts.dtype ?? 'float32', 'full'), 'full'), opts);
}

/** Like zeros (JS memory is always initialised); kept for PyTorch code that says empty. */
export function empty(...args: SizeArgs<TensorOptions>): Tensor {
  const [shape, opts] = sizeArgs<TensorOptions>(args, 'empty', TENSOR_KEYS);
  return zeros(shape, opts);
}

export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros(t.shape, { dtype: t.dtype, ...checkOptions(opts, TENSOR_KEYS, 'zerosLike') });
}

export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return ones(t.shape, { dtype: t.dtype, ...checkOptions(opts, TENSOR_KEYS, 'onesLike') });
}

export function fullLike(t: Tensor, value: number, opts: TensorOptions = {}): Tensor {
  return full(t.shape, value, { dtype: t.dtype, ...checkOptions(opts, TENSOR_KEYS, 'fullLike') });
}

/**
 * Values from start (inclusive) to end (exclusive) by step: `arange(5)`, `arange(2, 8, 2)`.
 * int64 when every argument is an integer, float32 otherwise (like PyTorch).
 */
export function arange(start: number, end?: number | TensorOptions, step: number | TensorOptions = 1, opts: TensorOptions = {}): Tensor {
  // arange(n, opts) and arange(a, b, opts) as well as arange(a, b, step, opts).
  if (typeof end === 'object') [end, step, opts] = [undefined, 1, end];
  else if (typeof step === 'object') [step, opts] = [1, step];
  checkOptions(opts, TENSOR_KEYS, 'arange');
  for (const [k, v] of [['start', start], ['end', end], ['step', step]] as const) {
    if (v !== undefined && typeof v !== 'number') throw new ArgumentError(`arange: ${k} must be a number, got ${JSON.stringify(v)}`);
  }
  if (end === undefined) [start, end] = [0, start];
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new ArgumentError(`arange: start and end must be finite, got ${start} and ${end}`);
  if (step === 0 || !Number.isFinite(step)) throw new ArgumentError(`arange: step must be a non-zero finite number, got ${step}`);
  if ((end - start) / step < 0) throw new ArgumentError(`arange: upper bound and step are inconsistent (start ${start}, end ${end}, step ${step})`);
  const n = Math.ceil((end - start) / step);
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int64' : 'float32');
  const data: TypedArray = allocateData(checkDType(dtype, 'arange'), [n], 'arange');
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return finish(Tensor.fromTypedArray(data, [n], dtype), opts);
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  checkOptions(opts, TENSOR_KEYS, 'linspace');
  if (!Number.isInteger(steps) || steps < 0) throw new ArgumentError(`linspace: steps must be a non-negative integer, got ${steps}`);
  const dtype = checkDType(opts.dtype ?? 'float32', 'linspace');
  const data = allocateData(dtype, [steps], 'linspace');
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // Like PyTorch, fill from both ends so the last value is exactly `end`.
  for (let i = 0; i < steps; i++) data[i] = i < steps / 2 ? start + i * step : end - (steps - 1 - i) * step;
  return finish(Tensor.fromTypedArray(data, [steps], dtype), opts);
}

/** The n×m identity (m defaults to n). */
export function eye(n: number, m: number | TensorOptions = n, opts: TensorOptions = {}): Tensor {
  if (typeof m === 'object') [m, opts] = [n, m];
  checkOptions(opts, TENSOR_KEYS, 'eye');
  const t = Tensor.zeros(checkShape([n, m], 'eye'), checkDType(opts.dtype ?? 'float32', 'eye'), 'eye');
  for (let i = 0; i < Math.min(n, m); i++) t.storage.data[i * m + i] = 1;
  return finish(t, opts);
}

/** Standard normal samples from the seeded generator. */
export function randn(...args: SizeArgs<RandomOptions>): Tensor {
  const [shape, opts] = sizeArgs<RandomOptions>(args, 'randn', RANDOM_KEYS);
  const t = Tensor.empty(shape, checkDType(opts.dtype ?? 'float32', 'randn'), 'randn');
  const g = opts.generator ?? defaultGenerator;
  const d = t.storage.data;
  for (let i = 0; i < d.length; i++) d[i] = g.nextNormal();
  return finish(t, opts);
}

/** Uniform samples in [0, 1) from the seeded generator. */
export function rand(...args: SizeArgs<RandomOptions>): Tensor {
  const [shape, opts] = sizeArgs<RandomOptions>(args, 'rand', RANDOM_KEYS);
  const t = Tensor.empty(shape, checkDType(opts.dtype ?? 'float32', 'rand'), 'rand');
  const g = opts.generator ?? defaultGenerator;
  const d = t.storage.data;
  for (let i = 0; i < d.length; i++) d[i] = g.nextDouble();
  return finish(t, opts);
}

/**
 * Uniform integers in [low, high): `randint(10, [4])` or `randint(2, 10, [4])`. int64 by default.
 */
export function randint(low: number, high: number | readonly number[], shape?: readonly number[] | RandomOptions, opts: RandomOptions = {}): Tensor {
  if (Array.isArray(high)) {
    opts = (shape as RandomOptions | undefined) ?? {};
    shape = high;
    high = low;
    low = 0;
  }
  checkOptions(opts, RANDOM_KEYS, 'randint');
  const hi = high as number;
  if (!Number.isInteger(low) || !Number.isInteger(hi) || hi <= low) {
    throw new ArgumentError(`randint: need integers low < high, got low ${low}, high ${hi}`);
  }
  const t = Tensor.empty(checkShape(shape as readonly number[], 'randint'), checkDType(opts.dtype ?? 'int64', 'randint'), 'randint');
  const g = opts.generator ?? defaultGenerator;
  const d = t.storage.data;
  for (let i = 0; i < d.length; i++) d[i] = g.nextInt(low, hi);
  return finish(t, opts);
}

export function randnLike(t: Tensor, opts: RandomOptions = {}): Tensor {
  return randn(t.shape, { dtype: t.dtype, ...checkOptions(opts, RANDOM_KEYS, 'randnLike') });
}

export function randLike(t: Tensor, opts: RandomOptions = {}): Tensor {
  return rand(t.shape, { dtype: t.dtype, ...checkOptions(opts, RANDOM_KEYS, 'randLike') });
}
