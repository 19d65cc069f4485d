/**
 * The native backend: the C++ addon built from native/ by `npm install` (node-gyp), behind the
 * same Backend interface as the TypeScript reference.
 *
 * Kernels run on the tensors' own Float32Array storage (no copies). The typed arrays are the
 * arguments of a call; their layouts (one view record each: ndim, offset, shape, strides) and
 * the call's scalars are written into one shared Float64Array, META, laid out as the call
 * descriptor of ./abi.ts and native/abi.h says. Anything the addon does not cover — float64
 * (gradient checks), integer and bool tensors, argmax/argmin, more than 16 dims — goes to the
 * TypeScript kernels, so the native backend is complete for every dtype.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AdamHyper, Backend, BinaryOp, ReduceOp, UnaryOp, View } from '../backend.js';
import { BINARY_OPS, UNARY_OPS } from '../backend.js';
import { tsBackend } from '../ts/index.js';
import type { TypedArray } from '../../dtype.js';
import { ABI, abiMismatch, type AbiLayout } from './abi.js';

/**
 * The functions the addon exports (native/addon.cc). Every kernel entry takes its operands'
 * typed arrays; their layouts (view record i for argument i) and the call's scalars travel in
 * the call descriptor META (see ./abi.ts and native/abi.h), written just before the call.
 */
export interface NativeAddon {
  init(meta: Float64Array): void;
  /** META: argOp. */
  unary(x: TypedArray, out: TypedArray): void;
  /** META: argOp. */
  binary(a: TypedArray, b: TypedArray, out: TypedArray): void;
  where(cond: TypedArray, a: TypedArray, b: TypedArray, out: TypedArray): void;
  copy(src: TypedArray, dst: TypedArray): void;
  /** META: argOp, argReduced. */
  reduce(x: TypedArray, out: TypedArray): void;
  matmul(a: TypedArray, b: TypedArray, out: TypedArray, bias: TypedArray | null): void;
  indexSelect(table: TypedArray, index: TypedArray, out: TypedArray): void;
  indexAdd(dst: TypedArray, index: TypedArray, src: TypedArray): void;
  /** META: argDim, argLog. */
  softmax(x: TypedArray, out: TypedArray): void;
  /** META: argDim, argLog. */
  softmaxBackward(y: TypedArray, gy: TypedArray, gx: TypedArray): void;
  /** META: argEps. */
  layerNorm(x: TypedArray, w: TypedArray | null, b: TypedArray | null, out: TypedArray, mean: TypedArray, rstd: TypedArray): void;
  layerNormBackward(
    gy: TypedArray, x: TypedArray, w: TypedArray | null, mean: TypedArray, rstd: TypedArray,
    gx: TypedArray, gw: TypedArray | null, gb: TypedArray | null,
  ): void;
  /** META: argIgnoreIndex, argSmoothing. Returns the first row with a bad target, or −1. */
  crossEntropy(x: TypedArray, t: TypedArray, loss: TypedArray, lse: TypedArray): number;
  /** META: argIgnoreIndex, argSmoothing. */
  crossEntropyBackward(x: TypedArray, t: TypedArray, lse: TypedArray, gl: TypedArray, gx: TypedArray): void;
  /** META: adamLr … adamMaximize. */
  adamStep(p: TypedArray, g: TypedArray, m: TypedArray, v: TypedArray, vmax: TypedArray | null): void;
  /** META: argCausal, argScale. */
  attention(q: TypedArray, k: TypedArray, v: TypedArray, mask: TypedArray | null, out: TypedArray, lse: TypedArray): void;
  /** META: argCausal, argScale. */
  attentionBackward(
    q: TypedArray, k: TypedArray, v: TypedArray, mask: TypedArray | null, out: TypedArray, lse: TypedArray,
    gOut: TypedArray, gq: TypedArray, gk: TypedArray, gv: TypedArray,
  ): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  isa(): string;
  setIsa(isa: 'avx2' | 'scalar'): void;
  cpuFeatures(): Record<string, boolean>;
  /** Runs `jobs` small thread-pool jobs; returns how many tasks ran other than once for their own job. */
  poolSelfTest(jobs: number): number;
  unaryOps: string[];
  binaryOps: string[];
  /** The layout of the call descriptor the addon was built with (native/abi.h). */
  abi: AbiLayout;
}

/** Where `npm install` puts the addon (build/Release under the package root). */
export const ADDON_PATH = fileURLToPath(new URL('../../../build/Release/qkv_native.node', import.meta.url));

export interface NativeLoadResult {
  addon: NativeAddon | null;
  error: string | null;
}

/**
 * Loads the addon and checks it speaks the same op codes and call-descriptor layout as this
 * build of the TypeScript side.
 */
export function loadNativeAddon(path = ADDON_PATH): NativeLoadResult {
  if (!existsSync(path)) {
    return { addon: null, error: `the addon is not built (${path} is missing; run \`npm rebuild qkv\` or \`npm install\` with a C++ compiler)` };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (addon.unaryOps.join() !== UNARY_OPS.join() || addon.binaryOps.join() !== BINARY_OPS.join()) {
      return { addon: null, error: `the addon at ${path} is from another version of qkv (its op tables differ); rebuild it with \`npm rebuild qkv\`` };
    }
    const abi = abiMismatch(addon.abi);
    if (abi) {
      return { addon: null, error: `the addon at ${path} is from another version of qkv (its call-descriptor layout differs: ${abi}); rebuild it with \`npm rebuild qkv\`` };
    }
    return { addon, error: null };
  } catch (err) {
    return { addon: null, error: `the addon at ${path} failed to load: ${(err as Error).message}` };
  }
}

const META = new Float64Array(ABI.metaLen);
const MAX_DIMS = ABI.maxDims;
const VIEW_BASE = ABI.viewBase, VIEW_SIZE = ABI.viewSize;
const VIEW_NDIM = ABI.viewNdim, VIEW_OFFSET = ABI.viewOffset, VIEW_SHAPE = ABI.viewShape, VIEW_STRIDES = ABI.viewStrides;
const ARG_OP = ABI.argOp, ARG_REDUCED = ABI.argReduced, ARG_DIM = ABI.argDim, ARG_LOG = ABI.argLog, ARG_EPS = ABI.argEps;
const ARG_IGNORE_INDEX = ABI.argIgnoreIndex, ARG_SMOOTHING = ABI.argSmoothing, ARG_CAUSAL = ABI.argCausal, ARG_SCALE = ABI.argScale;

/** Writes the view record of typed-array argument i: ndim, offset, shape, strides. */
function view(i: number, v: View): void {
  const r = VIEW_BASE + i * VIEW_SIZE;
  const shape = v.shape, strides = v.strides, nd = shape.length;
  META[r + VIEW_NDIM] = nd;
  META[r + VIEW_OFFSET] = v.offset;
  for (let d = 0; d < nd; d++) {
    META[r + VIEW_SHAPE + d] = shape[d];
    META[r + VIEW_STRIDES + d] = strides[d];
  }
}

/** A float32 view the addon takes (at most MAX_DIMS dims, the size of a view record). */
function f32(v: View): boolean {
  return v.dtype === 'float32' && v.shape.length <= MAX_DIMS;
}

function isIndex(v: View): boolean {
  return (v.dtype === 'int64' || v.dtype === 'int32') && v.shape.length <= MAX_DIMS;
}

const UNARY_CODE = new Map<UnaryOp, number>(UNARY_OPS.map((op, i) => [op, i]));
const BINARY_CODE = new Map<BinaryOp, number>(BINARY_OPS.map((op, i) => [op, i]));
const COMPARISON = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr']);
const REDUCE_CODE: Partial<Record<ReduceOp, number>> = { sum: 0, max: 1, min: 2 };

/** The Backend over a loaded addon; `name` is 'native'. */
export function createNativeBackend(N: NativeAddon): Backend {
  N.init(META);
  const ts = tsBackend;
  return {
    name: 'native',

    unary(op, x, out) {
      if (!f32(x) || !f32(out)) return ts.unary(op, x, out);
      META[ARG_OP] = UNARY_CODE.get(op)!;
      view(0, x);
      view(1, out);
      N.unary(x.data, out.data);
    },

    binary(op, a, b, out) {
      const outOk = COMPARISON.has(op) ? out.dtype === 'bool' && out.shape.length <= MAX_DIMS : f32(out);
      if (!f32(a) || !f32(b) || !outOk) return ts.binary(op, a, b, out);
      META[ARG_OP] = BINARY_CODE.get(op)!;
      view(0, a);
      view(1, b);
      view(2, out);
      N.binary(a.data, b.data, out.data);
    },

    where(cond, a, b, out) {
      if (cond.dtype !== 'bool' || cond.shape.length > MAX_DIMS || !f32(a) || !f32(b) || !f32(out)) return ts.where(cond, a, b, out);
      view(0, cond);
      view(1, a);
      view(2, b);
      view(3, out);
      N.where(cond.data, a.data, b.data, out.data);
    },

    copy(src, dst) {
      if (!f32(src) || !f32(dst)) return ts.copy(src, dst);
      view(0, src);
      view(1, dst);
      N.copy(src.data, dst.data);
    },

    reduce(op, x, axes, out) {
      const code = REDUCE_CODE[op];
      if (code === undefined || !f32(x) || !f32(out)) return ts.reduce(op, x, axes, out);
      let reduced = 0;
      for (let i = 0; i < axes.length; i++) reduced |= 1 << axes[i];
      META[ARG_OP] = code;
      META[ARG_REDUCED] = reduced;
      view(0, x);
      view(1, out);
      N.reduce(x.data, out.data);
    },

    matmul(a, b, out, bias = null) {
      if (!f32(a) || !f32(b) || !f32(out) || (bias && !f32(bias))) return ts.matmul(a, b, out, bias);
      view(0, a);
      view(1, b);
      view(2, out);
      if (bias) view(3, bias);
      N.matmul(a.data, b.data, out.data, bias?.data ?? null);
    },

    indexSelect(table, index, out) {
      if (!f32(table) || !f32(out) || !isIndex(index)) return ts.indexSelect(table, index, out);
      view(0, table);
      view(1, index);
      view(2, out);
      N.indexSelect(table.data, index.data, out.data);
    },

    // No native kernels yet: the reference implementations (they are not on a hot path).
    gather: ts.gather,
    scatter: ts.scatter,
    sort: ts.sort,
    cumulative: ts.cumulative,

    indexAdd(dst, index, src) {
      if (!f32(dst) || !f32(src) || !isIndex(index)) return ts.indexAdd(dst, index, src);
      view(0, dst);
      view(1, index);
      view(2, src);
      N.indexAdd(dst.data, index.data, src.data);
    },

    softmax(x, dim, log, out) {
      if (!f32(x) || !f32(out)) return ts.softmax(x, dim, log, out);
      META[ARG_DIM] = dim;
      META[ARG_LOG] = log ? 1 : 0;
      view(0, x);
      view(1, out);
      N.softmax(x.data, out.data);
    },

    softmaxBackward(y, gy, dim, log, gx) {
      if (!f32(y) || !f32(gy) || !f32(gx)) return ts.softmaxBackward(y, gy, dim, log, gx);
      META[ARG_DIM] = dim;
      META[ARG_LOG] = log ? 1 : 0;
      view(0, y);
      view(1, gy);
      view(2, gx);
      N.softmaxBackward(y.data, gy.data, gx.data);
    },

    layerNorm(x, weight, bias, eps, out, mean, rstd) {
      if (!f32(x) || !f32(out) || !f32(mean) || !f32(rstd) || (weight && !f32(weight)) || (bias && !f32(bias))) {
        return ts.layerNorm(x, weight, bias, eps, out, mean, rstd);
      }
      META[ARG_EPS] = eps;
      view(0, x);
      if (weight) view(1, weight);
      if (bias) view(2, bias);
      view(3, out);
      view(4, mean);
      view(5, rstd);
      N.layerNorm(x.data, weight?.data ?? null, bias?.data ?? null, out.data, mean.data, rstd.data);
    },

    layerNormBackward(gy, x, weight, mean, rstd, gx, gWeight, gBias) {
      const views = [gy, x, mean, rstd, gx, weight, gWeight, gBias];
      if (!views.every((v) => v === null || f32(v))) return ts.layerNormBackward(gy, x, weight, mean, rstd, gx, gWeight, gBias);
      view(0, gy);
      view(1, x);
      if (weight) view(2, weight);
      view(3, mean);
      view(4, rstd);
      view(5, gx);
      if (gWeight) view(6, gWeight);
      if (gBias) view(7, gBias);
      N.layerNormBackward(gy.data, x.data, weight?.data ?? null, mean.data, rstd.data, gx.data, gWeight?.data ?? null, gBias?.data ?? null);
    },

    crossEntropy(logits, target, ignoreIndex, labelSmoothing, loss, lse) {
      if (!f32(logits) || !f32(loss) || !f32(lse) || !isIndex(target)) {
        return ts.crossEntropy(logits, target, ignoreIndex, labelSmoothing, loss, lse);
      }
      META[ARG_IGNORE_INDEX] = ignoreIndex;
      META[ARG_SMOOTHING] = labelSmoothing;
      view(0, logits);
      view(1, target);
      view(2, loss);
      view(3, lse);
      return N.crossEntropy(logits.data, target.data, loss.data, lse.data);
    },

    crossEntropyBackward(logits, target, lse, gLoss, ignoreIndex, labelSmoothing, gx) {
      if (!f32(logits) || !f32(lse) || !f32(gLoss) || !f32(gx) || !isIndex(target)) {
        return ts.crossEntropyBackward(logits, target, lse, gLoss, ignoreIndex, labelSmoothing, gx);
      }
      META[ARG_IGNORE_INDEX] = ignoreIndex;
      META[ARG_SMOOTHING] = labelSmoothing;
      view(0, logits);
      view(1, target);
      view(2, lse);
      view(3, gLoss);
      view(4, gx);
      N.crossEntropyBackward(logits.data, target.data, lse.data, gLoss.data, gx.data);
    },

    adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq, hp: AdamHyper) {
      if (![param, grad, expAvg, expAvgSq, maxExpAvgSq].every((v) => v === null || f32(v))) {
        return ts.adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq, hp);
      }
      META[ABI.adamLr] = hp.lr;
      META[ABI.adamBeta1] = hp.beta1;
      META[ABI.adamBeta2] = hp.beta2;
      META[ABI.adamEps] = hp.eps;
      META[ABI.adamWeightDecay] = hp.weightDecay;
      META[ABI.adamStep] = hp.step;
      META[ABI.adamDecoupled] = hp.decoupled ? 1 : 0;
      META[ABI.adamMaximize] = hp.maximize ? 1 : 0;
      view(0, param);
      view(1, grad);
      view(2, expAvg);
      view(3, expAvgSq);
      if (maxExpAvgSq) view(4, maxExpAvgSq);
      N.adamStep(param.data, grad.data, expAvg.data, expAvgSq.data, maxExpAvgSq?.data ?? null);
    },

    attention(q, k, v, mask, causal, scale, out, lse) {
      if (![q, k, v, mask, out, lse].every((x) => x === null || f32(x))) {
        return ts.attention(q, k, v, mask, causal, scale, out, lse);
      }
      attentionViews(q, k, v, mask, causal, scale, out, lse);
      N.attention(q.data, k.data, v.data, mask?.data ?? null, out.data, lse.data);
    },

    attentionBackward(q, k, v, mask, causal, scale, out, lse, gOut, gq, gk, gv) {
      if (![q, k, v, mask, out, lse, gOut, gq, gk, gv].every((x) => x === null || f32(x))) {
        return ts.attentionBackward(q, k, v, mask, causal, scale, out, lse, gOut, gq, gk, gv);
      }
      attentionViews(q, k, v, mask, causal, scale, out, lse);
      view(6, gOut);
      view(7, gq);
      view(8, gk);
      view(9, gv);
      N.attentionBackward(q.data, k.data, v.data, mask?.data ?? null, out.data, lse.data, gOut.data, gq.data, gk.data, gv.data);
    },
  };
}

function attentionViews(q: View, k: View, v: View, mask: View | null, causal: boolean, scale: number, out: View, lse: View): void {
  META[ARG_CAUSAL] = causal ? 1 : 0;
  META[ARG_SCALE] = scale;
  view(0, q);
  view(1, k);
  view(2, v);
  if (mask) view(3, mask);
  view(4, out);
  view(5, lse);
}
