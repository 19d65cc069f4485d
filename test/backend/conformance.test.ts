/**
 * Conformance of the native backend to the TypeScript reference (the specification), kernel by
 * kernel: odd sizes (1, 7, 17, 63, 65, 127 and sizes past every block edge), non-contiguous,
 * offset and broadcast (stride 0) inputs, strided outputs (writes outside the view must not
 * happen), special values, and every native configuration — the AVX2 and the portable scalar
 * kernels, on 1 and on 2 threads. The reference is computed once per case; float32 kernels are
 * compared with tolerances that reflect float32 arithmetic against the reference's float64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, View, AdamHyper } from '../../src/backend/backend.js';
import { BINARY_OPS, UNARY_OPS, type BinaryOp, type UnaryOp } from '../../src/backend/backend.js';
import { nativeAddon, nativeStatus } from '../../src/backend/index.js';
import {
  ODD_SIZES, Values, assertViewsClose, broadcast, cloneView, makeView, nativeConfigs, numel, outView,
  tsBackend, withNative, type Layout, type Tol,
} from './util.js';

const configs = nativeConfigs();
const skip = configs.length === 0 ? `native addon not loaded (${nativeStatus().error})` : false;

/** One case: run(backend, outputs) fills the outputs; compare checks native against reference. */
interface Case {
  label: string;
  /** Fresh output views (called once per backend run). */
  outputs(): View[];
  run(b: Backend, outs: View[]): unknown;
  tol: Tol | ((i: number) => Tol);
}

function runCases(name: string, cases: Case[]): void {
  test(`native ≡ reference: ${name} (${cases.length} cases × ${configs.length} configurations)`, { skip }, () => {
    const refs = cases.map((c) => {
      const outs = c.outputs();
      const ret = c.run(tsBackend, outs);
      return { outs, ret };
    });
    for (const cfg of configs) {
      withNative(cfg, (native) => {
        cases.forEach((c, k) => {
          const outs = c.outputs();
          const ret = c.run(native, outs);
          assert.deepEqual(ret, refs[k].ret, `${name} ${c.label} [${cfg.label}]: return value`);
          outs.forEach((o, i) => {
            const tol = typeof c.tol === 'function' ? c.tol(i) : c.tol;
            assertViewsClose(o, refs[k].outs[i], tol, `${name} ${c.label} [${cfg.label}] output ${i}`);
          });
        });
      });
    }
  });
}

const SPECIAL = [0, -0, NaN, Infinity, -Infinity, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 2.5, -2.5, 40, -40, 88, -88, 100, -100];
const LAYOUTS: Layout[] = ['contiguous', 'transposed', 'strided', 'offset'];

// ---------------------------------------------------------------------------------------------
// Elementwise

function unaryDomain(op: UnaryOp, r: Values): () => number {
  if (op === 'log' || op === 'sqrt' || op === 'rsqrt') return () => 0.01 + 5 * r.next();
  if (op === 'round') return () => Math.round(r.normal() * 8) / 2 + (r.next() < 0.3 ? 0.25 : 0);
  return () => 3 * r.normal();
}

const unaryCases: Case[] = [];
for (const op of UNARY_OPS) {
  const r = new Values(UNARY_OPS.indexOf(op) + 1);
  const dom = unaryDomain(op, r);
  const shapes: number[][] = [...ODD_SIZES.map((n) => [n]), [7, 17], [65, 127], [3, 5, 7], [SPECIAL.length]];
  shapes.forEach((shape, si) => {
    const layout = LAYOUTS[si % LAYOUTS.length];
    const special = shape.length === 1 && shape[0] === SPECIAL.length;
    const x = makeView(shape, special ? 'contiguous' : layout, (i) => (special ? SPECIAL[i] : dom()));
    const outLayout: Layout = si % 3 === 0 ? 'strided' : 'contiguous';
    unaryCases.push({
      label: `${op} [${shape}] ${special ? 'special values' : layout} → ${outLayout}`,
      outputs: () => [outView(shape, outLayout)],
      run: (b, [o]) => b.unary(op, x, o),
      tol: op === 'erf' || op === 'tanh' || op === 'sin' || op === 'cos' || op === 'log' ? { rtol: 1e-6, atol: 1e-7 } : { rtol: 2e-6, atol: 1e-7 },
    });
  });
}
runCases('unary', unaryCases);

function binaryDomain(op: BinaryOp, r: Values): [() => number, () => number] {
  const n = () => 3 * r.normal();
  if (op === 'pow') return [() => 0.1 + 3 * r.next(), () => 4 * r.next() - 2];
  if (op === 'sigmoidBackward') return [() => r.next(), n];
  if (op === 'tanhBackward') return [() => 2 * r.next() - 1, n];
  if (['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr', 'maximum', 'minimum'].includes(op)) {
    const q = () => Math.round(r.normal() * 2) / 2; // ties and zeros
    return [q, q];
  }
  return [n, n];
}

const COMPARISONS = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr']);
const binaryCases: Case[] = [];
for (const op of BINARY_OPS) {
  const r = new Values(100 + BINARY_OPS.indexOf(op));
  const [da, db] = binaryDomain(op, r);
  const outDtype = COMPARISONS.has(op) ? 'bool' : 'float32';
  // GELU's derivative Φ(x) + x·φ(x) cancels for x < 0: its float32 error is absolute (≈ 1e-7·|g|).
  const tol: Tol = op === 'pow' || op === 'atan2' ? { rtol: 1e-6, atol: 1e-7 }
    : op === 'geluBackward' || op === 'geluTanhBackward' ? { rtol: 3e-6, atol: 3e-6 } : { rtol: 3e-6, atol: 1e-7 };
  const specs: { shape: number[]; a: () => View; b: () => View; note: string }[] = [];
  for (const n of ODD_SIZES) specs.push({ shape: [n], a: () => makeView([n], 'contiguous', da), b: () => makeView([n], 'offset', db), note: 'contiguous' });
  specs.push({ shape: [17, 65], a: () => makeView([17, 65], 'transposed', da), b: () => makeView([17, 65], 'strided', db), note: 'transposed·strided' });
  specs.push({ shape: [63, 127], a: () => makeView([63, 127], 'contiguous', da), b: () => broadcast(makeView([127], 'contiguous', db), [63, 127]), note: 'row broadcast' });
  specs.push({ shape: [7, 63], a: () => broadcast(makeView([7, 1], 'contiguous', da), [7, 63]), b: () => makeView([7, 63], 'contiguous', db), note: 'column broadcast' });
  specs.push({ shape: [65, 17], a: () => makeView([65, 17], 'contiguous', da), b: () => broadcast(makeView([], 'contiguous', db), [65, 17]), note: 'scalar b' });
  specs.push({ shape: [3, 300, 65], a: () => makeView([3, 300, 65], 'contiguous', da), b: () => makeView([3, 300, 65], 'contiguous', db), note: 'large (threaded)' });
  if (!COMPARISONS.has(op)) {
    specs.push({
      shape: [SPECIAL.length, SPECIAL.length],
      a: () => makeView([SPECIAL.length, SPECIAL.length], 'contiguous', (i) => SPECIAL[Math.floor(i / SPECIAL.length)]),
      b: () => makeView([SPECIAL.length, SPECIAL.length], 'contiguous', (i) => SPECIAL[i % SPECIAL.length]),
      note: 'special × special',
    });
  }
  specs.forEach((s, si) => {
    const a = s.a(), b = s.b();
    const outLayout: Layout = si % 4 === 1 ? 'strided' : 'contiguous';
    binaryCases.push({
      label: `${op} [${s.shape}] ${s.note} → ${outLayout}`,
      outputs: () => [outView(s.shape, outDtype === 'bool' ? 'contiguous' : outLayout, outDtype)],
      run: (bk, [o]) => bk.binary(op, a, b, o),
      tol,
    });
  });
  if (!COMPARISONS.has(op)) {
    // In place: out aliases a (as binaryInPlace does).
    const shape = [17, 63];
    const a0 = makeView(shape, 'strided', da), b0 = makeView(shape, 'transposed', db);
    binaryCases.push({
      label: `${op} in place [${shape}]`,
      outputs: () => [cloneView(a0)],
      run: (bk, [o]) => bk.binary(op, o, b0, o),
      tol,
    });
  }
}
runCases('binary', binaryCases);

const whereCases: Case[] = [];
{
  const r = new Values(7);
  for (const [shape, note] of [[[1], ''], [[7, 17], ''], [[65, 127], 'threaded-size'], [[63, 65], 'broadcast']] as [number[], string][]) {
    const c = makeView(shape, 'contiguous', () => (r.next() < 0.5 ? 1 : 0), 'bool');
    const a = note === 'broadcast' ? broadcast(makeView([shape[1]], 'contiguous', () => r.normal()), shape) : makeView(shape, 'transposed', () => r.normal());
    const b = makeView(shape, 'strided', () => r.normal());
    whereCases.push({ label: `[${shape}] ${note}`, outputs: () => [outView(shape, 'strided')], run: (bk, [o]) => bk.where(c, a, b, o), tol: { rtol: 0, atol: 0 } });
  }
}
runCases('where', whereCases);

const copyCases: Case[] = [];
{
  const r = new Values(9);
  const shapes = [[1], [7], [127], [7, 17], [63, 65], [8, 8], [9, 130], [2, 3, 5, 7], [32, 17, 4, 9]];
  for (const shape of shapes) {
    for (const [src, dst] of [['contiguous', 'contiguous'], ['transposed', 'contiguous'], ['strided', 'offset'], ['contiguous', 'transposed'], ['offset', 'strided']] as [Layout, Layout][]) {
      const s = makeView(shape, src, () => r.normal());
      copyCases.push({ label: `[${shape}] ${src} → ${dst}`, outputs: () => [outView(shape, dst)], run: (b, [o]) => b.copy(s, o), tol: { rtol: 0, atol: 0 } });
    }
  }
  // Permuted 4-D (a head split/merge) and a broadcast source.
  const x = makeView([4, 9, 3, 5], 'contiguous', () => r.normal());
  const perm = { ...x, shape: [4, 3, 9, 5], strides: [x.strides[0], x.strides[2], x.strides[1], x.strides[3]] };
  copyCases.push({ label: 'permute(0,2,1,3)', outputs: () => [outView(perm.shape)], run: (b, [o]) => b.copy(perm, o), tol: { rtol: 0, atol: 0 } });
  const row = broadcast(makeView([65], 'contiguous', () => r.normal()), [17, 65]);
  copyCases.push({ label: 'broadcast row', outputs: () => [outView([17, 65])], run: (b, [o]) => b.copy(row, o), tol: { rtol: 0, atol: 0 } });
}
runCases('copy', copyCases);

// ---------------------------------------------------------------------------------------------
// Reductions

const reduceCases: Case[] = [];
{
  const r = new Values(11);
  const specs: [number[], number[][]][] = [
    [[1], [[0]]],
    [[127], [[0]]],
    [[7, 17], [[0], [1], [0, 1]]],
    [[65, 63], [[0], [1]]],
    [[300, 257], [[0], [1], [0, 1]]],
    [[3, 1, 63], [[1], [0, 2], [2]]],
    [[5, 7, 9], [[0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]]],
  ];
  specs.forEach(([shape, axesList], si) => {
    for (const axes of axesList) {
      for (const op of ['sum', 'max', 'min'] as const) {
        const layout = LAYOUTS[(si + axes.length) % LAYOUTS.length];
        const withNaN = op !== 'sum' && si === 4 && axes[0] === 1;
        const x = makeView(shape, layout, (i) => (withNaN && i === 77 ? NaN : r.normal()));
        const outShape = shape.filter((_, d) => !axes.includes(d));
        const n = numel(shape) / numel(outShape);
        reduceCases.push({
          label: `${op} [${shape}] ${layout} over [${axes}]${withNaN ? ' with NaN' : ''}`,
          outputs: () => [outView(outShape)],
          run: (b, [o]) => b.reduce(op, x, axes, o),
          tol: { rtol: 1e-6, atol: 1e-6 * Math.sqrt(n) },
        });
      }
    }
  });
  const empty = makeView([3, 0, 5], 'contiguous', () => 0);
  for (const op of ['sum', 'max'] as const) {
    reduceCases.push({ label: `${op} over an empty dim`, outputs: () => [outView([3, 5])], run: (b, [o]) => b.reduce(op, empty, [1], o), tol: { rtol: 0, atol: 0 } });
  }
}
runCases('reduce', reduceCases);

// ---------------------------------------------------------------------------------------------
// matmul

function mmView(rows: number, cols: number, trans: boolean, r: Values, batch: number[] = []): View {
  const shape = [...batch, rows, cols];
  if (!trans) return makeView(shape, 'contiguous', () => r.normal());
  const v = makeView([...batch, cols, rows], 'contiguous', () => r.normal());
  const n = v.strides.length;
  return { ...v, shape, strides: [...v.strides.slice(0, n - 2), v.strides[n - 1], v.strides[n - 2]] };
}

const matmulCases: Case[] = [];
{
  const r = new Values(13);
  const sizes: [number, number, number][] = [
    [1, 1, 1], [7, 17, 63], [65, 63, 17], [17, 1, 7], [1, 127, 65], [127, 65, 1], [63, 127, 65],
    [150, 300, 257], [7, 2049, 2100], [0, 5, 3], [4, 0, 6],
  ];
  for (const [M, K, N] of sizes) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      if ((M * K * N > 2e7 || M === 0 || K === 0) && (ta || tb) && !(ta && !tb)) continue;
      const a = mmView(M, K, ta, r), b = mmView(K, N, tb, r);
      matmulCases.push({
        label: `[${M}x${K}]${ta ? 'ᵀ' : ''}·[${K}x${N}]${tb ? 'ᵀ' : ''}`,
        outputs: () => [outView([M, N])],
        run: (bk, [o]) => bk.matmul(a, b, o),
        tol: { rtol: 2e-5, atol: 2e-6 * Math.sqrt(K) + 1e-6 },
      });
    }
  }
  // Batched, with batch broadcast (stride 0) on either side and strided operands.
  const a3 = mmView(7, 33, false, r, [3, 5]);
  const b2 = broadcast(mmView(33, 17, true, r), [3, 5, 33, 17]);
  matmulCases.push({ label: '[3,5]×[7x33]·broadcast [33x17]ᵀ', outputs: () => [outView([3, 5, 7, 17])], run: (bk, [o]) => bk.matmul(a3, b2, o), tol: { rtol: 2e-5, atol: 2e-5 } });
  const a1 = broadcast(mmView(65, 9, false, r, [1, 4]), [2, 4, 65, 9]);
  const b3 = mmView(9, 63, false, r, [2, 4]);
  matmulCases.push({ label: 'broadcast [1,4]→[2,4] [65x9]·[9x63]', outputs: () => [outView([2, 4, 65, 63])], run: (bk, [o]) => bk.matmul(a1, b3, o), tol: { rtol: 2e-5, atol: 2e-5 } });
  const heads = mmView(64, 32, false, r, [48]);
  const headsT = mmView(32, 64, true, r, [48]);
  matmulCases.push({ label: '48× [64x32]·[32x64]ᵀ (attention scores)', outputs: () => [outView([48, 64, 64])], run: (bk, [o]) => bk.matmul(heads, headsT, o), tol: { rtol: 2e-5, atol: 2e-5 } });
  // With a bias (Linear): every path — small, threaded pre-packed, large-B panels, K = 0.
  for (const [M, K, N] of [[1, 1, 1], [7, 17, 63], [127, 65, 129], [300, 257, 65], [7, 2049, 2100], [5, 0, 9]] as [number, number, number][]) {
    const a = mmView(M, K, false, r), b = mmView(K, N, true, r), bias = makeView([N], 'offset', () => r.normal());
    matmulCases.push({ label: `[${M}x${K}]·[${K}x${N}]ᵀ + bias`, outputs: () => [outView([M, N])], run: (bk, [o]) => bk.matmul(a, b, o, bias), tol: { rtol: 2e-5, atol: 2e-6 * Math.sqrt(K) + 1e-6 } });
  }
  const strided = makeView([17, 40], 'strided', () => r.normal());
  const sb = makeView([40, 33], 'offset', () => r.normal());
  matmulCases.push({ label: 'strided·offset [17x40]·[40x33]', outputs: () => [outView([17, 33])], run: (bk, [o]) => bk.matmul(strided, sb, o), tol: { rtol: 2e-5, atol: 2e-5 } });
}
runCases('matmul', matmulCases);

// ---------------------------------------------------------------------------------------------
// Gather / scatter-add

const indexCases: Case[] = [];
{
  const r = new Values(17);
  for (const [R, E, n] of [[1, 1, 1], [17, 65, 63], [7, 127, 300], [300, 7, 65]]) {
    for (const dtype of ['int64', 'int32'] as const) {
      const table = makeView([R, E], 'contiguous', () => r.normal());
      const idx = makeView([n], 'contiguous', () => r.int(R), dtype);
      const src = makeView([n, E], 'contiguous', () => r.normal());
      const dst0 = makeView([R, E], 'contiguous', () => r.normal());
      indexCases.push({ label: `indexSelect R${R} E${E} n${n} ${dtype}`, outputs: () => [outView([n, E])], run: (b, [o]) => b.indexSelect(table, idx, o), tol: { rtol: 0, atol: 0 } });
      indexCases.push({ label: `indexAdd R${R} E${E} n${n} ${dtype}`, outputs: () => [cloneView(dst0)], run: (b, [o]) => b.indexAdd(o, idx, src), tol: { rtol: 1e-6, atol: 1e-6 } });
    }
  }
}
runCases('indexSelect / indexAdd', indexCases);

// ---------------------------------------------------------------------------------------------
// Softmax

const softmaxCases: Case[] = [];
{
  const r = new Values(19);
  const specs: [number[], number][] = [[[1], 0], [[7], 0], [[127], 0], [[7, 17], 1], [[7, 17], 0], [[3, 65, 5], 1], [[3, 65, 5], 2], [[3, 65, 5], 0], [[300, 257], 1], [[2, 3, 63], 2]];
  specs.forEach(([shape, dim], si) => {
    for (const log of [false, true]) {
      const masked = si % 3 === 2;
      const x = makeView(shape, 'offset', (i) => (masked && i % 5 === 0 ? -Infinity : si === 9 ? 300 * r.normal() : r.normal()));
      const gy = makeView(shape, 'offset', () => r.normal());
      const y = outView(shape, 'offset');
      tsBackend.softmax(x, dim, log, y);
      softmaxCases.push({ label: `softmax${log ? ' (log)' : ''} [${shape}] dim ${dim}${masked ? ' with -inf' : ''}`, outputs: () => [outView(shape, 'offset')], run: (b, [o]) => b.softmax(x, dim, log, o), tol: { rtol: 3e-6, atol: 1e-7 } });
      softmaxCases.push({ label: `softmaxBackward${log ? ' (log)' : ''} [${shape}] dim ${dim}`, outputs: () => [outView(shape, 'offset')], run: (b, [o]) => b.softmaxBackward(y, gy, dim, log, o), tol: { rtol: 2e-5, atol: 2e-6 } });
    }
  });
  const allMasked = makeView([3, 7], 'contiguous', (i) => (i < 7 ? -Infinity : r.normal()));
  softmaxCases.push({ label: 'a fully masked row gives NaN', outputs: () => [outView([3, 7])], run: (b, [o]) => b.softmax(allMasked, 1, false, o), tol: { rtol: 3e-6, atol: 1e-7 } });
}
runCases('softmax', softmaxCases);

// ---------------------------------------------------------------------------------------------
// Layer norm

const lnCases: Case[] = [];
{
  const r = new Values(23);
  for (const [N, D] of [[1, 1], [7, 17], [63, 65], [17, 127], [300, 257], [5, 2]] as [number, number][]) {
    for (const affine of ['both', 'weight', 'none'] as const) {
      const x = makeView([N, D], 'offset', () => 2 * r.normal() + 0.5);
      const w = affine !== 'none' ? makeView([D], 'offset', () => r.normal()) : null;
      const bias = affine === 'both' ? makeView([D], 'contiguous', () => r.normal()) : null;
      const gy = makeView([N, D], 'offset', () => r.normal());
      const mean = outView([N]), rstd = outView([N]);
      tsBackend.layerNorm(x, w, bias, 1e-5, outView([N, D]), mean, rstd);
      lnCases.push({
        label: `layerNorm [${N},${D}] ${affine}`,
        outputs: () => [outView([N, D], 'offset'), outView([N]), outView([N])],
        run: (b, [o, m, s]) => b.layerNorm(x, w, bias, 1e-5, o, m, s),
        tol: { rtol: 1e-5, atol: 2e-6 },
      });
      lnCases.push({
        label: `layerNormBackward [${N},${D}] ${affine}`,
        outputs: () => [outView([N, D], 'offset'), outView([D]), outView([D])],
        run: (b, [gx, gw, gb]) => b.layerNormBackward(gy, x, w, mean, rstd, gx, w ? gw : null, bias ? gb : null),
        tol: (i) => (i === 0 ? { rtol: 1e-4, atol: 5e-6 } : { rtol: 1e-5, atol: 2e-6 * Math.sqrt(N) }),
      });
    }
  }
}
runCases('layerNorm', lnCases);

// ---------------------------------------------------------------------------------------------
// Cross-entropy

const ceCases: Case[] = [];
{
  const r = new Values(29);
  for (const [N, C] of [[1, 1], [7, 17], [65, 63], [127, 7], [300, 257]] as [number, number][]) {
    for (const dtype of ['int64', 'int32'] as const) {
      for (const eps of [0, 0.1]) {
        const x = makeView([N, C], 'offset', () => 3 * r.normal());
        const t = makeView([N], 'contiguous', (i) => (i % 4 === 3 ? -100 : r.int(C)), dtype);
        const lse = outView([N]);
        tsBackend.crossEntropy(x, t, -100, eps, outView([N]), lse);
        const g = makeView([N], 'contiguous', () => r.normal());
        ceCases.push({ label: `crossEntropy [${N},${C}] ${dtype} ε=${eps}`, outputs: () => [outView([N]), outView([N])], run: (b, [l, s]) => b.crossEntropy(x, t, -100, eps, l, s), tol: { rtol: 2e-6, atol: 2e-6 } });
        ceCases.push({ label: `crossEntropyBackward [${N},${C}] ${dtype} ε=${eps}`, outputs: () => [outView([N, C], 'offset')], run: (b, [gx]) => b.crossEntropyBackward(x, t, lse, g, -100, eps, gx), tol: { rtol: 1e-5, atol: 1e-6 } });
      }
    }
  }
}
runCases('crossEntropy', ceCases);

test('crossEntropy reports the first out-of-range target row on every backend configuration', { skip }, () => {
  const x = makeView([9, 5], 'contiguous', (i) => i / 10);
  const t = makeView([9], 'contiguous', (i) => (i === 4 ? 5 : i === 7 ? -1 : i % 5));
  const ref = tsBackend.crossEntropy(x, t, -100, 0, outView([9]), outView([9]));
  assert.equal(ref, 4);
  for (const cfg of configs) withNative(cfg, (nb) => assert.equal(nb.crossEntropy(x, t, -100, 0, outView([9]), outView([9])), 4, cfg.label));
});

// ---------------------------------------------------------------------------------------------
// Adam / AdamW

const adamCases: Case[] = [];
{
  const r = new Values(31);
  const hps: [string, Partial<AdamHyper>, boolean][] = [
    ['adam', {}, false], ['adam wd', { weightDecay: 0.1 }, false], ['adamw', { decoupled: true, weightDecay: 0.01 }, false],
    ['amsgrad maximize', { maximize: true }, true],
  ];
  for (const n of [...ODD_SIZES, 1000, 70001]) {
    for (const [name, h, ams] of hps) {
      const p0 = makeView([n], 'offset', () => r.normal()), g = makeView([n], 'contiguous', () => r.normal() * 1e-2);
      const m0 = makeView([n], 'contiguous', () => r.normal() * 1e-2), v0 = makeView([n], 'contiguous', () => r.next() * 1e-4);
      const vm0 = makeView([n], 'contiguous', () => r.next() * 2e-4);
      const hp: AdamHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 3, maximize: false, ...h };
      adamCases.push({
        label: `${name} n${n}`,
        outputs: () => [cloneView(p0), cloneView(m0), cloneView(v0), cloneView(vm0)],
        run: (b, [p, m, v, vm]) => { b.adamStep(p, g, m, v, ams ? vm : null, hp); },
        // m and v are sums of terms ~1e-2 that can cancel: float32 error is absolute there.
        tol: (i) => (i === 0 ? { rtol: 1e-6, atol: 1e-6 } : { rtol: 2e-6, atol: 1e-8 }),
      });
    }
  }
}
runCases('adamStep', adamCases);

// ---------------------------------------------------------------------------------------------
// Fused attention

interface AttSpec { batch: number[]; L: number; S: number; D: number; Dv: number; causal: boolean; mask: 'none' | 'random' | 'broadcast' | 'row-masked'; packed: boolean }

/** q, k, v as the heads of a packed (B, T, 3, H, D) projection when `packed`, else contiguous. */
function attInputs(s: AttSpec, r: Values): { q: View; k: View; v: View; mask: View | null; gOut: View } {
  const mk = (rows: number, cols: number) => makeView([...s.batch, rows, cols], 'contiguous', () => r.normal());
  let q: View, k: View, v: View;
  if (s.packed && s.batch.length === 2 && s.L === s.S && s.D === s.Dv) {
    const [B, H] = s.batch;
    const p = makeView([B, s.L, 3, H, s.D], 'contiguous', () => r.normal());
    const view = (j: number): View => ({ ...p, shape: [B, H, s.L, s.D], strides: [p.strides[0], p.strides[3], p.strides[1], p.strides[4]], offset: p.offset + j * p.strides[2] });
    [q, k, v] = [view(0), view(1), view(2)];
  } else {
    q = mk(s.L, s.D);
    k = mk(s.S, s.D);
    v = mk(s.S, s.Dv);
    if (s.batch.length > 0) k = broadcast(makeView([1, ...s.batch.slice(1), s.S, s.D], 'contiguous', () => r.normal()), [...s.batch, s.S, s.D]);
  }
  let mask: View | null = null;
  if (s.mask === 'random') mask = makeView([...s.batch, s.L, s.S], 'transposed', () => (r.next() < 0.2 ? -Infinity : r.normal()));
  if (s.mask === 'broadcast') mask = broadcast(makeView([s.L, s.S], 'contiguous', (i) => (i % 7 === 3 ? -Infinity : 0.5 * r.normal())), [...s.batch, s.L, s.S]);
  if (s.mask === 'row-masked') mask = broadcast(makeView([s.L, s.S], 'contiguous', (i) => (Math.floor(i / s.S) === 0 ? -Infinity : 0)), [...s.batch, s.L, s.S]);
  const gOut = makeView([...s.batch, s.L, s.Dv], 'transposed', () => r.normal());
  return { q, k, v, mask, gOut };
}

const attCases: Case[] = [];
{
  const r = new Values(37);
  const specs: AttSpec[] = [
    { batch: [], L: 1, S: 1, D: 1, Dv: 1, causal: false, mask: 'none', packed: false },
    { batch: [2], L: 7, S: 17, D: 7, Dv: 5, causal: false, mask: 'random', packed: false },
    { batch: [2, 3], L: 17, S: 17, D: 8, Dv: 8, causal: true, mask: 'none', packed: true },
    { batch: [3], L: 63, S: 65, D: 17, Dv: 9, causal: true, mask: 'broadcast', packed: false },
    { batch: [1, 2], L: 65, S: 65, D: 32, Dv: 32, causal: false, mask: 'broadcast', packed: true },
    { batch: [2], L: 127, S: 129, D: 16, Dv: 24, causal: false, mask: 'none', packed: false },
    { batch: [2], L: 129, S: 63, D: 7, Dv: 7, causal: true, mask: 'random', packed: false },
    { batch: [2, 2], L: 17, S: 17, D: 8, Dv: 8, causal: false, mask: 'row-masked', packed: true },
    { batch: [8, 4], L: 64, S: 64, D: 32, Dv: 32, causal: false, mask: 'none', packed: true },
  ];
  for (const s of specs) {
    const { q, k, v, mask, gOut } = attInputs(s, r);
    const scale = 1 / Math.sqrt(s.D);
    const out = outView([...s.batch, s.L, s.Dv]), lse = outView([...s.batch, s.L]);
    tsBackend.attention(q, k, v, mask, s.causal, scale, out, lse);
    const label = `B[${s.batch}] L${s.L} S${s.S} D${s.D} Dv${s.Dv}${s.causal ? ' causal' : ''} mask:${s.mask}${s.packed ? ' packed' : ''}`;
    attCases.push({
      label: `forward ${label}`,
      outputs: () => [outView([...s.batch, s.L, s.Dv]), outView([...s.batch, s.L])],
      run: (b, [o, l]) => b.attention(q, k, v, mask, s.causal, scale, o, l),
      tol: { rtol: 2e-5, atol: 2e-6 },
    });
    // Gradients written through strides (the layout of a packed projection's heads), or contiguous.
    const gradOut = (rows: number, cols: number): View => {
      if (!s.packed || s.batch.length !== 2) return outView([...s.batch, rows, cols]);
      const [B, H] = s.batch;
      const base = outView([B, rows, H, cols]);
      return { ...base, shape: [B, H, rows, cols], strides: [base.strides[0], base.strides[2], base.strides[1], base.strides[3]] };
    };
    attCases.push({
      label: `backward ${label}`,
      outputs: () => [gradOut(s.L, s.D), gradOut(s.S, s.D), gradOut(s.S, s.Dv)],
      run: (b, [gq, gk, gv]) => b.attentionBackward(q, k, v, mask, s.causal, scale, out, lse, gOut, gq, gk, gv),
      tol: { rtol: 1e-4, atol: 2e-5 },
    });
  }
}
runCases('attention', attCases);

// ---------------------------------------------------------------------------------------------
// Safety, threads, selection

test('the addon rejects views that reach outside their array, naming the op and the operand', { skip }, () => {
  withNative(configs[0], (nb) => {
    const short: View = { data: new Float32Array(4), dtype: 'float32', shape: [8], strides: [1], offset: 0 };
    assert.throws(() => nb.unary('neg', short, outView([8])), /unary: x reaches elements \[0, 7\] of an array of length 4/);
    const a = makeView([3, 4], 'contiguous', () => 1), b = makeView([4, 5], 'contiguous', () => 1);
    const shortOut: View = { data: new Float32Array(12), dtype: 'float32', shape: [3, 5], strides: [5, 1], offset: 0 };
    assert.throws(() => nb.matmul(a, b, shortOut), /matmul: out needs 15 elements from offset 0 but its array has 12/);
    const neg: View = { data: new Float32Array(10), dtype: 'float32', shape: [4], strides: [-1], offset: 2 };
    assert.throws(() => nb.copy(neg, outView([4])), /copy: src reaches elements \[-1, 2\]/);
    const idx = makeView([2], 'contiguous', (i) => [0, 9][i], 'int64');
    assert.throws(() => nb.indexSelect(makeView([3, 2], 'contiguous', () => 0), idx, outView([2, 2])), /indexSelect: index 9\S* at position 1 is out of range for 3 rows/);
  });
});

test('the addon rejects operands whose shapes disagree (every view carries its shape), naming them', { skip }, () => {
  withNative(configs[0], (nb) => {
    assert.throws(() => nb.unary('neg', makeView([8], 'contiguous', () => 1), outView([4])), /unary: x has shape \[8\] but out has \[4\]/);
    assert.throws(() => nb.binary('add', makeView([2, 3], 'contiguous', () => 1), makeView([3, 2], 'contiguous', () => 1), outView([2, 3])),
      /binary: b has shape \[3, 2\] but out has \[2, 3\]/);
    const a = makeView([3, 4], 'contiguous', () => 1);
    assert.throws(() => nb.matmul(a, makeView([5, 5], 'contiguous', () => 1), outView([3, 5])), /matmul: b has shape \[5, 5\] but a and out need \[4, 5\]/);
    assert.throws(() => nb.matmul(makeView([2, 3, 4], 'contiguous', () => 1), makeView([4, 5], 'contiguous', () => 1), outView([3, 5])),
      /matmul: a must have 2 dims, got \[2, 3, 4\]/);
    assert.throws(() => nb.softmax(makeView([2, 3], 'contiguous', () => 1), 2, false, outView([2, 3])), /softmax: dim 2 out of range for x of shape \[2, 3\]/);
    assert.throws(() => nb.reduce('sum', makeView([2, 3], 'contiguous', () => 1), [2], outView([2, 3])), /reduce: reduced dims 4 \(a bit mask\) out of range for 2 dims/);
    const q = makeView([2, 4, 8], 'contiguous', () => 0.1), k = makeView([2, 5, 7], 'contiguous', () => 0.1), v = makeView([2, 5, 8], 'contiguous', () => 0.1);
    assert.throws(() => nb.attention(q, k, v, null, false, 1, outView([2, 4, 8]), outView([2, 4])), /attention: k has shape \[2, 5, 7\] but q needs \[2, 5, 8\]/);
  });
});

test('the thread pool runs every task exactly once for its own job (200k small jobs)', { skip }, () => {
  withNative(configs.find((c) => c.threads === 2) ?? configs[0], () => {
    assert.equal(nativeAddon()!.poolSelfTest(200000), 0);
  });
});

test('results do not depend on the thread count (same bits on 1 and 2 threads)', { skip }, () => {
  const r = new Values(41);
  const a = mmView(130, 300, false, r), b = mmView(300, 129, true, r);
  const x = makeView([300, 257], 'contiguous', () => r.normal());
  const run = (threads: number) => withNative({ label: '', isa: configs[0].isa, threads }, (nb) => {
    const o1 = outView([130, 129]), o2 = outView([257]), o3 = outView([300, 257]), m = outView([300]), s = outView([300]);
    nb.matmul(a, b, o1);
    nb.reduce('sum', x, [0], o2);
    nb.layerNorm(x, null, null, 1e-5, o3, m, s);
    return [o1, o2, o3].map((o) => Array.from(o.data as Float32Array));
  });
  assert.deepEqual(run(2), run(1));
});
