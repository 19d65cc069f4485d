/**
 * Helpers for the backend conformance tests: raw views (contiguous, permuted, strided, offset,
 * broadcast) over typed arrays, a seeded source of values, closeness checks that name the worst
 * element, and a loop over every native configuration (instruction set × thread count).
 */
import assert from 'node:assert/strict';
import type { Backend, View } from '../../src/backend/backend.js';
import type { DType, TypedArray } from '../../src/dtype.js';
import { allocate } from '../../src/dtype.js';
import {
  availableBackends, getNumThreads, nativeAddon, setBackend, setNumThreads, tsBackend, backend,
} from '../../src/backend/index.js';

export const ODD_SIZES = [1, 7, 17, 63, 65, 127] as const;

/** Deterministic values (xorshift), so a failure reproduces. */
export class Values {
  private s: number;
  constructor(seed: number) {
    this.s = (seed * 2654435761) >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x / 4294967296;
  }
  normal(): number {
    const u = Math.max(this.next(), 1e-12), v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((p, s) => p * s, 1);
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const st: number[] = [];
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
  return st;
}

export type Layout = 'contiguous' | 'transposed' | 'strided' | 'offset';

/**
 * A view of `shape` over fresh storage laid out as asked, filled from `fill`:
 * - contiguous: plain row-major;
 * - transposed: the storage is the reversed-dims tensor, the view permutes it back;
 * - strided: every dim stepped by 2 in a larger buffer (gaps hold a sentinel);
 * - offset: row-major starting at element 5 of the buffer.
 */
export function makeView(shape: readonly number[], layout: Layout, fill: (i: number) => number, dtype: DType = 'float32'): View {
  const n = numel(shape);
  let strides: number[], offset = 0, size: number;
  if (layout === 'contiguous') {
    strides = contiguousStrides(shape);
    size = n;
  } else if (layout === 'transposed') {
    const rev = [...shape].reverse();
    const rs = contiguousStrides(rev);
    strides = [...rs].reverse();
    size = n;
  } else if (layout === 'strided') {
    const big = shape.map((s) => 2 * s);
    const bs = contiguousStrides(big);
    strides = bs.map((s) => 2 * s);
    size = numel(big) + 1;
    offset = 1;
  } else {
    strides = contiguousStrides(shape);
    offset = 5;
    size = n + 7;
  }
  const data = allocate(dtype, size);
  data.fill(dtype === 'float32' || dtype === 'float64' ? SENTINEL : 0);
  const v: View = { data, dtype, shape: [...shape], strides, offset };
  let i = 0;
  forEachIndex(shape, (idx) => {
    data[at(v, idx)] = fill(i++);
  });
  return v;
}

/** A value no kernel writes: used to detect writes outside an output view. */
export const SENTINEL = -12345.5;

/** An output view like makeView, pre-filled with the sentinel everywhere. */
export function outView(shape: readonly number[], layout: Layout = 'contiguous', dtype: DType = 'float32'): View {
  return makeView(shape, layout, () => SENTINEL, dtype);
}

/** Broadcasts a view to `shape` by adding leading dims and stride-0 dims (as core does). */
export function broadcast(v: View, shape: readonly number[]): View {
  const lead = shape.length - v.shape.length;
  const strides = shape.map((s, i) => {
    const d = i - lead;
    return d < 0 || v.shape[d] !== s ? 0 : v.strides[d];
  });
  return { ...v, shape: [...shape], strides };
}

export function at(v: View, idx: readonly number[]): number {
  let o = v.offset;
  for (let d = 0; d < idx.length; d++) o += idx[d] * v.strides[d];
  return o;
}

export function forEachIndex(shape: readonly number[], fn: (idx: number[]) => void): void {
  if (shape.some((s) => s === 0)) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (;;) {
    fn(idx);
    let d = shape.length - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

/** A fresh copy of a view's storage with the same layout (kernels that write in place). */
export function cloneView(v: View): View {
  return { ...v, data: v.data.slice() as TypedArray };
}

export interface Tol {
  rtol?: number;
  atol?: number;
}

/**
 * Elementwise |a − e| ≤ atol + rtol·|e| over the view's elements (NaN matches NaN, infinities
 * must match), then checks that every storage slot outside the view is untouched.
 */
export function assertViewsClose(actual: View, expected: View, tol: Tol, label: string): void {
  const { rtol = 1e-5, atol = 1e-6 } = tol;
  assert.deepEqual(actual.shape, expected.shape, `${label}: shapes differ`);
  let worst: { idx: number[]; a: number; e: number; excess: number } | null = null;
  forEachIndex(actual.shape, (idx) => {
    const a = Number(actual.data[at(actual, idx)]), e = Number(expected.data[at(expected, idx)]);
    if (Number.isNaN(a) && Number.isNaN(e)) return;
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) worst = { idx: [...idx], a, e, excess: Infinity };
      return;
    }
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (excess > 0 && (!worst || excess > worst.excess)) worst = { idx: [...idx], a, e, excess };
  });
  if (worst) {
    const w = worst as { idx: number[]; a: number; e: number };
    assert.fail(`${label}: at [${w.idx.join(',')}] got ${w.a}, expected ${w.e} (rtol ${rtol}, atol ${atol}), shape [${actual.shape.join(',')}]`);
  }
  assertOutsideUntouched(actual, label);
}

/** Every storage slot a view does not cover still holds the sentinel (or 0 for integer outputs). */
export function assertOutsideUntouched(v: View, label: string): void {
  const inside = new Set<number>();
  forEachIndex(v.shape, (idx) => inside.add(at(v, idx)));
  const fillValue = v.dtype === 'float32' || v.dtype === 'float64' ? SENTINEL : 0;
  for (let i = 0; i < v.data.length; i++) {
    if (!inside.has(i) && v.data[i] !== fillValue) {
      assert.fail(`${label}: wrote storage slot ${i}, outside the output view (value ${v.data[i]})`);
    }
  }
}

export interface NativeConfig {
  label: string;
  isa: 'avx2' | 'scalar';
  threads: number;
}

/** Every configuration of the native backend this machine can run (ISA × 1 and 2 threads). */
export function nativeConfigs(): NativeConfig[] {
  const addon = nativeAddon();
  if (!addon) return [];
  const isas: ('avx2' | 'scalar')[] = addon.cpuFeatures().avx2 && addon.cpuFeatures().fma ? ['avx2', 'scalar'] : ['scalar'];
  const out: NativeConfig[] = [];
  for (const isa of isas) for (const threads of [1, 2]) out.push({ label: `${isa}, ${threads} thread${threads > 1 ? 's' : ''}`, isa, threads });
  return out;
}

/** Runs fn with the native backend switched to `cfg`, restoring ISA, threads and backend after. */
export function withNative<T>(cfg: NativeConfig, fn: (native: Backend) => T): T {
  const addon = nativeAddon()!;
  const prevIsa = addon.isa() as 'avx2' | 'scalar';
  const prevThreads = getNumThreads();
  const prevBackend = backend().name;
  try {
    addon.setIsa(cfg.isa);
    setNumThreads(cfg.threads);
    return fn(setBackend('native'));
  } finally {
    addon.setIsa(prevIsa);
    setNumThreads(prevThreads);
    setBackend(prevBackend);
  }
}

/** Runs fn once per available backend with it selected, restoring the previous one after. */
export function forEachBackend(fn: (name: string) => void): void {
  for (const name of availableBackends()) withBackend(name, () => fn(name));
}

export function withBackend<T>(name: string, fn: () => T): T {
  const prev = backend().name;
  setBackend(name);
  try {
    return fn();
  } finally {
    setBackend(prev);
  }
}

export { tsBackend };
