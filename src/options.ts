/**
 * Strict options objects: every public function and constructor that takes `{ … }` checks its
 * keys here, so a PyTorch spelling (`batch_first`, `weight_decay`) or a typo is an error naming
 * the nearest valid key instead of an option silently ignored.
 */
import { ArgumentError } from './errors.js';

/** snake_case → camelCase (`dim_feedforward` → `dimFeedforward`). */
function camel(key: string): string {
  return key.replace(/_+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
}

/** Edit distance (insertions, deletions, substitutions), case-insensitive. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The valid key a user most likely meant by `key`, or null when none is close. */
export function nearestKey(key: string, valid: readonly string[]): string | null {
  const c = camel(key);
  const exact = valid.find((v) => v.toLowerCase() === c.toLowerCase());
  if (exact) return exact;
  let best: string | null = null;
  let bestD = Infinity;
  for (const v of valid) {
    const d = Math.min(distance(c, v), distance(key, v));
    if (d < bestD) [best, bestD] = [v, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}

/**
 * Throws an ArgumentError unless `opts` is undefined or a plain object whose own keys are all in
 * `valid`. `where` names the function (`nn.Linear`, `optim.AdamW`); the message names the bad key
 * and the nearest valid one. Returns `opts` (or `{}`) so callers can destructure the result.
 *
 * Example: `const { bias = true } = checkOptions(opts, ['bias', 'dtype'], 'nn.Linear')`
 */
export function checkOptions<T extends object>(opts: T | undefined | null, valid: readonly string[], where: string): T {
  if (opts === undefined || opts === null) return {} as T;
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    throw new ArgumentError(`${where}: options must be an object ({ ${valid.join(', ')} }), got ${Array.isArray(opts) ? 'an array' : typeof opts}`);
  }
  for (const key of Object.keys(opts)) {
    if (valid.includes(key)) continue;
    const near = nearestKey(key, valid);
    throw new ArgumentError(
      `${where}: unknown option ${JSON.stringify(key)}${near ? ` (did you mean ${near}?)` : ''}; valid options: ${valid.length ? valid.join(', ') : 'none'}`,
    );
  }
  return opts;
}

// ---------------------------------------------------------------------------------------------

/*
 * PyTorch's call forms for optional arguments: positional (`new nn.Linear(3, 4, false)`,
 * `new optim.Adam(params, 0.01)`), keyword (an options object: `{ bias: false }`), or positional
 * values followed by an options object (`new nn.Linear(3, 4, false, { dtype: 'float64' })`).
 * Each form takes effect or is an error: too many positional values, an option given twice, an
 * unknown key (checkOptions: the nearest valid key is named), or a PyTorch option that qkv does not
 * implement (named as such, unless it is given its harmless value, such as `device: 'cpu'`).
 */
/** A PyTorch option qkv does not implement: accepted only when `ok(value)` holds. */
export interface Unsupported {
  /** PyTorch's spelling, for the message (`max_norm`). */
  torch: string;
  /** Values that change nothing in qkv (PyTorch's default, or 'cpu' for device). */
  ok: (value: unknown) => boolean;
  /** Why, or what to do instead. */
  hint?: string;
}

/** `device`: qkv runs on the CPU, so 'cpu' (or null) is accepted and anything else refused. */
export const DEVICE: Unsupported = {
  torch: 'device',
  ok: (v) => v === undefined || v === null || v === 'cpu',
  hint: 'qkv computes on the CPU',
};

/** A flag accepted only while false (PyTorch's default). */
export const onlyFalse = (torch: string, hint?: string): Unsupported => ({ torch, ok: (v) => v === undefined || v === null || v === false, hint });

/** An option accepted only while absent or null. */
export const onlyNull = (torch: string, hint?: string): Unsupported => ({ torch, ok: (v) => v === undefined || v === null, hint });

/** True for `{ … }` written as a literal (not a Tensor, Module, array or other class instance). */
export function isOptionsObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Resolves the optional arguments `rest` of a call into one options object.
 *
 * Args: `where` names the callee (`nn.Linear`); `positional` lists, in PyTorch's order, the option
 * names the positional values after the required arguments fill; `valid` every accepted key;
 * `unsupported` PyTorch options qkv does not implement (keyed by qkv's camelCase name).
 * Trailing `undefined` values are ignored, as absent arguments.
 *
 * Example: `callOptions('nn.Linear', [false], ['bias'], ['bias', 'dtype'])` → `{ bias: false }`.
 */
export function callOptions<T extends object>(
  where: string,
  rest: readonly unknown[],
  positional: readonly string[],
  valid: readonly string[],
  unsupported: Readonly<Record<string, Unsupported>> = {},
): T {
  const args = [...rest];
  while (args.length && args[args.length - 1] === undefined) args.pop();
  let given: Record<string, unknown> = {};
  if (args.length && isOptionsObject(args[args.length - 1])) given = { ...(args.pop() as Record<string, unknown>) };
  if (args.length > positional.length) {
    const list = positional.length ? ` (${positional.join(', ')})` : '';
    throw new ArgumentError(
      `${where}: got ${args.length} optional positional argument${args.length === 1 ? '' : 's'} but takes at most ${positional.length}${list}; pass the others in an options object { ${valid.join(', ')} }`,
    );
  }
  const all = [...valid, ...Object.keys(unsupported)];
  checkOptions(given, all, where);
  const out: Record<string, unknown> = {};
  args.forEach((v, i) => {
    if (v === undefined) return;
    const name = positional[i];
    if (name in given) throw new ArgumentError(`${where}: ${name} is given twice (as positional argument ${i + 1} and in the options)`);
    out[name] = v;
  });
  for (const [k, v] of Object.entries(given)) if (v !== undefined) out[k] = v;
  for (const [k, u] of Object.entries(unsupported)) {
    if (k in out && !u.ok(out[k])) {
      throw new ArgumentError(`${where}: ${k}${u.torch !== k ? ` (PyTorch's ${u.torch})` : ''} = ${JSON.stringify(out[k]) ?? String(out[k])} is not supported${u.hint ? `: ${u.hint}` : ''}`);
    }
    delete out[k];
  }
  return out as T;
}

/** Throws unless `v` is undefined or a boolean. */
export function checkBool(v: unknown, name: string, where: string): void {
  if (v !== undefined && typeof v !== 'boolean') throw new ArgumentError(`${where}: ${name} must be true or false, got ${JSON.stringify(v) ?? String(v)}`);
}

/** Throws unless `v` is undefined or a finite number within [min, max]. */
export function checkNumber(v: unknown, name: string, where: string, min = -Infinity, max = Infinity): void {
  if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max)) {
    const range = min === -Infinity && max === Infinity ? 'a number' : max === Infinity ? `a number ≥ ${min}` : `a number in [${min}, ${max}]`;
    throw new ArgumentError(`${where}: ${name} must be ${range}, got ${JSON.stringify(v) ?? String(v)}`);
  }
}

/** Throws unless `v` is a non-negative (or, with `positive`, positive) integer. */
export function checkCount(v: unknown, name: string, where: string, positive = true): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (positive ? 1 : 0)) {
    throw new ArgumentError(`${where}: ${name} must be a ${positive ? 'positive' : 'non-negative'} integer, got ${JSON.stringify(v) ?? String(v)}`);
  }
}
