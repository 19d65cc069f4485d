/**
 * Values that a torch.save pickle can hold besides plain data and tensors, and the dtype table.
 *
 * - `TorchGlobal`: an allow-listed global that was referenced but not called (a dtype such as
 *   `torch.float16`, a storage or tensor class). One frozen instance per name, so `===` works.
 * - `TorchStorage`: a storage pickled on its own (`torch.save(t.storage())`); tensors are returned
 *   as qkv Tensors over a shared qkv Storage instead.
 */
import type { DType } from '../../dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Storage } from '../../tensor/storage.js';

/** PyTorch dtypes a storage can have, by `torch.<name>`. */
export type TorchDTypeName =
  | 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool'
  | 'complex32' | 'complex64' | 'complex128' | 'qint8' | 'quint8' | 'qint32' | 'quint4x2' | 'quint2x4';

export interface TorchDTypeInfo {
  /** Bytes per element. */
  size: number;
  /** The typed storage class torch.save names (`torch.<storage>`). */
  storage: string;
  /** The qkv dtype it loads as (null: qkv cannot hold it), and whether that is exact or widened. */
  qkv: DType | null;
  widened: boolean;
}

export const TORCH_DTYPES: Record<TorchDTypeName, TorchDTypeInfo> = {
  float32: { size: 4, storage: 'FloatStorage', qkv: 'float32', widened: false },
  float64: { size: 8, storage: 'DoubleStorage', qkv: 'float64', widened: false },
  float16: { size: 2, storage: 'HalfStorage', qkv: 'float32', widened: true },
  bfloat16: { size: 2, storage: 'BFloat16Storage', qkv: 'float32', widened: true },
  int64: { size: 8, storage: 'LongStorage', qkv: 'int64', widened: false },
  int32: { size: 4, storage: 'IntStorage', qkv: 'int32', widened: false },
  int16: { size: 2, storage: 'ShortStorage', qkv: 'int32', widened: true },
  int8: { size: 1, storage: 'CharStorage', qkv: 'int32', widened: true },
  uint8: { size: 1, storage: 'ByteStorage', qkv: 'int32', widened: true },
  bool: { size: 1, storage: 'BoolStorage', qkv: 'bool', widened: false },
  complex32: { size: 4, storage: 'ComplexHalfStorage', qkv: null, widened: false },
  complex64: { size: 8, storage: 'ComplexFloatStorage', qkv: null, widened: false },
  complex128: { size: 16, storage: 'ComplexDoubleStorage', qkv: null, widened: false },
  qint8: { size: 1, storage: 'QInt8Storage', qkv: null, widened: false },
  quint8: { size: 1, storage: 'QUInt8Storage', qkv: null, widened: false },
  qint32: { size: 4, storage: 'QInt32Storage', qkv: null, widened: false },
  quint4x2: { size: 1, storage: 'QUInt4x2Storage', qkv: null, widened: false },
  quint2x4: { size: 1, storage: 'QUInt2x4Storage', qkv: null, widened: false },
};

/** The torch dtype each qkv dtype is saved as. */
export const SAVE_TORCH_DTYPE: Record<DType, TorchDTypeName> = {
  float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool',
};

/** What an allow-listed global is, as far as the loader cares. */
export type GlobalKind =
  | { kind: 'OrderedDict' }
  | { kind: 'rebuild_tensor_v2' }
  | { kind: 'rebuild_tensor' }
  | { kind: 'rebuild_parameter' }
  | { kind: 'Size' }
  | { kind: 'Parameter' }
  /** A storage class; `dtype` null for TypedStorage (no fixed dtype). */
  | { kind: 'storage'; dtype: TorchDTypeName | null }
  | { kind: 'tensor_type'; dtype: TorchDTypeName | null }
  | { kind: 'dtype'; dtype: TorchDTypeName }
  /** Allowed by weights_only but not representable in qkv: calling it is a TorchLoadError. */
  | { kind: 'unsupported'; why: string };

/** An allow-listed global referenced by a pickle (`module.name`); compare with `===`. */
export class TorchGlobal {
  private static readonly cache = new Map<string, TorchGlobal>();

  private constructor(readonly module: string, readonly name: string, readonly info: GlobalKind) {
    Object.freeze(this);
  }

  /** The canonical instance for `module.name` (created on first use). */
  static of(module: string, name: string, info: GlobalKind): TorchGlobal {
    const key = `${module}\n${name}`;
    let g = TorchGlobal.cache.get(key);
    if (!g) TorchGlobal.cache.set(key, (g = new TorchGlobal(module, name, info)));
    return g;
  }

  /** `module.name`, as Python prints it. */
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }

  toString(): string {
    return this.qualifiedName;
  }
}

/**
 * A storage as torch.save stores it: `numel` elements of `torchDtype`, loaded into a qkv Storage
 * as `dtype` (see TORCH_DTYPES for widening). `offset` is non-zero only for a legacy-format storage
 * view into a larger storage. `key` is the storage's name in the file (`data/<key>`).
 */
export class TorchStorage {
  constructor(
    readonly key: string,
    readonly torchDtype: TorchDTypeName,
    readonly dtype: DType,
    readonly storage: Storage,
    readonly numel: number,
    readonly offset = 0,
  ) {}

  /** The whole storage as a 1-D qkv Tensor (shares memory with every tensor on it). */
  tensor(): Tensor {
    return new Tensor(this.storage, this.dtype, [this.numel], [1], this.offset);
  }
}

const FLOAT_NAMES: [string, TorchDTypeName][] = [
  ['Float', 'float32'], ['Double', 'float64'], ['Half', 'float16'], ['BFloat16', 'bfloat16'], ['Long', 'int64'],
  ['Int', 'int32'], ['Short', 'int16'], ['Char', 'int8'], ['Byte', 'uint8'], ['Bool', 'bool'],
];

/**
 * The allow-list: exactly the globals `torch.load(weights_only=True)` of PyTorch 1.13 accepts
 * (torch/_weights_only_unpickler.py, `_get_allowed_globals`), plus the names later PyTorch versions
 * and older files use for the same things (bfloat16/bool/uint8 dtypes, `torch.UntypedStorage`,
 * `torch._UntypedStorage`, `torch.storage._TypedStorage`).
 */
export const ALLOWED_GLOBALS: ReadonlyMap<string, GlobalKind> = (() => {
  const m = new Map<string, GlobalKind>();
  m.set('collections.OrderedDict', { kind: 'OrderedDict' });
  m.set('torch._utils._rebuild_tensor_v2', { kind: 'rebuild_tensor_v2' });
  m.set('torch._utils._rebuild_tensor', { kind: 'rebuild_tensor' });
  m.set('torch._utils._rebuild_parameter', { kind: 'rebuild_parameter' });
  m.set('torch._utils._rebuild_sparse_tensor', { kind: 'unsupported', why: 'sparse COO tensors are not supported by qkv' });
  m.set('torch._utils._rebuild_sparse_csr_tensor', { kind: 'unsupported', why: 'sparse CSR tensors are not supported by qkv' });
  m.set('torch._utils._rebuild_meta_tensor_no_storage', { kind: 'unsupported', why: 'meta tensors (shape without data) are not supported by qkv' });
  m.set('torch.serialization._get_layout', { kind: 'unsupported', why: 'tensor layouts appear only with sparse tensors, which qkv does not support' });
  m.set('torch.Size', { kind: 'Size' });
  m.set('torch.nn.parameter.Parameter', { kind: 'Parameter' });
  m.set('torch.Tensor', { kind: 'tensor_type', dtype: null });
  for (const name of Object.keys(TORCH_DTYPES) as TorchDTypeName[]) m.set(`torch.${name}`, { kind: 'dtype', dtype: name });
  for (const [prefix, dtype] of FLOAT_NAMES) {
    for (const mod of ['torch', 'torch.cuda', 'torch.sparse', 'torch.cuda.sparse']) m.set(`${mod}.${prefix}Tensor`, { kind: 'tensor_type', dtype });
  }
  for (const [name, info] of Object.entries(TORCH_DTYPES) as [TorchDTypeName, TorchDTypeInfo][]) {
    m.set(`torch.${info.storage}`, { kind: 'storage', dtype: name });
    m.set(`torch.cuda.${info.storage}`, { kind: 'storage', dtype: name });
  }
  for (const n of ['torch.storage.UntypedStorage', 'torch.UntypedStorage', 'torch._UntypedStorage', 'torch.storage._UntypedStorage']) m.set(n, { kind: 'storage', dtype: 'uint8' });
  for (const n of ['torch.storage.TypedStorage', 'torch.TypedStorage', 'torch.storage._TypedStorage', 'torch._TypedStorage']) m.set(n, { kind: 'storage', dtype: null });
  return m;
})();
