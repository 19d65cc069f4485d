/**
 * Reductions of the reference backend. The input is walked as [kept dims…, reduced dims…] so
 * every innermost row is a run of one reduction; sums accumulate in float64 (PyTorch accumulates
 * float32 sums pairwise; float64 is at least as accurate). max/min propagate NaN like PyTorch.
 */
import type { ReduceOp, View } from '../backend.js';
import { contiguousStrides, forEachRow } from './strided.js';

export function reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void {
  const isAxis = new Array<boolean>(x.shape.length).fill(false);
  for (const a of axes) isAxis[a] = true;
  const kept: number[] = [];
  const red: number[] = [];
  x.shape.forEach((_, d) => (isAxis[d] ? red : kept).push(d));
  const order = [...kept, ...red];
  const shape = order.map((d) => x.shape[d]);
  const xStrides = order.map((d) => x.strides[d]);
  const outContig = contiguousStrides(kept.map((d) => x.shape[d]));
  const accStrides = [...outContig, ...red.map(() => 0)];
  const nOut = kept.reduce((p, d) => p * x.shape[d], 1);
  const xd = x.data;

  if (op === 'sum') {
    const acc = new Float64Array(nOut);
    forEachRow(shape, [xStrides, accStrides], [x.offset, 0], (offs, n, inner) => {
      let ix = offs[0], ia = offs[1];
      const sx = inner[0], sa = inner[1];
      if (sa === 0) {
        let s = 0;
        for (let i = 0; i < n; i++, ix += sx) s += xd[ix];
        acc[ia] += s;
      } else {
        for (let i = 0; i < n; i++, ix += sx, ia += sa) acc[ia] += xd[ix];
      }
    });
    storeContiguous(acc, out);
    return;
  }

  if (op === 'max' || op === 'min') {
    const sign = op === 'max' ? 1 : -1;
    const acc = new Float64Array(nOut).fill(-Infinity);
    forEachRow(shape, [xStrides, accStrides], [x.offset, 0], (offs, n, inner) => {
      let ix = offs[0], ia = offs[1];
      const sx = inner[0], sa = inner[1];
      for (let i = 0; i < n; i++, ix += sx, ia += sa) {
        const v = sign * xd[ix];
        const m = acc[ia];
        if (m === m && !(v <= m)) acc[ia] = v;
      }
    });
    if (sign === -1) for (let i = 0; i < nOut; i++) acc[i] = -acc[i];
    storeContiguous(acc, out);
    return;
  }

  // argmax / argmin over exactly one axis: rows along that axis, first index wins ties.
  const sign = op === 'argmax' ? 1 : -1;
  const arg = new Float64Array(nOut);
  const axisLen = red.length === 1 ? x.shape[red[0]] : 0;
  if (axisLen > 1) {
    forEachRow(shape, [xStrides, accStrides], [x.offset, 0], (offs, n, inner) => {
      let ix = offs[0];
      const ia = offs[1];
      const sx = inner[0];
      let m = -Infinity, k = 0;
      for (let i = 0; i < n; i++, ix += sx) {
        const v = sign * xd[ix];
        if (m === m && (!(v <= m) || i === 0)) { m = v; k = i; }
      }
      arg[ia] = k;
    });
  }
  storeContiguous(arg, out);
}

function storeContiguous(acc: Float64Array, out: View): void {
  const od = out.data;
  const trunc = out.dtype === 'int64';
  for (let i = 0; i < acc.length; i++) od[out.offset + i] = trunc ? Math.trunc(acc[i]) : acc[i];
}
