/**
 * Backend selection. The TypeScript reference backend is always available; the native addon,
 * when it is built and loads, is preferred. `QKV_BACKEND=ts|native` forces one: `ts` does not
 * even load the addon, `native` makes a missing addon an error at import.
 *
 * When the addon failed to load (and the TypeScript backend was not chosen explicitly), the
 * first op prints one line on stderr saying so; `nativeStatus()` reports the details (for
 * `qkv doctor`). Threads of the native kernels: `QKV_NUM_THREADS` (default: the cores this
 * process may run on) and `setNumThreads(n)`.
 */
import { readFileSync } from 'node:fs';
import type { Backend } from './backend.js';
import { tsBackend } from './ts/index.js';
import { ADDON_PATH, createNativeBackend, loadNativeAddon, type NativeAddon } from './native/index.js';
import { ArgumentError } from '../errors.js';

export type { Backend, View, UnaryOp, BinaryOp, ReduceOp } from './backend.js';
export { tsBackend };

const registry = new Map<string, Backend>([['ts', tsBackend]]);
let current: Backend = tsBackend;

/** Makes a backend available under its name (the native loader calls this). */
export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

// ---------------------------------------------------------------------------------------------
// The native addon

const requested = process.env.QKV_BACKEND ?? '';
if (requested !== '' && requested !== 'ts' && requested !== 'native') {
  throw new ArgumentError(`QKV_BACKEND must be "ts" or "native" (or unset), got ${JSON.stringify(requested)}`);
}

let addon: NativeAddon | null = null;
let nativeError: string | null = null;
if (requested === 'ts') {
  nativeError = 'not loaded: QKV_BACKEND=ts selects the TypeScript backend';
} else {
  const r = loadNativeAddon();
  addon = r.addon;
  nativeError = r.error;
  if (addon) {
    try {
      const native = createNativeBackend(addon);
      registerBackend(native);
      current = native;
    } catch (err) {
      addon = null;
      nativeError = `the addon loaded but failed to initialise: ${(err as Error).message}`;
    }
  }
  if (!addon && requested === 'native') {
    throw new ArgumentError(`QKV_BACKEND=native, but the native backend is unavailable: ${nativeError}`);
  }
}

let announced = false;
function announce(): void {
  announced = true;
  if (!addon && requested !== 'ts') {
    process.stderr.write(`qkv: WARNING: native backend unavailable, using the (much slower) TypeScript backend: ${nativeError}\n`);
  }
}

/** The backend every op dispatches to. */
export function backend(): Backend {
  if (!announced) announce();
  return current;
}

/** Names of the backends that loaded in this process ('ts', and 'native' when the addon loaded). */
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

/**
 * Sets the number of threads the native kernels use (1 … 256). The TypeScript backend is
 * single-threaded; without the addon the value is only validated.
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new ArgumentError(`setNumThreads: expected an integer from 1 to 256, got ${n}`);
  }
  addon?.setNumThreads(n);
}

/** Threads the native kernels use (1 without the addon). */
export function getNumThreads(): number {
  return addon ? addon.getNumThreads() : 1;
}

export interface NativeStatus {
  /** The addon loaded and is registered as backend 'native'. */
  loaded: boolean;
  /** Why it did not load (null when it did). */
  error: string | null;
  /** Where the addon is expected. */
  path: string;
  /** The instruction set its kernels use ('avx2' or 'scalar'), null without the addon. */
  isa: string | null;
  /** CPU features that matter to the kernels (from the addon, else /proc/cpuinfo when readable). */
  cpuFeatures: Record<string, boolean>;
  /** Threads of the native kernels (1 without the addon). */
  threads: number;
  /** The backend ops currently dispatch to. */
  active: string;
}

/** What `qkv doctor` reports about the native backend. */
export function nativeStatus(): NativeStatus {
  return {
    loaded: addon !== null,
    error: nativeError,
    path: ADDON_PATH,
    isa: addon ? addon.isa() : null,
    cpuFeatures: addon ? addon.cpuFeatures() : cpuFeaturesFromProc(),
    threads: getNumThreads(),
    active: current.name,
  };
}

function cpuFeaturesFromProc(): Record<string, boolean> {
  try {
    const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').split(/\s+/));
    return { avx2: flags.has('avx2'), fma: flags.has('fma'), avx512f: flags.has('avx512f') };
  } catch {
    return {};
  }
}

/** The loaded addon itself, for the conformance tests (switching its instruction set). */
export function nativeAddon(): NativeAddon | null {
  return addon;
}
