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
