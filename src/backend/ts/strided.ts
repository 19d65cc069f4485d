/**
 * Strided iteration shared by the reference kernels.
 *
 * Several operands share one logical shape but each has its own strides and offset. `forEachRow`
 * drops size-1 dims, merges neighbouring dims that are contiguous for every operand, and then
 * walks the outer dims with an odometer, handing each innermost row (length n, one stride per
 * operand) to a callback. A fully contiguous tensor is a single row.
 */
export { contiguousStrides } from '../../strides.js';

export interface Collapsed {
  shape: number[];
  strides: number[][];
}

/** Drops size-1 dims and merges dims i, i+1 when every operand has stride[i] = stride[i+1]·shape[i+1]. */
export function collapse(shape: readonly number[], stridesList: readonly (readonly number[])[]): Collapsed {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d];
    if (size === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && stridesList.every((s, k) => outStrides[k][last] === s[d] * size)) {
      outShape[last] = outShape[last] * size;
      stridesList.forEach((s, k) => { outStrides[k][last] = s[d]; });
    } else {
      outShape.push(size);
      stridesList.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  return { shape: outShape, strides: outStrides };
}

export type RowFn = (offsets: readonly number[], n: number, inner: readonly number[]) => void;

/** Calls `fn` once per innermost row of the collapsed iteration space. */
export function forEachRow(
  shape: readonly number[],
  stridesList: readonly (readonly number[])[],
  offsets: readonly number[],
  fn: RowFn,
): void {
  for (const s of shape) if (s === 0) return;
  const { shape: cs, strides: cst } = collapse(shape, stridesList);
  const k = offsets.length;
  if (cs.length === 0) {
    fn(offsets, 1, new Array<number>(k).fill(0));
    return;
  }
  const rank = cs.length;
  const n = cs[rank - 1];
  const inner = cst.map((s) => s[rank - 1]);
  const offs = offsets.slice();
  const counter = new Array<number>(rank - 1).fill(0);
  for (;;) {
    fn(offs, n, inner);
    // Advance the odometer over dims rank-2 … 0.
    let d = rank - 2;
    for (; d >= 0; d--) {
      counter[d]++;
      for (let j = 0; j < k; j++) offs[j] += cst[j][d];
      if (counter[d] < cs[d]) break;
      for (let j = 0; j < k; j++) offs[j] -= cst[j][d] * cs[d];
      counter[d] = 0;
    }
    if (d < 0) return;
  }
}

/** Calls `fn` once per element (one offset per operand); for walking batch dims. */
export function forEachElement(
  shape: readonly number[],
  stridesList: readonly (readonly number[])[],
  offsets: readonly number[],
  fn: (offsets: readonly number[]) => void,
): void {
  const cur = offsets.slice();
  forEachRow(shape, stridesList, offsets, (offs, n, inner) => {
    for (let j = 0; j < cur.length; j++) cur[j] = offs[j];
    for (let i = 0; i < n; i++) {
      fn(cur);
      for (let j = 0; j < cur.length; j++) cur[j] += inner[j];
    }
  });
}
