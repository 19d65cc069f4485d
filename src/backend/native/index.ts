/**
 * The native backend: the C++ addon built from native/ by `npm install` (node-gyp), behind the
 * same Backend interface as the TypeScript reference.
 *
 * Kernels run on the tensors' own Float32Array storage (no copies). Shapes, strides, offsets
 * and scalars of a call are written into one shared Float64Array (`META`) that the addon reads;
 * the typed arrays themselves are the arguments. Anything the addon does not cover — float64
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

/** The functions the addon exports (native/addon.cc). */
export interface NativeAddon {
  init(meta: Float64Array): void;
  unary(op: number, x: TypedArray, out: TypedArray): void;
  binary(op: number, a: TypedArray, b: TypedArray, out: TypedArray): void;
  where(cond: TypedArray, a: TypedArray, b: TypedArray, out: TypedArray): void;
  copy(src: TypedArray, dst: TypedArray): void;
  reduce(op: number, x: TypedArray, out: TypedArray): void;
  matmul(a: TypedArray, b: TypedArray, out: TypedArray, bias: TypedArray | null): void;
  indexSelect(table: TypedArray, index: TypedArray, out: TypedArray): void;
  indexAdd(dst: TypedArray, index: TypedArray, src: TypedArray): void;
  softmax(x: TypedArray, out: TypedArray, log: number): void;
  softmaxBackward(y: TypedArray, gy: TypedArray, gx: TypedArray, log: number): void;
  layerNorm(x: TypedArray, w: TypedArray | null, b: TypedArray | null, out: TypedArray, mean: TypedArray, rstd: TypedArray, eps: number): void;
  layerNormBackward(
    gy: TypedArray, x: TypedArray, w: TypedArray | null, mean: TypedArray, rstd: TypedArray,
    gx: TypedArray, gw: TypedArray | null, gb: TypedArray | null,
  ): void;
  crossEntropy(x: TypedArray, t: TypedArray, loss: TypedArray, lse: TypedArray, ignoreIndex: number, smoothing: number): number;
  crossEntropyBackward(x: TypedArray, t: TypedArray, lse: TypedArray, gl: TypedArray, gx: TypedArray, ignoreIndex: number, smoothing: number): void;
  adamStep(p: TypedArray, g: TypedArray, m: TypedArray, v: TypedArray, vmax: TypedArray | null): void;
  attention(q: TypedArray, k: TypedArray, v: TypedArray, mask: TypedArray | null, out: TypedArray, lse: TypedArray): void;
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
}

/** Where `npm install` puts the addon (build/Release under the package root). */
export const ADDON_PATH = fileURLToPath(new URL('../../../build/Release/qkv_native.node', import.meta.url));

export interface NativeLoadResult {
  addon: NativeAddon | null;
  error: string | null;
}

/** Loads the addon and checks it speaks the same op codes as this build of the TypeScript side. */
export function loadNativeAddon(path = ADDON_PATH): NativeLoadResult {
  if (!existsSync(path)) {
    return { addon: null, error: `the addon is not built (${path} is missing; run \`npm rebuild qkv\` or \`npm install\` with a C++ compiler)` };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (addon.unaryOps.join() !== UNARY_OPS.join() || addon.binaryOps.join() !== BINARY_OPS.join()) {
      return { addon: null, error: `the addon at ${path} is from another version of qkv (its op tables differ); rebuild it with \`npm rebuild qkv\`` };
    }
    return { addon, error: null };
  } catch (err) {
    return { addon: null, error: `the addon at ${path} failed to load: ${(err as Error).message}` };
  }
}

const MAX_DIMS = 16;
const META = new Float64Array(4096);
let mi = 0;

function f32(v: View): boolean {
  return v.dtype === 'float32';
}

function shape(s: readonly number[]): void {
  META[mi++] = s.length;
  for (let i = 0; i < s.length; i++) META[mi++] = s[i];
}

function strided(v: View): void {
  META[mi++] = v.offset;
  const st = v.strides;
  for (let i = 0; i < st.length; i++) META[mi++] = st[i];
}

function numel(s: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < s.length; i++) n *= s[i];
  return n;
}

function isIndex(v: View): boolean {
  return v.dtype === 'int64' || v.dtype === 'int32';
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
      if (!f32(x) || !f32(out) || x.shape.length > MAX_DIMS) return ts.unary(op, x, out);
      mi = 0;
      shape(out.shape);
      strided(x);
      strided(out);
      N.unary(UNARY_CODE.get(op)!, x.data, out.data);
    },

    binary(op, a, b, out) {
      const outOk = COMPARISON.has(op) ? out.dtype === 'bool' : f32(out);
      if (!f32(a) || !f32(b) || !outOk || out.shape.length > MAX_DIMS) return ts.binary(op, a, b, out);
      mi = 0;
      shape(out.shape);
      strided(a);
      strided(b);
      strided(out);
      N.binary(BINARY_CODE.get(op)!, a.data, b.data, out.data);
    },

    where(cond, a, b, out) {
      if (cond.dtype !== 'bool' || !f32(a) || !f32(b) || !f32(out) || out.shape.length > MAX_DIMS) return ts.where(cond, a, b, out);
      mi = 0;
      shape(out.shape);
      strided(cond);
      strided(a);
      strided(b);
      strided(out);
      N.where(cond.data, a.data, b.data, out.data);
    },

    copy(src, dst) {
      if (!f32(src) || !f32(dst) || dst.shape.length > MAX_DIMS) return ts.copy(src, dst);
      mi = 0;
      shape(dst.shape);
      strided(src);
      strided(dst);
      N.copy(src.data, dst.data);
    },

    reduce(op, x, axes, out) {
      const code = REDUCE_CODE[op];
      if (code === undefined || !f32(x) || !f32(out) || x.shape.length > MAX_DIMS) return ts.reduce(op, x, axes, out);
      mi = 0;
      shape(x.shape);
      strided(x);
      for (let d = 0; d < x.shape.length; d++) META[mi++] = axes.includes(d) ? 1 : 0;
      META[mi++] = out.offset;
      N.reduce(code, x.data, out.data);
    },

    matmul(a, b, out, bias = null) {
      const r = out.shape.length;
      if (!f32(a) || !f32(b) || !f32(out) || (bias && !f32(bias)) || r > MAX_DIMS) return ts.matmul(a, b, out, bias);
      mi = 0;
      META[mi++] = r - 2;
      for (let d = 0; d < r - 2; d++) META[mi++] = out.shape[d];
      META[mi++] = out.shape[r - 2];
      META[mi++] = out.shape[r - 1];
      META[mi++] = a.shape[r - 1];
      strided(a);
      strided(b);
      META[mi++] = out.offset;
      META[mi++] = bias ? bias.offset : 0;
      N.matmul(a.data, b.data, out.data, bias?.data ?? null);
    },

    indexSelect(table, index, out) {
      if (!f32(table) || !f32(out) || !isIndex(index)) return ts.indexSelect(table, index, out);
      mi = 0;
      META[mi++] = table.shape[0];
      META[mi++] = table.shape[1];
      META[mi++] = numel(index.shape);
      META[mi++] = table.offset;
      META[mi++] = index.offset;
      META[mi++] = out.offset;
      N.indexSelect(table.data, index.data, out.data);
    },

    // No native kernels yet: the reference implementations (they are not on a hot path).
    gather: ts.gather,
    scatter: ts.scatter,
    sort: ts.sort,
    cumulative: ts.cumulative,

    indexAdd(dst, index, src) {
      if (!f32(dst) || !f32(src) || !isIndex(index)) return ts.indexAdd(dst, index, src);
      mi = 0;
      META[mi++] = dst.shape[0];
      META[mi++] = dst.shape[1];
      META[mi++] = numel(index.shape);
      META[mi++] = dst.offset;
      META[mi++] = index.offset;
      META[mi++] = src.offset;
      N.indexAdd(dst.data, index.data, src.data);
    },

    softmax(x, dim, log, out) {
      if (!f32(x) || !f32(out)) return ts.softmax(x, dim, log, out);
      mi = 0;
      META[mi++] = numel(x.shape.slice(0, dim));
      META[mi++] = x.shape[dim];
      META[mi++] = numel(x.shape.slice(dim + 1));
      META[mi++] = x.offset;
      META[mi++] = out.offset;
      N.softmax(x.data, out.data, log ? 1 : 0);
    },

    softmaxBackward(y, gy, dim, log, gx) {
      if (!f32(y) || !f32(gy) || !f32(gx)) return ts.softmaxBackward(y, gy, dim, log, gx);
      mi = 0;
      META[mi++] = numel(y.shape.slice(0, dim));
      META[mi++] = y.shape[dim];
      META[mi++] = numel(y.shape.slice(dim + 1));
      META[mi++] = y.offset;
      META[mi++] = gy.offset;
      META[mi++] = gx.offset;
      N.softmaxBackward(y.data, gy.data, gx.data, log ? 1 : 0);
    },

    layerNorm(x, weight, bias, eps, out, mean, rstd) {
      if (!f32(x) || !f32(out) || !f32(mean) || !f32(rstd) || (weight && !f32(weight)) || (bias && !f32(bias))) {
        return ts.layerNorm(x, weight, bias, eps, out, mean, rstd);
      }
      const D = x.shape[x.shape.length - 1];
      mi = 0;
      META[mi++] = numel(mean.shape);
      META[mi++] = D;
      META[mi++] = x.offset;
      META[mi++] = weight ? weight.offset : 0;
      META[mi++] = bias ? bias.offset : 0;
      META[mi++] = out.offset;
      META[mi++] = mean.offset;
      META[mi++] = rstd.offset;
      N.layerNorm(x.data, weight?.data ?? null, bias?.data ?? null, out.data, mean.data, rstd.data, eps);
    },

    layerNormBackward(gy, x, weight, mean, rstd, gx, gWeight, gBias) {
      const views = [gy, x, mean, rstd, gx, weight, gWeight, gBias];
      if (!views.every((v) => v === null || f32(v))) return ts.layerNormBackward(gy, x, weight, mean, rstd, gx, gWeight, gBias);
      const D = x.shape[x.shape.length - 1];
      mi = 0;
      META[mi++] = numel(mean.shape);
      META[mi++] = D;
      META[mi++] = gy.offset;
      META[mi++] = x.offset;
      META[mi++] = weight ? weight.offset : 0;
      META[mi++] = mean.offset;
      META[mi++] = rstd.offset;
      META[mi++] = gx.offset;
      META[mi++] = gWeight ? gWeight.offset : 0;
      META[mi++] = gBias ? gBias.offset : 0;
      N.layerNormBackward(gy.data, x.data, weight?.data ?? null, mean.data, rstd.data, gx.data, gWeight?.data ?? null, gBias?.data ?? null);
    },

    crossEntropy(logits, target, ignoreIndex, labelSmoothing, loss, lse) {
      if (!f32(logits) || !f32(loss) || !f32(lse) || !isIndex(target)) {
        return ts.crossEntropy(logits, target, ignoreIndex, labelSmoothing, loss, lse);
      }
      mi = 0;
      META[mi++] = logits.shape[0];
      META[mi++] = logits.shape[1];
      META[mi++] = logits.offset;
      META[mi++] = target.offset;
      META[mi++] = loss.offset;
      META[mi++] = lse.offset;
      return N.crossEntropy(logits.data, target.data, loss.data, lse.data, ignoreIndex, labelSmoothing);
    },

    crossEntropyBackward(logits, target, lse, gLoss, ignoreIndex, labelSmoothing, gx) {
      if (!f32(logits) || !f32(lse) || !f32(gLoss) || !f32(gx) || !isIndex(target)) {
        return ts.crossEntropyBackward(logits, target, lse, gLoss, ignoreIndex, labelSmoothing, gx);
      }
      mi = 0;
      META[mi++] = logits.shape[0];
      META[mi++] = logits.shape[1];
      META[mi++] = logits.offset;
      META[mi++] = target.offset;
      META[mi++] = lse.offset;
      META[mi++] = gLoss.offset;
      META[mi++] = gx.offset;
      N.crossEntropyBackward(logits.data, target.data, lse.data, gLoss.data, gx.data, ignoreIndex, labelSmoothing);
    },

    adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq, hp: AdamHyper) {
      if (![param, grad, expAvg, expAvgSq, maxExpAvgSq].every((v) => v === null || f32(v))) {
        return ts.adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq, hp);
      }
      mi = 0;
      META[mi++] = numel(param.shape);
      META[mi++] = param.offset;
      META[mi++] = grad.offset;
      META[mi++] = expAvg.offset;
      META[mi++] = expAvgSq.offset;
      META[mi++] = maxExpAvgSq ? maxExpAvgSq.offset : 0;
      META[mi++] = hp.lr;
      META[mi++] = hp.beta1;
      META[mi++] = hp.beta2;
      META[mi++] = hp.eps;
      META[mi++] = hp.weightDecay;
      META[mi++] = hp.step;
      META[mi++] = hp.decoupled ? 1 : 0;
      META[mi++] = hp.maximize ? 1 : 0;
      N.adamStep(param.data, grad.data, expAvg.data, expAvgSq.data, maxExpAvgSq?.data ?? null);
    },

    attention(q, k, v, mask, causal, scale, out, lse) {
      if (![q, k, v, mask, out, lse].every((x) => x === null || f32(x)) || q.shape.length > MAX_DIMS) {
        return ts.attention(q, k, v, mask, causal, scale, out, lse);
      }
      attentionMeta(q, k, v, mask, causal, scale, out, lse);
      N.attention(q.data, k.data, v.data, mask?.data ?? null, out.data, lse.data);
    },

    attentionBackward(q, k, v, mask, causal, scale, out, lse, gOut, gq, gk, gv) {
      if (![q, k, v, mask, out, lse, gOut, gq, gk, gv].every((x) => x === null || f32(x)) || q.shape.length > MAX_DIMS) {
        return ts.attentionBackward(q, k, v, mask, causal, scale, out, lse, gOut, gq, gk, gv);
      }
      attentionMeta(q, k, v, mask, causal, scale, out, lse);
      strided(gOut);
      strided(gq);
      strided(gk);
      strided(gv);
      N.attentionBackward(q.data, k.data, v.data, mask?.data ?? null, out.data, lse.data, gOut.data, gq.data, gk.data, gv.data);
    },
  };
}

function attentionMeta(q: View, k: View, v: View, mask: View | null, causal: boolean, scale: number, out: View, lse: View): void {
  const r = q.shape.length;
  mi = 0;
  META[mi++] = r - 2;
  for (let d = 0; d < r - 2; d++) META[mi++] = q.shape[d];
  META[mi++] = q.shape[r - 2];
  META[mi++] = k.shape[r - 2];
  META[mi++] = q.shape[r - 1];
  META[mi++] = v.shape[r - 1];
  META[mi++] = causal ? 1 : 0;
  META[mi++] = scale;
  strided(q);
  strided(k);
  strided(v);
  if (mask) strided(mask);
  META[mi++] = out.offset;
  META[mi++] = lse.offset;
}
