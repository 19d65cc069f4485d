/**
 * deepCopy: an independent copy of a module (copy.deepcopy in PyTorch), used by
 * TransformerEncoder to stamp out identical layers. Tensors are cloned; a tensor or module
 * reachable twice (a tied weight) is copied once, so ties inside the copy are kept.
 */
import { Tensor } from '../tensor/tensor.js';
import { Parameter } from './parameter.js';
import { Module, wrapModule } from './module.js';

export function deepCopy<T>(value: T, memo = new Map<unknown, unknown>()): T {
  if (value === null || typeof value !== 'object') return value;
  if (memo.has(value)) return memo.get(value) as T;
  let copy: unknown;
  if (value instanceof Parameter) {
    copy = new Parameter(value.detach().clone(), value.requiresGrad);
  } else if (value instanceof Tensor) {
    const t = value.detach().clone();
    if (value.requiresGrad) t.requiresGrad_(true);
    copy = t;
  } else if (value instanceof Map) {
    const m = new Map();
    memo.set(value, m);
    for (const [k, v] of value) m.set(k, deepCopy(v, memo));
    return m as T;
  } else if (value instanceof Set) {
    const s = new Set();
    memo.set(value, s);
    for (const v of value) s.add(deepCopy(v, memo));
    return s as T;
  } else if (Array.isArray(value)) {
    const a: unknown[] = [];
    memo.set(value, a);
    for (const v of value) a.push(deepCopy(v, memo));
    return a as T;
  } else if (value instanceof Module || Object.getPrototypeOf(value) === Object.prototype) {
    // A module copy is wrapped in the registering proxy like any module; its properties are
    // defined on the object behind it, then its accessors are pointed at its own registries.
    const raw = Object.create(Object.getPrototypeOf(value));
    const o = value instanceof Module ? wrapModule(raw as Module) : raw;
    memo.set(value, o);
    for (const [key, desc] of Object.entries(Object.getOwnPropertyDescriptors(value))) {
      if ('value' in desc) desc.value = deepCopy(desc.value, memo);
      Object.defineProperty(raw, key, desc);
    }
    if (o instanceof Module) o.relinkAccessors();
    return o as T;
  } else {
    return value; // generators, typed arrays held by tensors' storage (copied above), …
  }
  memo.set(value, copy);
  return copy as T;
}
