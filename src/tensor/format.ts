/**
 * PyTorch-style printing: `tensor([[ 0.1234, -1.2000], …], requires_grad=True)`, with a
 * shared column width, scientific notation when magnitudes call for it, and `...` summarised
 * output above 1000 elements (first and last 3 per dim).
 */
import type { DType, TypedArray } from '../dtype.js';

/** What printing reads of a tensor (tensor.ts passes itself). */
export interface Printable {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly ndim: number;
  readonly requiresGrad: boolean;
  readonly gradFn: { readonly name: string } | null;
  numel(): number;
  toFlat(): TypedArray;
}

const EDGE = 3;
const THRESHOLD = 1000;

/** Ranks above this print as a summary: nested brackets that deep help nobody (and would recurse). */
const MAX_PRINTED_RANK = 32;

export function formatTensor(t: Printable): string {
  if (t.ndim > MAX_PRINTED_RANK) {
    const shown = t.shape.length > 12 ? `${t.shape.slice(0, 6).join(', ')}, …, ${t.shape.slice(-6).join(', ')}` : t.shape.join(', ');
    return `tensor(<${t.ndim}-dim tensor of ${t.numel()} elements>, size=(${shown}), dtype=${t.dtype})`;
  }
  const flat = t.toFlat();
  const summarize = flat.length > THRESHOLD;
  const isFloat = t.dtype === 'float32' || t.dtype === 'float64';
  const values = Array.from(flat as ArrayLike<number>);
  const finite = values.filter((v) => Number.isFinite(v));
  const maxAbs = finite.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const minAbs = finite.filter((v) => v !== 0).reduce((m, v) => Math.min(m, Math.abs(v)), Infinity);
  const allInt = finite.every((v) => Number.isInteger(v));
  const sci = isFloat && finite.length > 0 && (maxAbs >= 1e8 || (minAbs < 1e-4 && minAbs !== Infinity) || maxAbs / minAbs > 1000) && !allInt;
  const fmt = (v: number): string => {
    if (t.dtype === 'bool') return v ? 'True' : 'False';
    if (Number.isNaN(v)) return 'nan';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    if (!isFloat) return String(v);
    if (sci) return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
    if (allInt) return `${v.toFixed(0)}.`;
    return v.toFixed(4);
  };
  const strs = values.map(fmt);
  const width = strs.reduce((w, s) => Math.max(w, s.length), 0);
  const pad = (s: string): string => s.padStart(width);

  const prefix = 'tensor(';
  const render = (d: number, start: number, indent: number): string => {
    if (t.ndim === 0) return pad(strs[0]);
    const n = t.shape[d];
    const step = t.shape.slice(d + 1).reduce((p, s) => p * s, 1);
    const idx = summarize && n > 2 * EDGE ? [...range(0, EDGE), -1, ...range(n - EDGE, n)] : range(0, n);
    if (d === t.ndim - 1) return `[${idx.map((i) => (i < 0 ? '...' : pad(strs[start + i]))).join(', ')}]`;
    const sep = `,${'\n'.repeat(t.ndim - 1 - d)}${' '.repeat(indent + 1)}`;
    return `[${idx.map((i) => (i < 0 ? '...' : render(d + 1, start + i * step, indent + 1))).join(sep)}]`;
  };
  const extras: string[] = [];
  if (t.ndim > 0 && t.numel() === 0) extras.push(`size=(${t.shape.join(', ')})`);
  if (t.dtype !== 'float32' && t.dtype !== 'int64' && t.dtype !== 'bool') extras.push(`dtype=${t.dtype}`);
  if (t.gradFn) extras.push(`grad_fn=<${t.gradFn.name}>`);
  else if (t.requiresGrad) extras.push('requires_grad=True');
  const body = t.numel() === 0 && t.ndim > 0 ? '[]' : render(0, 0, prefix.length);
  return `${prefix}${body}${extras.map((e) => `, ${e}`).join('')})`;
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}
