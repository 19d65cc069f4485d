/**
 * Where a training step's time goes: wraps every method of the active backend with a timer and
 * prints time per kernel (matmul split by shape and transpose case), with the remainder of the
 * step attributed to the JavaScript side (allocation, views, autograd bookkeeping).
 *
 *   node --import tsx bench/profile.ts [w1|w2|w3] [steps=20]
 */
import { performance } from 'node:perf_hooks';
import { backend, registerBackend, setBackend } from '../src/backend/index.js';
import type { Backend, View } from '../src/backend/backend.js';
import { buildWorkload, type WorkloadName } from '../src/bench/workloads.js';

const name = (process.argv[2] ?? 'w1') as WorkloadName;
const steps = Number(process.argv[3] ?? 20);
const base = backend();
const stats = new Map<string, { ms: number; calls: number }>();

function key(method: string, args: unknown[]): string {
  const v = args as View[];
  if (method === 'matmul') {
    const [a, b, out] = v;
    const r = out.shape.length;
    const ta = a.strides[r - 1] !== 1 ? 'ᵀ' : '', tb = b.strides[r - 1] !== 1 ? 'ᵀ' : '';
    const batch = out.shape.slice(0, -2).reduce((p, s) => p * s, 1);
    return `matmul ${batch > 1 ? `${batch}× ` : ''}[${out.shape[r - 2]}x${a.shape[r - 1]}]${ta}·[${a.shape[r - 1]}x${out.shape[r - 1]}]${tb}`;
  }
  const desc = (x: View) => `${x.shape.join('x')}${x.strides.join() === contiguous(x.shape).join() ? '' : `/s${x.strides.join(',')}`}`;
  if (method === 'copy') return `copy ${desc(v[0])} → ${desc(v[1])}`;
  if (method === 'binary') return `binary ${String(args[0])} ${desc(v[1])} ${desc(v[2])}`;
  if (method === 'unary' || method === 'reduce') return `${method} ${String(args[0])} ${desc(v[1])}`;
  return method;
}

function contiguous(shape: readonly number[]): number[] {
  const st: number[] = [];
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) { st[d] = s; s *= shape[d]; }
  return st;
}

const wrapped = { name: 'profiled' } as Record<string, unknown>;
for (const m of Object.keys(base) as (keyof Backend)[]) {
  const f = base[m];
  if (typeof f !== 'function') continue;
  wrapped[m] = (...args: unknown[]) => {
    const t0 = performance.now();
    const r = (f as (...a: unknown[]) => unknown).apply(base, args);
    const dt = performance.now() - t0;
    const k = key(m, args);
    const s = stats.get(k) ?? { ms: 0, calls: 0 };
    s.ms += dt;
    s.calls++;
    stats.set(k, s);
    return r;
  };
}
registerBackend(wrapped as unknown as Backend);
setBackend('profiled');

const w = buildWorkload(name);
for (let i = 0; i < 5; i++) w.step();
stats.clear();
const t0 = performance.now();
for (let i = 0; i < steps; i++) w.step();
const total = (performance.now() - t0) / steps;
const rows = [...stats.entries()].map(([k, s]) => ({ k, ms: s.ms / steps, calls: s.calls / steps })).sort((a, b) => b.ms - a.ms);
const kernels = rows.reduce((p, r) => p + r.ms, 0);
console.log(`${name} on ${base.name}: ${total.toFixed(1)} ms/step; kernels ${kernels.toFixed(1)} ms, JS side ${(total - kernels).toFixed(1)} ms, ${rows.reduce((p, r) => p + r.calls, 0)} kernel calls/step`);
for (const r of rows) console.log(`${r.ms.toFixed(2).padStart(8)} ms ${String(r.calls).padStart(5)}×  ${r.k}`);
