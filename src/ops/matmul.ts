/**
 * matmul with PyTorch's rules (1-D operands, batch broadcasting), bmm, and linear.
 * All reach one batched kernel; transposes are strides, never copies.
 */
import { attach } from '../autograd/node.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastShapes } from '../tensor/shape.js';
import { backend } from '../backend/index.js';
import { isFloating } from '../dtype.js';
import { broadcastView } from './elementwise.js';
import { sum, sumTo } from './reduce.js';
import { contiguous, reshape, squeeze, transpose, unsqueeze } from './shape.js';

/** The batched kernel on ≥2-D operands: [...Ba, M, K] @ [...Bb, K, N] → [...broadcast(Ba, Bb), M, N]. */
function mm(a: Tensor, b: Tensor): Tensor {
  const M = a.shape[a.ndim - 2], K = a.shape[a.ndim - 1];
  const K2 = b.shape[b.ndim - 2], N = b.shape[b.ndim - 1];
  if (K !== K2) throw new ShapeError(`matmul: inner dimensions differ: a is ${fmtShape(a.shape)}, b is ${fmtShape(b.shape)}`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul (batch dims)');
  const out = Tensor.uninitialized([...batch, M, N], a.dtype, 'matmul');
  backend().matmul(broadcastView(a, [...batch, M, K]), broadcastView(b, [...batch, K, N]), out.view_());
  return attach(out, 'MmBackward', [a, b], (g) => [
    a.requiresGrad ? sumTo(mm(g, transpose(b, -1, -2)), a.shape) : null,
    b.requiresGrad ? sumTo(mm(transpose(a, -1, -2), g), b.shape) : null,
  ], [a, b]);
}

/**
 * Matrix product with torch.matmul's semantics:
 * 1-D·1-D is a dot product (0-D); a 1-D first operand is a row vector, a 1-D second operand a
 * column vector (the added dim is removed again); otherwise batch dims broadcast.
 *
 * Shape: (…, M, K) @ (…, K, N) → (…, M, N)
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError(`matmul: both arguments need at least 1 dimension, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  if (a.dtype !== b.dtype) throw new DTypeError(`matmul: both operands must have the same dtype, got ${a.dtype} and ${b.dtype}`);
  if (!isFloating(a.dtype)) throw new DTypeError(`matmul: operands must be floating point, got ${a.dtype}`);
  if (a.ndim === 1 && b.ndim === 1 && a.shape[0] !== b.shape[0]) {
    throw new ShapeError(`matmul: inner dimensions differ: a is ${fmtShape(a.shape)}, b is ${fmtShape(b.shape)}`);
  }
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  let out: Tensor;
  if (a2.ndim > 2 && b2.ndim === 2) {
    // Fold the batch into rows: one [B·M, K] @ [K, N] product, and one GEMM for b's gradient.
    const K = a2.shape[a2.ndim - 1];
    if (b2.shape[0] !== K) throw new ShapeError(`matmul: inner dimensions differ: a is ${fmtShape(a.shape)}, b is ${fmtShape(b.shape)}`);
    out = reshape(mm(reshape(a2, [-1, K]), b2), [...a2.shape.slice(0, -1), b2.shape[1]]);
  } else {
    out = mm(a2, b2);
  }
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return out;
}

/** Batched product of two 3-D tensors with equal batch size (no broadcasting, like torch.bmm). */
export function bmm(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 3 || b.ndim !== 3 || a.shape[0] !== b.shape[0]) {
    throw new ShapeError(`bmm: expects 3-D tensors with the same batch size, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  return matmul(a, b);
}

function checkLinear(x: Tensor, weight: Tensor, bias?: Tensor | null): void {
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be 2-D (out, in), got ${fmtShape(weight.shape)}`);
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(`linear: input's last dim must equal weight's in_features: input is ${fmtShape(x.shape)}, weight is ${fmtShape(weight.shape)}`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new ShapeError(`linear: bias must be [${weight.shape[0]}], got ${fmtShape(bias.shape)}`);
  }
}

/**
 * y = x Wᵀ + b (torch.nn.functional.linear).
 *
 * One fused product: the batch dims fold into rows, the bias is added by the GEMM itself, and
 * the gradient rule computes gW = gᵀ·x directly in W's layout (no transposed copy). Mixed
 * dtypes take the composed path (`linearComposed`), which promotes like PyTorch.
 *
 * Shape: x (…, in), weight (out, in), bias (out) → (…, out)
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkLinear(x, weight, bias);
  if (!isFloating(x.dtype) || weight.dtype !== x.dtype || (bias && bias.dtype !== x.dtype) || weight.shape[1] === 0) {
    return linearComposed(x, weight, bias);
  }
  const [outF, inF] = weight.shape;
  const x2 = reshape(x, [-1, inF]); // (N, in): a view when x is contiguous
  const b = bias ? contiguous(bias) : null;
  const out = Tensor.uninitialized([x2.shape[0], outF], x.dtype, 'linear');
  backend().matmul(x2.view_(), transpose(weight, 0, 1).view_(), out.view_(), b?.view_() ?? null);
  attach(out, 'LinearBackward', [x2, weight, b], (g) => [
    x2.requiresGrad ? mm(g, weight) : null, // (N, out)·(out, in)
    weight.requiresGrad ? mm(transpose(g, 0, 1), x2) : null, // (out, N)·(N, in)
    b?.requiresGrad ? sum(g, [0]) : null,
  ], [x2, weight]);
  return reshape(out, [...x.shape.slice(0, -1), outF]);
}

/** The composed twin of `linear`: matmul(x, Wᵀ) + b from primitives; tests check they agree. */
export function linearComposed(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkLinear(x, weight, bias);
  const y = matmul(x, transpose(weight, 0, 1));
  return bias ? y.add(bias) : y;
}
