/** Whether ops record a graph. Off inside `noGrad`, e.g. for optimizer steps and evaluation. */
import { ArgumentError } from '../errors.js';

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

export function setGradEnabled(on: boolean): void {
  enabled = on;
}

function scoped<T>(on: boolean, fn: () => T, name: string): T {
  const prev = enabled;
  enabled = on;
  let result: T;
  try {
    result = fn();
  } finally {
    enabled = prev;
  }
  if (result instanceof Promise) {
    throw new ArgumentError(`${name}: the function returned a Promise; ${name} scopes synchronous code only (await inside it would run with the outer grad mode)`);
  }
  return result;
}

/**
 * Runs `fn` without recording a graph (torch.no_grad): results do not require grad, and
 * in-place updates of parameters are allowed.
 *
 * Example: `noGrad(() => w.sub_(w.grad!.mul(lr)))`
 */
export function noGrad<T>(fn: () => T): T {
  return scoped(false, fn, 'noGrad');
}

/** Runs `fn` with graph recording on, even inside `noGrad` (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return scoped(true, fn, 'enableGrad');
}
