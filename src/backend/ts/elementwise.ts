/**
 * Elementwise kernels of the reference backend: unary and binary maps, where, and strided copy.
 * Each op is its scalar definition in a table — the specification the native kernels follow.
 */
import type { BinaryOp, UnaryOp, View } from '../backend.js';
import type { TypedArray } from '../../dtype.js';
import { forEachRow } from './strided.js';
import { erf, gelu, geluGrad, geluTanh, geluTanhGrad, roundHalfEven, sigmoid } from '../../math.js';

export const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  sigmoid,
  relu: (x) => (x > 0 ? x : x === 0 || x < 0 ? 0 : x),
  gelu,
  geluTanh,
  sin: Math.sin,
  cos: Math.cos,
  erf,
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
};

export const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  // torch.maximum/minimum propagate NaN.
  maximum: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b),
  atan2: Math.atan2,
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  logicalAnd: (a, b) => (a !== 0 && b !== 0 ? 1 : 0),
  logicalOr: (a, b) => (a !== 0 || b !== 0 ? 1 : 0),
  reluBackward: (x, g) => (x > 0 ? g : 0),
  geluBackward: (x, g) => g * geluGrad(x),
  geluTanhBackward: (x, g) => g * geluTanhGrad(x),
  sigmoidBackward: (y, g) => g * y * (1 - y),
  tanhBackward: (y, g) => g * (1 - y * y),
};

/** Storing a float into an int64 (Float64Array) slot must truncate like a C cast. */
function needsTrunc(out: View): boolean {
  return out.dtype === 'int64';
}

export function unary(op: UnaryOp, x: View, out: View): void {
  const f = UNARY[op];
  const xd = x.data;
  const od = out.data;
  const trunc = needsTrunc(out);
  forEachRow(out.shape, [x.strides, out.strides], [x.offset, out.offset], (offs, n, inner) => {
    let ix = offs[0], io = offs[1];
    const sx = inner[0], so = inner[1];
    for (let i = 0; i < n; i++, ix += sx, io += so) {
      const v = f(xd[ix]);
      od[io] = trunc ? Math.trunc(v) : v;
    }
  });
}

export function binary(op: BinaryOp, a: View, b: View, out: View): void {
  const f = BINARY[op];
  const ad = a.data, bd = b.data, od = out.data;
  const trunc = needsTrunc(out);
  forEachRow(out.shape, [a.strides, b.strides, out.strides], [a.offset, b.offset, out.offset], (offs, n, inner) => {
    let ia = offs[0], ib = offs[1], io = offs[2];
    const sa = inner[0], sb = inner[1], so = inner[2];
    for (let i = 0; i < n; i++, ia += sa, ib += sb, io += so) {
      const v = f(ad[ia], bd[ib]);
      od[io] = trunc ? Math.trunc(v) : v;
    }
  });
}

export function where(cond: View, a: View, b: View, out: View): void {
  const cd = cond.data, ad = a.data, bd = b.data, od = out.data;
  forEachRow(
    out.shape,
    [cond.strides, a.strides, b.strides, out.strides],
    [cond.offset, a.offset, b.offset, out.offset],
    (offs, n, inner) => {
      let ic = offs[0], ia = offs[1], ib = offs[2], io = offs[3];
      const sc = inner[0], sa = inner[1], sb = inner[2], so = inner[3];
      for (let i = 0; i < n; i++, ic += sc, ia += sa, ib += sb, io += so) od[io] = cd[ic] !== 0 ? ad[ia] : bd[ib];
    },
  );
}

export function copy(src: View, dst: View): void {
  const sd = src.data, dd: TypedArray = dst.data;
  const trunc = needsTrunc(dst) && !(src.dtype === 'int64' || src.dtype === 'int32' || src.dtype === 'bool');
  const toBool = dst.dtype === 'bool';
  forEachRow(dst.shape, [src.strides, dst.strides], [src.offset, dst.offset], (offs, n, inner) => {
    let is = offs[0], id = offs[1];
    const ss = inner[0], sd2 = inner[1];
    if (ss === 1 && sd2 === 1 && !trunc && !toBool && sd.constructor === dd.constructor) {
      dd.set(sd.subarray(is, is + n), id);
      return;
    }
    for (let i = 0; i < n; i++, is += ss, id += sd2) {
      const v = sd[is];
      dd[id] = toBool ? (v !== 0 ? 1 : 0) : trunc ? Math.trunc(v) : v;
    }
  });
}
