/**
 * Elementwise ops with broadcasting and PyTorch's type promotion, their gradient rules, and the
 * in-place forms. Operands may be tensors or JS numbers (a number never widens a tensor's dtype
 * within its category: float32 + 2.5 is float32, like PyTorch).
 */
import { attach, needsGrad } from '../autograd/node.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { ArgumentError, AutogradError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastShapes } from '../tensor/shape.js';
import { backend } from '../backend/index.js';
import type { BinaryOp, UnaryOp, View } from '../backend/index.js';
import { isFloating, isIntegral, promoteTypes, type DType } from '../dtype.js';
import { sumTo } from './reduce.js';
import { checkInternalOverlap, readableWhileWriting } from './overlap.js';

export type Operand = Tensor | number | boolean;

function scalarKind(v: number | boolean): 'int' | 'float' | 'bool' {
  return typeof v === 'boolean' ? 'bool' : Number.isInteger(v) ? 'int' : 'float';
}

/** The dtype PyTorch would give `op(a, b, …)`. */
export function resultType(...operands: Operand[]): DType {
  const dimensioned: DType[] = [], zeroDim: DType[] = [], scalars: ('int' | 'float' | 'bool')[] = [];
  for (const o of operands) {
    if (o instanceof Tensor) (o.ndim > 0 ? dimensioned : zeroDim).push(o.dtype);
    else scalars.push(scalarKind(o));
  }
  return promoteTypes(dimensioned, zeroDim, scalars);
}

function asTensor(v: Operand, dtype: DType): Tensor {
  return v instanceof Tensor ? v : Tensor.scalar(Number(v), dtype);
}

/** A raw (no-autograd) view of `t` broadcast to `shape`, stride 0 on broadcast dims. */
export function broadcastView(t: Tensor, shape: readonly number[]): View {
  const lead = shape.length - t.ndim;
  const strides = shape.map((s, i) => {
    const d = i - lead;
    return d < 0 || t.shape[d] !== s ? 0 : t.strides[d];
  });
  return { data: t.storage.data, dtype: t.dtype, shape, strides, offset: t.offset };
}

const COMPARISONS = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr']);

function compute(op: BinaryOp, a: Tensor, b: Tensor, dtype: DType): Tensor {
  const shape = broadcastShapes(a.shape, b.shape, op);
  const out = Tensor.uninitialized(shape, dtype, op);
  backend().binary(op, broadcastView(a, shape), broadcastView(b, shape), out.view_());
  return out;
}

/** Runs a binary map with broadcasting and promotion, without recording a graph. */
function binaryRaw(op: BinaryOp, a: Operand, b: Operand): [Tensor, Tensor, Tensor] {
  let dtype = resultType(a, b);
  const ta = asTensor(a, dtype), tb = asTensor(b, dtype);
  if (op === 'div' && !isFloating(dtype)) dtype = 'float32'; // true division
  if ((op === 'atan2') && !isFloating(dtype)) dtype = 'float32';
  const outDtype = COMPARISONS.has(op) ? 'bool' : dtype;
  return [compute(op, ta, tb, outDtype), ta, tb];
}

function gradOf(t: Tensor, g: Tensor): Tensor | null {
  return t.requiresGrad ? sumTo(g, t.shape) : null;
}

export function add(a: Operand, b: Operand): Tensor {
  const [out, ta, tb] = binaryRaw('add', a, b);
  return attach(out, 'AddBackward', [ta, tb], (g) => [gradOf(ta, g), gradOf(tb, g)]);
}

export function sub(a: Operand, b: Operand): Tensor {
  const [out, ta, tb] = binaryRaw('sub', a, b);
  return attach(out, 'SubBackward', [ta, tb], (g) => [gradOf(ta, g), tb.requiresGrad ? sumTo(g.neg(), tb.shape) : null]);
}

export function mul(a: Operand, b: Operand): Tensor {
  const [out, ta, tb] = binaryRaw('mul', a, b);
  return attach(out, 'MulBackward', [ta, tb], (g) => [
    ta.requiresGrad ? sumTo(g.mul(tb), ta.shape) : null,
    tb.requiresGrad ? sumTo(g.mul(ta), tb.shape) : null,
  ], [ta, tb]);
}

export function div(a: Operand, b: Operand): Tensor {
  const [out, ta, tb] = binaryRaw('div', a, b);
  return attach(out, 'DivBackward', [ta, tb], (g) => [
    ta.requiresGrad ? sumTo(g.div(tb), ta.shape) : null,
    tb.requiresGrad ? sumTo(g.mul(ta).div(tb.mul(tb)).neg(), tb.shape) : null,
  ], [ta, tb]);
}

/** a^b. d/da = b·a^(b−1); d/db = a^b·log(a), taken as 0 where a = 0 and b ≥ 0 (PyTorch's rule). */
export function pow(a: Operand, b: Operand): Tensor {
  const [out, ta, tb] = binaryRaw('pow', a, b);
  return attach(out, 'PowBackward', [ta, tb], (g) => [
    ta.requiresGrad ? sumTo(g.mul(tb).mul(pow(ta, sub(tb, 1)).maskedFill(tb.eq(0), 0)), ta.shape) : null,
    tb.requiresGrad ? sumTo(g.mul(out).mul(ta.log()).maskedFill(ta.eq(0).logicalAnd(tb.ge(0)), 0), tb.shape) : null,
  ], [ta, tb, out]);
}

/** Elementwise max; on ties each side gets half the gradient (PyTorch's rule). */
export function maximum(a: Tensor, b: Operand): Tensor {
  return extremum2('maximum', a, b);
}

export function minimum(a: Tensor, b: Operand): Tensor {
  return extremum2('minimum', a, b);
}

function extremum2(op: 'maximum' | 'minimum', a: Operand, b: Operand): Tensor {
  const [out, ta, tb] = binaryRaw(op, a, b);
  const wins = op === 'maximum' ? 'gt' : 'lt';
  return attach(out, op === 'maximum' ? 'MaximumBackward' : 'MinimumBackward', [ta, tb], (g) => {
    const tie = ta.eq(tb);
    const half = where(tie, g.div(2), g);
    const aWins = binaryRaw(wins, ta, tb)[0];
    const bWins = binaryRaw(wins, tb, ta)[0];
    return [
      ta.requiresGrad ? sumTo(half.maskedFill(bWins, 0), ta.shape) : null,
      tb.requiresGrad ? sumTo(half.maskedFill(aWins, 0), tb.shape) : null,
    ];
  }, [ta, tb]);
}

export function atan2(a: Operand, b: Operand): Tensor {
  const [out, ta, tb] = binaryRaw('atan2', a, b);
  return attach(out, 'Atan2Backward', [ta, tb], (g) => {
    const r2 = ta.mul(ta).add(tb.mul(tb));
    return [
      ta.requiresGrad ? sumTo(g.mul(tb).div(r2), ta.shape) : null,
      tb.requiresGrad ? sumTo(g.mul(ta).div(r2).neg(), tb.shape) : null,
    ];
  }, [ta, tb]);
}

/** Comparisons and logical ops: bool results, no gradient. */
export function compare(op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'logicalAnd' | 'logicalOr', a: Operand, b: Operand): Tensor {
  return binaryRaw(op, a, b)[0];
}

// ---------------------------------------------------------------------------------------------
// Unary maps

const FLOAT_ONLY = new Set<UnaryOp>(['exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'gelu', 'geluTanh', 'sin', 'cos', 'erf', 'reciprocal']);

function unaryRaw(op: UnaryOp, x: Tensor): Tensor {
  const dtype = FLOAT_ONLY.has(op) && !isFloating(x.dtype) ? 'float32' : x.dtype;
  const out = Tensor.uninitialized(x.shape, dtype);
  backend().unary(op, x.view_(), out.view_());
  return out;
}

/** Fused derivative product `g·f'(·)` from the backend (see BINARY_OPS in backend.ts). */
function derivative(op: BinaryOp, at: Tensor, g: Tensor): Tensor {
  const out = Tensor.uninitialized(g.shape, g.dtype);
  backend().binary(op, broadcastView(at, g.shape), g.view_(), out.view_());
  return out;
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * Gradient rules of the unary maps, given input x, output y and upstream g, and which of x and y
 * each rule reads (only those are saved, so modifying the other in place stays legal).
 */
type UnaryRule = { reads: 'x' | 'y' | 'none'; rule: (x: Tensor, y: Tensor, g: Tensor) => Tensor };
const UNARY_GRAD: Partial<Record<UnaryOp, UnaryRule>> = {
  neg: { reads: 'none', rule: (_x, _y, g) => g.neg() },
  abs: { reads: 'x', rule: (x, _y, g) => g.mul(x.sign()) },
  square: { reads: 'x', rule: (x, _y, g) => g.mul(x).mul(2) },
  reciprocal: { reads: 'y', rule: (_x, y, g) => g.mul(y).mul(y).neg() },
  exp: { reads: 'y', rule: (_x, y, g) => g.mul(y) },
  log: { reads: 'x', rule: (x, _y, g) => g.div(x) },
  sqrt: { reads: 'y', rule: (_x, y, g) => g.div(y.mul(2)) },
  rsqrt: { reads: 'y', rule: (_x, y, g) => g.mul(y.mul(y).mul(y)).mul(-0.5) },
  tanh: { reads: 'y', rule: (_x, y, g) => derivative('tanhBackward', y, g) },
  sigmoid: { reads: 'y', rule: (_x, y, g) => derivative('sigmoidBackward', y, g) },
  relu: { reads: 'y', rule: (_x, y, g) => derivative('reluBackward', y, g) },
  gelu: { reads: 'x', rule: (x, _y, g) => derivative('geluBackward', x, g) },
  geluTanh: { reads: 'x', rule: (x, _y, g) => derivative('geluTanhBackward', x, g) },
  sin: { reads: 'x', rule: (x, _y, g) => g.mul(x.cos()) },
  cos: { reads: 'x', rule: (x, _y, g) => g.mul(x.sin()).neg() },
  erf: { reads: 'x', rule: (x, _y, g) => g.mul(x.mul(x).neg().exp()).mul(TWO_OVER_SQRT_PI) },
};
// sign, floor, ceil, round have zero gradient almost everywhere.

export function unary(op: UnaryOp, x: Tensor): Tensor {
  const out = unaryRaw(op, x);
  if (!needsGrad(x)) return out;
  const r = UNARY_GRAD[op];
  const name = `${op[0].toUpperCase()}${op.slice(1)}Backward`;
  const saved = r?.reads === 'x' ? [x] : r?.reads === 'y' ? [out] : [];
  return attach(out, name, [x], (g) => [r ? r.rule(x, out, g) : Tensor.zeros(x.shape, g.dtype)], saved);
}

// ---------------------------------------------------------------------------------------------
// Selection

/** cond ? a : b with broadcasting over all three; cond must be bool. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (cond.dtype !== 'bool') throw new DTypeError(`where: condition must be a bool tensor, got ${cond.dtype}`);
  const dtype = resultType(a, b);
  const ta = asTensor(a, dtype), tb = asTensor(b, dtype);
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, 'where'), tb.shape, 'where');
  const out = Tensor.uninitialized(shape, dtype);
  backend().where(broadcastView(cond, shape), broadcastView(ta, shape), broadcastView(tb, shape), out.view_());
  return attach(out, 'WhereBackward', [ta, tb], (g) => [
    ta.requiresGrad ? sumTo(where(cond, g, 0), ta.shape) : null,
    tb.requiresGrad ? sumTo(where(cond, 0, g), tb.shape) : null,
  ]);
}

/** x with `value` where mask is true; mask is bool and broadcasts to x's shape. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  if (mask.dtype !== 'bool') throw new DTypeError(`maskedFill: mask must be a bool tensor, got ${mask.dtype}`);
  const shape = broadcastShapes(x.shape, mask.shape, 'maskedFill');
  if (shape.join() !== x.shape.join()) {
    throw new ShapeError(`maskedFill: mask of shape ${fmtShape(mask.shape)} does not broadcast to the input's shape ${fmtShape(x.shape)}`);
  }
  return where(mask, Tensor.scalar(value, x.dtype), x);
}

/** Limits x to [min, max]; the gradient passes where min ≤ x ≤ max (PyTorch's rule). */
export function clamp(x: Tensor, lo?: number | null, hi?: number | null): Tensor {
  if (lo == null && hi == null) throw new ArgumentError('clamp: at least one of min or max must be given');
  let out = x;
  if (lo != null) out = binaryRaw('maximum', out, lo)[0];
  if (hi != null) out = binaryRaw('minimum', out, hi)[0];
  return attach(out, 'ClampBackward', [x], (g) => {
    let pass = Tensor.ones(x.shape, 'bool');
    if (lo != null) pass = pass.logicalAnd(x.ge(lo));
    if (hi != null) pass = pass.logicalAnd(x.le(hi));
    return [where(pass, g, 0)];
  }, [x]);
}

// ---------------------------------------------------------------------------------------------
// In-place forms: allowed on tensors that are not part of a graph (parameters inside noGrad,
// buffers, gradients). Each bumps the storage version so autograd can catch stale saved tensors.

export function checkInPlace(self: Tensor, op: string): void {
  if (isGradEnabled() && self.requiresGrad) {
    throw new AutogradError(
      self.isLeaf
        ? `${op}: a leaf tensor that requires grad (shape ${fmtShape(self.shape)}) is used in an in-place operation; do it inside noGrad(() => …)`
        : `${op}: in-place operations on a tensor that is part of a graph (shape ${fmtShape(self.shape)}, from ${self.gradFn?.name}) are not supported; use the out-of-place form`,
    );
  }
}

/** self = op(self, other) in place; other broadcasts to self's shape; self's dtype is kept. */
export function binaryInPlace(op: BinaryOp, self: Tensor, other: Operand): Tensor {
  const name = `${op}_`;
  checkInPlace(self, name);
  const promoted = resultType(self, other);
  const effective = op === 'div' && !isFloating(promoted) ? 'float32' : promoted;
  if (isFloating(effective) && !isFloating(self.dtype) || isIntegral(effective) && self.dtype === 'bool') {
    throw new DTypeError(`${name}: result type ${effective} can't be cast to the output dtype ${self.dtype}`);
  }
  checkInternalOverlap(self, name);
  const t = readableWhileWriting(asTensor(other, self.dtype), self);
  const shape = broadcastShapes(self.shape, t.shape, name);
  if (shape.join() !== self.shape.join()) {
    throw new ShapeError(`${name}: other of shape ${fmtShape(t.shape)} does not broadcast to self's shape ${fmtShape(self.shape)}`);
  }
  backend().binary(op, self.view_(), broadcastView(t, shape), self.view_());
  self.storage.version++;
  return self;
}

/** self = f(self) in place, keeping dtype. */
export function unaryInPlace(op: UnaryOp, self: Tensor): Tensor {
  checkInPlace(self, `${op}_`);
  if (FLOAT_ONLY.has(op) && !isFloating(self.dtype)) {
    throw new DTypeError(`${op}_: result type float32 can't be cast to the output dtype ${self.dtype}`);
  }
  checkInternalOverlap(self, `${op}_`);
  backend().unary(op, self.view_(), self.view_());
  self.storage.version++;
  return self;
}

/**
 * Copies `src` (broadcast to self's shape, any dtype) into self; a number fills (fill_, allowed
 * on an expanded destination, as in PyTorch).
 */
export function copyInto(self: Tensor, src: Operand): Tensor {
  checkInPlace(self, 'copy_');
  if (src instanceof Tensor) checkInternalOverlap(self, 'copy_');
  const t = src instanceof Tensor ? readableWhileWriting(src, self) : asTensor(src, self.dtype);
  const shape = broadcastShapes(self.shape, t.shape, 'copy_');
  if (shape.join() !== self.shape.join()) {
    throw new ShapeError(`copy_: source of shape ${fmtShape(t.shape)} does not broadcast to the destination's shape ${fmtShape(self.shape)}`);
  }
  backend().copy(broadcastView(t, shape), self.view_());
  self.storage.version++;
  return self;
}

export function maskedFillInPlace(self: Tensor, mask: Tensor, value: number): Tensor {
  checkInPlace(self, 'maskedFill_');
  checkInternalOverlap(self, 'maskedFill_');
  mask = readableWhileWriting(mask, self);
  if (mask.dtype !== 'bool') throw new DTypeError(`maskedFill_: mask must be a bool tensor, got ${mask.dtype}`);
  const shape = broadcastShapes(self.shape, mask.shape, 'maskedFill_');
  if (shape.join() !== self.shape.join()) {
    throw new ShapeError(`maskedFill_: mask of shape ${fmtShape(mask.shape)} does not broadcast to self's shape ${fmtShape(self.shape)}`);
  }
  const v = Tensor.scalar(value, self.dtype);
  backend().where(broadcastView(mask, shape), broadcastView(v, shape), self.view_(), self.view_());
  self.storage.version++;
  return self;
}

/** A copy converted to `dtype`; float → float keeps the graph (the gradient is cast back). */
export function cast(x: Tensor, dtype: DType): Tensor {
  const out = Tensor.uninitialized(x.shape, dtype);
  backend().copy(x.view_(), out.view_());
  if (!isFloating(dtype)) return out;
  return attach(out, 'ToCopyBackward', [x], (g) => [g.to(x.dtype)]);
}
