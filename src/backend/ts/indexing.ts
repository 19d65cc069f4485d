/**
 * Gather and scatter along one dim (torch.gather / scatter_ / scatter_add_) on strided views.
 * Core has checked the index values (in range, integer) and the shapes.
 */
import type { View } from '../backend.js';
import { forEachElement } from './strided.js';

/** out[…, i, …] = x[…, index[…, i, …], …] along `dim`; index and out share a shape. */
export function gather(x: View, dim: number, index: View, out: View): void {
  const xs = x.strides.slice();
  const step = xs[dim];
  xs[dim] = 0;
  const xd = x.data, id = index.data, od = out.data;
  forEachElement(out.shape, [xs, index.strides, out.strides], [x.offset, index.offset, out.offset], (o) => {
    od[o[2]] = xd[o[0] + id[o[1]] * step];
  });
}

/**
 * dst[…, index[…, i, …], …] = src[…, i, …] along `dim` (or += with 'add'), in place, walking
 * index in row-major order (so with repeated indices and 'none' the last write wins).
 */
export function scatter(dst: View, dim: number, index: View, src: View, reduce: 'none' | 'add'): void {
  const ds = dst.strides.slice();
  const step = ds[dim];
  ds[dim] = 0;
  const dd = dst.data, id = index.data, sd = src.data;
  forEachElement(index.shape, [ds, index.strides, src.strides], [dst.offset, index.offset, src.offset], (o) => {
    const p = o[0] + id[o[1]] * step;
    if (reduce === 'add') dd[p] += sd[o[2]];
    else dd[p] = sd[o[2]];
  });
}
