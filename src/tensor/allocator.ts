/**
 * Memory for tensors: uninitialized allocation, a size-keyed pool of recycled arrays, and the
 * Arena that decides when a buffer may be written in place or recycled.
 *
 * JavaScript frees an ArrayBuffer only when V8's GC finds it unreachable, and V8 collects when
 * external (ArrayBuffer) memory grows — so a training step that allocates its buffers afresh pays
 * in GC pauses. Code that knows a buffer is dead (backward, once a gradient is consumed) gives it
 * back here, and the next allocation of the same size takes it instead of a new ArrayBuffer.
 */
import { allocate, itemSize, type DType, type TypedArray } from '../dtype.js';
import { AllocationError, ShapeError, fmtShape } from '../errors.js';
import { nextStorageSerial, type Storage } from './storage.js';

/** Below this many elements a zeroed typed array is as cheap as an uninitialized one. */
const UNINITIALIZED_MIN = 1024;
/** Upper bound on the memory the pool holds; beyond it recycled arrays are left to the GC. */
const POOL_MAX_BYTES = 512 * 2 ** 20;

/** The most elements one typed array can hold (V8's limit). */
export const MAX_ELEMENTS = 2 ** 32;

/**
 * The data of a new tensor of `shape`: zeroed, or uninitialized (see allocateUninitialized).
 * Every size is checked here, where it is computed: a bad shape is a ShapeError, a tensor too
 * large for a typed array or for memory an AllocationError naming `op`, the shape and the bytes.
 */
export function allocateData(dtype: DType, shape: readonly number[], op: string, uninitialized = false): TypedArray {
  let n = 1;
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 0) {
      throw new ShapeError(`${op}: invalid shape ${fmtShape(shape)}: sizes must be non-negative integers`);
    }
    n *= s;
  }
  const bytes = n * itemSize(dtype);
  const what = () => `${op}: a tensor of shape ${fmtShape(shape)} (${n.toLocaleString('en-US')} elements of ${dtype}, ${bytes.toLocaleString('en-US')} bytes)`;
  if (n > MAX_ELEMENTS) throw new AllocationError(`${what()} is larger than the largest array JavaScript can allocate (2^32 elements)`);
  try {
    return uninitialized ? allocateUninitialized(dtype, n) : allocate(dtype, n);
  } catch (err) {
    if (err instanceof RangeError) throw new AllocationError(`${what()} could not be allocated: ${err.message}`);
    throw err;
  }
}

const pool = new Map<DType, Map<number, TypedArray[]>>();
let pooledBytes = 0;
let reusedCount = 0;
let recycledCount = 0;

/**
 * An array for `n` elements of `dtype` whose contents are unspecified (stale memory, not zeros):
 * for op outputs that a kernel overwrites completely. Large zeroed allocations cost a memset of
 * the whole buffer (calloc) — about as much as the kernel that fills it for cheap ops.
 */
export function allocateUninitialized(dtype: DType, n: number): TypedArray {
  if (n < UNINITIALIZED_MIN) return allocate(dtype, n);
  const reused = pool.get(dtype)?.get(n)?.pop();
  if (reused) {
    pooledBytes -= reused.byteLength;
    reusedCount++;
    return reused;
  }
  switch (dtype) {
    case 'float32': return new Float32Array(rawBuffer(n * 4), 0, n);
    case 'float64': case 'int64': return new Float64Array(rawBuffer(n * 8), 0, n);
    case 'int32': return new Int32Array(rawBuffer(n * 4), 0, n);
    case 'bool': return new Uint8Array(rawBuffer(n), 0, n);
  }
}

/** Node's Buffer, where there is one: it can allocate without zeroing. */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(n: number): Uint8Array } }).Buffer;

/** An ArrayBuffer of `bytes` bytes: not zeroed under Node, zeroed elsewhere (browsers). */
function rawBuffer(bytes: number): ArrayBuffer {
  return NodeBuffer ? (NodeBuffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer) : new ArrayBuffer(bytes);
}

const RELEASED: Record<DType, TypedArray> = {
  float32: new Float32Array(0),
  float64: new Float64Array(0),
  int64: new Float64Array(0),
  int32: new Int32Array(0),
  bool: new Uint8Array(0),
};

/**
 * Gives an owned storage's array back for reuse. The caller guarantees that no tensor anyone can
 * still reach uses `storage`; its array is replaced by an empty one, so a use after release fails
 * the backend's range check instead of reading another tensor's values.
 */
export function recycleStorage(storage: Storage, dtype: DType): void {
  const data = storage.data;
  if (!storage.owned || storage.released) return;
  storage.data = RELEASED[dtype];
  storage.released = true;
  if (data.length < UNINITIALIZED_MIN || pooledBytes + data.byteLength > POOL_MAX_BYTES) return;
  let bySize = pool.get(dtype);
  if (!bySize) pool.set(dtype, (bySize = new Map()));
  let list = bySize.get(data.length);
  if (!list) bySize.set(data.length, (list = []));
  list.push(data);
  pooledBytes += data.byteLength;
  recycledCount++;
}

// ---------------------------------------------------------------------------------------------
// tidy(): a scope whose tensors are released when it ends

interface Scope {
  entries: { storage: Storage; dtype: DType }[];
}
const scopes: Scope[] = [];

/** Registers a storage just allocated for a tensor with the innermost tidy() scope, if any. */
export function trackStorage(storage: Storage, dtype: DType): void {
  const scope = scopes[scopes.length - 1];
  if (scope !== undefined) scope.entries.push({ storage, dtype });
}

/**
 * Exempts a tensor (its storage, so every view of it too) from every tidy() scope, present and
 * future; returns it (tf.keep).
 */
export function keep<T extends { storage: Storage }>(t: T): T {
  t.storage.kept = true;
  return t;
}

/** Storages reachable from a scope's result: tensors, and arrays / plain objects / Maps of them. */
function collect(value: unknown, into: Set<Storage>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  const storage = (value as { storage?: unknown }).storage;
  if (storage instanceof Object && 'serial' in storage && 'data' in storage) {
    into.add(storage as Storage);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, into, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, into, depth + 1);
}

/**
 * Runs `fn` and then releases the memory of every tensor allocated during it, except the
 * tensors it returns (in an array or plain object too) and kept ones — TensorFlow.js's tidy.
 * JavaScript frees memory only when V8's garbage collector finds it unreachable; a scope gives
 * the memory back at once, to a pool the next allocation of the same size takes from, so a
 * loop of steps each in a scope runs without growing the heap or waiting for the GC.
 *
 * Parameters, module buffers, `.grad`s, optimizer state and attention caches are kept
 * automatically; keep anything else that must outlive the scope with `keep(t)`, or return it.
 * Using a tensor after its scope released it is an error naming the scope, never stale data.
 *
 * Example: `for (…) tidy(() => { const loss = model.forward(x, y).loss!; loss.backward(); opt.step(); })`
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = { entries: [] };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    release(scope, new Set());
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    release(scope, new Set());
    throw new TypeError('tidy: the function returned a Promise; a scope covers synchronous code only (tensors made after an await would escape it)');
  }
  const out = new Set<Storage>();
  collect(result, out);
  release(scope, out);
  return result;
}

function release(scope: Scope, out: Set<Storage>): void {
  const parent = scopes[scopes.length - 1];
  for (const e of scope.entries) {
    if (e.storage.kept) continue;
    if (out.has(e.storage)) parent?.entries.push(e); // returned: an enclosing scope owns it now
    else recycleStorage(e.storage, e.dtype);
  }
}

/** What the pool holds now and how many arrays it has taken back and handed out again. */
export function storagePoolStats(): { pooledBytes: number; recycled: number; reused: number } {
  return { pooledBytes, recycled: recycledCount, reused: reusedCount };
}

/**
 * The buffers one computation allocated, and who still uses them. A buffer is the arena's when
 * it was created during the arena's lifetime, is owned (not wrapped from outside) and was never
 * handed out (`escape`); the arena counts its uses (`hold`/`drop`), and only a buffer of its own
 * with no remaining use may be recycled — or, with exactly one use, written in place by that user.
 * Nothing allocated before the arena began (saved activations, a gradient passed in) is ever
 * written or recycled through it.
 *
 * Backward (autograd/engine.ts) runs one arena per pass.
 */
export class Arena {
  private readonly firstSerial = nextStorageSerial();
  private readonly uses = new Map<Storage, number>();
  private readonly escaped = new Set<Storage>();

  /** Allocated in this arena's lifetime, owned, live and never handed out. */
  owns(s: Storage): boolean {
    return s.owned && s.serial >= this.firstSerial && !this.escaped.has(s) && !s.released && s.data.length > 0;
  }

  /** One more user of `s`. */
  hold(s: Storage): void {
    this.uses.set(s, (this.uses.get(s) ?? 0) + 1);
  }

  /** One user fewer. */
  drop(s: Storage): void {
    const n = this.uses.get(s);
    if (n !== undefined) this.uses.set(s, n - 1);
  }

  /** How many users `s` has. */
  users(s: Storage): number {
    return this.uses.get(s) ?? 0;
  }

  /** The arena's own buffer with a single user: that user may write it in place. */
  exclusive(s: Storage): boolean {
    return this.owns(s) && this.users(s) === 1;
  }

  /** `s` is handed out (to a `.grad`, a result): never written in place or recycled from now on. */
  escape(s: Storage): void {
    this.escaped.add(s);
  }

  /** Recycles `s` if it is the arena's and unused (or unconditionally so when `finished`). */
  release(s: Storage, dtype: DType, finished = false): void {
    if (this.owns(s) && (finished || !this.users(s))) {
      this.uses.delete(s);
      recycleStorage(s, dtype);
    }
  }
}
