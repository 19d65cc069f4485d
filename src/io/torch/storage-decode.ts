/**
 * Storage bytes → qkv typed arrays, and the tensor rebuild functions of torch.save
 * (`torch._utils._rebuild_tensor_v2`, `_rebuild_tensor`, `_rebuild_parameter`), checked.
 *
 * Dtype policy (the same as the safetensors reader): float32, float64, int64 (exact to 2^53; a
 * larger value is an error), int32 and bool load as themselves; float16 and bfloat16 widen to
 * float32, int16, int8 and uint8 widen to int32 — every value is kept exactly — unless
 * `{ widen: false }`, which makes them an error. `{ castFloats: 'float32' }` loads float64 as
 * float32. Complex and quantized storages are an error. Bool bytes other than 0 and 1 are an error.
 */
import { TorchLoadError, fmtShape } from '../../errors.js';
import { allocate, type DType, type TypedArray } from '../../dtype.js';
import { Tensor } from '../../tensor/tensor.js';
import { TORCH_DTYPES, TorchStorage, type TorchDTypeName } from './values.js';

export interface DecodeOptions {
  widen: boolean;
  castFloats: 'float32' | undefined;
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let halfTable: Float32Array | null = null;
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
function halves(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i);
  }
  return halfTable;
}

/** The qkv dtype a torch dtype loads as under `opts` (or a TorchLoadError saying why not). */
export function loadedDType(t: TorchDTypeName, opts: DecodeOptions, where: string): DType {
  const info = TORCH_DTYPES[t];
  if (info.qkv === null) throw new TorchLoadError(`torch.load: ${where} has dtype torch.${t}, which qkv cannot represent (complex and quantized storages are not supported)`);
  if (info.widened && !opts.widen) {
    throw new TorchLoadError(`torch.load: ${where} has dtype torch.${t}, which qkv does not have; it would load widened to ${info.qkv} (exactly), but { widen: false } was given`);
  }
  if (info.qkv === 'float64' && opts.castFloats === 'float32') return 'float32';
  return info.qkv;
}

/** A copy of `bytes` in a fresh, aligned buffer (or `bytes` itself when it already is one). */
function ownAligned(bytes: Uint8Array, fresh: boolean, align: number): ArrayBuffer {
  if (fresh && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  if (fresh && bytes.byteOffset % align === 0 && bytes.buffer instanceof ArrayBuffer) return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/**
 * Decodes `numel` elements of `t` from `bytes` (at least numel × size bytes, byte order
 * `littleEndian`) into the qkv dtype `dtype`. `fresh`: `bytes` is a buffer nobody else holds.
 */
export function decodeStorage(
  bytes: Uint8Array, t: TorchDTypeName, dtype: DType, numel: number, littleEndian: boolean, fresh: boolean, where: string,
): TypedArray {
  const size = TORCH_DTYPES[t].size;
  const raw = bytes.subarray(0, numel * size);
  const bad = (i: number, what: string): never => {
    throw new TorchLoadError(`torch.load: ${where}: element ${i} ${what}`);
  };
  let out: TypedArray;
  try {
    if (littleEndian === HOST_LE) {
      switch (t) {
        case 'float32': {
          const a = new Float32Array(ownAligned(raw, fresh, 4), 0, numel);
          return dtype === 'float32' ? a : Float64Array.from(a);
        }
        case 'float64': {
          const a = new Float64Array(ownAligned(raw, fresh, 8), 0, numel);
          return dtype === 'float64' ? a : Float32Array.from(a);
        }
        case 'int32': return new Int32Array(ownAligned(raw, fresh, 4), 0, numel);
        case 'int8': return Int32Array.from(new Int8Array(raw.buffer, raw.byteOffset, numel));
        case 'uint8': return Int32Array.from(raw);
        case 'bool': {
          const a = new Uint8Array(ownAligned(raw, fresh, 1), 0, numel);
          for (let i = 0; i < numel; i++) if (a[i] > 1) bad(i, `is the byte ${a[i]}, not 0 or 1 (a bool)`);
          return a;
        }
        default: break;
      }
    }
    out = allocate(dtype, numel);
  } catch (err) {
    if (err instanceof RangeError) throw new TorchLoadError(`torch.load: ${where}: cannot allocate ${numel} elements`);
    throw err;
  }
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = littleEndian;
  switch (t) {
    case 'float32': for (let i = 0; i < numel; i++) out[i] = v.getFloat32(4 * i, le); break;
    case 'float64': for (let i = 0; i < numel; i++) out[i] = v.getFloat64(8 * i, le); break;
    case 'float16': {
      const tab = halves();
      for (let i = 0; i < numel; i++) out[i] = tab[v.getUint16(2 * i, le)];
      break;
    }
    case 'bfloat16': {
      // bf16 is the upper half of a float32 (NaN payloads survive the shift).
      const bits = new Uint32Array(out.buffer, out.byteOffset, numel);
      for (let i = 0; i < numel; i++) bits[i] = v.getUint16(2 * i, le) << 16;
      break;
    }
    case 'int64':
      for (let i = 0; i < numel; i++) {
        const lo = v.getUint32(8 * i + (le ? 0 : 4), le), hi = v.getInt32(8 * i + (le ? 4 : 0), le);
        // |x| ≤ 2^53 ⇔ hi ∈ [−2^21, 2^21), or x = 2^53 exactly.
        if (hi < -0x200000 || hi > 0x200000 || (hi === 0x200000 && lo !== 0)) {
          bad(i, `(${(BigInt(hi) << 32n) | BigInt(lo)}) is beyond ±2^53, which qkv's int64 cannot hold exactly`);
        }
        out[i] = hi * 4294967296 + lo;
      }
      break;
    case 'int32': for (let i = 0; i < numel; i++) out[i] = v.getInt32(4 * i, le); break;
    case 'int16': for (let i = 0; i < numel; i++) out[i] = v.getInt16(2 * i, le); break;
    case 'int8': for (let i = 0; i < numel; i++) out[i] = v.getInt8(i); break;
    case 'uint8': for (let i = 0; i < numel; i++) out[i] = v.getUint8(i); break;
    case 'bool':
      for (let i = 0; i < numel; i++) {
        const b = v.getUint8(i);
        if (b > 1) bad(i, `is the byte ${b}, not 0 or 1 (a bool)`);
        out[i] = b;
      }
      break;
    default:
      throw new TorchLoadError(`torch.load: ${where}: dtype torch.${t} cannot be decoded`);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Tensor rebuild

const isSeq = (v: unknown): v is readonly unknown[] => Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isDict = (v: unknown): boolean => v instanceof Map || (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype);

/** A short description of a pickled value, for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? `the int ${v}` : `the float ${v}`;
  if (typeof v === 'bigint') return `the int ${v}`;
  if (typeof v === 'string') return `the str ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (v instanceof Uint8Array) return `bytes of length ${v.length}`;
  if (v instanceof Tensor) return `a ${v.dtype} tensor of shape ${fmtShape(v.shape)}`;
  if (v instanceof TorchStorage) return `a torch.${v.torchDtype} storage`;
  if (Array.isArray(v)) return `${Object.isFrozen(v) ? 'a tuple' : 'a list'} of ${v.length}`;
  if (v instanceof Set) return 'a set';
  if (v instanceof Map) return 'a dict';
  if (typeof v === 'object') {
    const s = (v as { qualifiedName?: unknown }).qualifiedName;
    if (typeof s === 'string') return s;
    return 'a dict';
  }
  return typeof v;
}

function intTuple(v: unknown, what: string, fail: (m: string) => never): number[] {
  if (!isSeq(v)) return fail(`${what} must be a tuple of ints, got ${describe(v)}`);
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (!isInt(x) || x < 0) return fail(`${what}[${i}] must be a non-negative int below 2^53, got ${describe(x)}`);
    out.push(x);
  }
  return out;
}

/**
 * `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`
 * or `_rebuild_tensor(storage, storage_offset, size, stride)`: a qkv Tensor viewing the storage.
 * Checks: a storage, non-negative ints, as many strides as sizes, the element count within 2^53,
 * the last element inside the storage, requires_grad a bool (and only on a floating dtype),
 * backward hooks a dict, metadata None or empty.
 */
export function rebuildTensor(args: readonly unknown[], v2: boolean, fail: (m: string) => never): Tensor {
  const fn = v2 ? 'torch._utils._rebuild_tensor_v2' : 'torch._utils._rebuild_tensor';
  const want = v2 ? '6 or 7' : '4';
  if (!(v2 ? args.length === 6 || args.length === 7 : args.length === 4)) return fail(`${fn} takes ${want} arguments, got ${args.length}`);
  const [st, off, sizeV, strideV] = args;
  if (!(st instanceof TorchStorage)) return fail(`${fn}: the storage argument is ${describe(st)}, not a storage`);
  if (!isInt(off) || off < 0) return fail(`${fn}: storage_offset must be a non-negative int, got ${describe(off)}`);
  const shape = intTuple(sizeV, `${fn}: size`, fail);
  const strides = intTuple(strideV, `${fn}: stride`, fail);
  if (shape.length !== strides.length) return fail(`${fn}: size ${fmtShape(shape)} has ${shape.length} dims but stride ${fmtShape(strides)} has ${strides.length}`);
  let numel = 1;
  let last = off;
  for (let d = 0; d < shape.length; d++) {
    numel *= shape[d];
    if (!Number.isSafeInteger(numel)) return fail(`${fn}: size ${fmtShape(shape)} has more than 2^53 elements`);
  }
  if (numel > 0) {
    for (let d = 0; d < shape.length; d++) {
      last += (shape[d] - 1) * strides[d];
      if (!Number.isSafeInteger(last)) return fail(`${fn}: size ${fmtShape(shape)} with stride ${fmtShape(strides)} reaches beyond 2^53`);
    }
    if (last >= st.numel) {
      return fail(`${fn}: a tensor of size ${fmtShape(shape)}, stride ${fmtShape(strides)} at storage offset ${off} reaches element ${last}, but storage ${JSON.stringify(st.key)} has ${st.numel} elements (the storage is too short for the view)`);
    }
  }
  let requiresGrad = false;
  if (v2) {
    const [, , , , rg, hooks, meta] = args;
    if (typeof rg !== 'boolean') return fail(`${fn}: requires_grad must be a bool, got ${describe(rg)}`);
    if (!isDict(hooks)) return fail(`${fn}: backward_hooks must be a dict, got ${describe(hooks)}`);
    if (args.length === 7 && meta !== null && !(isDict(meta) && (meta instanceof Map ? meta.size === 0 : Object.keys(meta as object).length === 0))) {
      return fail(`${fn}: tensor metadata ${describe(meta)} (conjugate/negative bits) is not supported by qkv`);
    }
    requiresGrad = rg;
  }
  const t = new Tensor(st.storage, st.dtype, shape, strides, numel === 0 ? 0 : st.offset + off);
  if (requiresGrad) setRequiresGrad(t, fn, fail);
  return t;
}

function setRequiresGrad(t: Tensor, fn: string, fail: (m: string) => never): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') return fail(`${fn}: requires_grad=True on a ${t.dtype} tensor (only floating point tensors can require gradients)`);
  t.requiresGrad = true;
}

/** `_rebuild_parameter(data, requires_grad, backward_hooks)` and `Parameter(data[, requires_grad])`. */
export function rebuildParameter(args: readonly unknown[], fn: string, fail: (m: string) => never): Tensor {
  const newobj = fn === 'torch.nn.parameter.Parameter';
  if (newobj ? args.length < 1 || args.length > 2 : args.length !== 3) return fail(`${fn} takes ${newobj ? '1 or 2' : '3'} arguments, got ${args.length}`);
  const [data, rg = true, hooks] = args;
  if (!(data instanceof Tensor)) return fail(`${fn}: data must be a tensor, got ${describe(data)}`);
  if (typeof rg !== 'boolean') return fail(`${fn}: requires_grad must be a bool, got ${describe(rg)}`);
  if (!newobj && !isDict(hooks)) return fail(`${fn}: backward_hooks must be a dict, got ${describe(hooks)}`);
  const p = data.asStrided(data.shape, data.strides, data.offset);
  if (rg) setRequiresGrad(p, fn, fail);
  return p;
}

