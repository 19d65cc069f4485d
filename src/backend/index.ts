/**
 * Backend selection. The TypeScript reference backend is always available; the native addon,
 * when it is built and loads, is preferred. `QKV_BACKEND=ts|native` forces one.
 */
import type { Backend } from './backend.js';
import { tsBackend } from './ts/index.js';
import { ArgumentError } from '../errors.js';

export type { Backend, View, UnaryOp, BinaryOp, ReduceOp } from './backend.js';
export { tsBackend };

const registry = new Map<string, Backend>([['ts', tsBackend]]);
let current: Backend = tsBackend;

/** Makes a backend available under its name (the native loader calls this). */
export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

/** The backend every op dispatches to. */
export function backend(): Backend {
  return current;
}

/** Names of the backends that loaded in this process. */
export function availableBackends(): string[] {
  return [...registry.keys()];
}

/** Switches every subsequent op to the named backend. */
export function setBackend(name: string): Backend {
  const b = registry.get(name);
  if (!b) {
    throw new ArgumentError(`setBackend: backend ${JSON.stringify(name)} is not available (available: ${availableBackends().join(', ')})`);
  }
  current = b;
  return b;
}
