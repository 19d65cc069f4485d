/**
 * Where a training step's time goes (`qkv bench --profile w3`): wraps every method of the active
 * backend with a timer and reports time per kernel (matmul split by shape and transpose case),
 * with the remainder of the step attributed to the JavaScript side (allocation, views, autograd
 * bookkeeping). Runs in the calling process, on the backend that is active when it starts.
 */
import { performance } from 'node:perf_hooks';
import { ArgumentError } from '../errors.js';
import { backend, registerBackend, setBackend } from '../backend/index.js';
import type { Backend, View } from '../backend/backend.js';
import { WORKLOADS, buildWorkload, type WorkloadName } from './workloads.js';

export interface ProfileRow {
  /** Kernel and shape, e.g. `matmul [1024x128]·[128x384]ᵀ`. */
  kernel: string;
  /** Milliseconds per step. */
  ms: number;
  /** Calls per step. */
  calls: number;
}

export interface Profile {
  workload: WorkloadName;
  backend: string;
  steps: number;
  /** Wall time per step, ms. */
  stepMs: number;
  /** Time inside backend kernels per step, ms. */
  kernelMs: number;
  rows: ProfileRow[];
}

function contiguous(shape: readonly number[]): number[] {
  const st: number[] = [];
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) { st[d] = s; s *= shape[d]; }
  return st;
}

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

/**
 * Profiles `steps` train steps of a workload after 5 warm-up steps. The profiled backend stays
 * registered under the name `profiled`; the previously active backend is restored at the end.
 */
export function profileWorkload(name: WorkloadName, steps = 20): Profile {
  if (!(WORKLOADS as readonly string[]).includes(name)) throw new ArgumentError(`bench: --profile takes one of ${WORKLOADS.join(', ')}, got ${JSON.stringify(name)}`);
  if (!Number.isInteger(steps) || steps < 1) throw new ArgumentError(`bench: profile steps must be an integer ≥ 1, got ${steps}`);
  const base = backend();
  const stats = new Map<string, { ms: number; calls: number }>();
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
  try {
    const w = buildWorkload(name);
    for (let i = 0; i < 5; i++) w.step();
    stats.clear();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) w.step();
    const stepMs = (performance.now() - t0) / steps;
    const rows = [...stats.entries()].map(([kernel, s]) => ({ kernel, ms: s.ms / steps, calls: s.calls / steps })).sort((a, b) => b.ms - a.ms);
    return { workload: name, backend: base.name, steps, stepMs, kernelMs: rows.reduce((p, r) => p + r.ms, 0), rows };
  } finally {
    setBackend(base.name);
  }
}

/** The profile as text: a summary line, then one line per kernel, slowest first. */
export function formatProfile(p: Profile): string {
  const calls = p.rows.reduce((s, r) => s + r.calls, 0);
  return [
    `${p.workload} on ${p.backend}: ${p.stepMs.toFixed(1)} ms/step; kernels ${p.kernelMs.toFixed(1)} ms, JS side ${(p.stepMs - p.kernelMs).toFixed(1)} ms, ${calls} kernel calls/step`,
    ...p.rows.map((r) => `${r.ms.toFixed(2).padStart(8)} ms ${String(r.calls).padStart(5)}×  ${r.kernel}`),
  ].join('\n');
}
