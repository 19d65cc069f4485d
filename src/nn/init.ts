/**
 * nn.init: in-place initialisers with PyTorch's fan rules and gains (torch.nn.init).
 *
 * fan_in = shape[1]·receptive, fan_out = shape[0]·receptive, receptive = Π shape[2:];
 * a tensor with fewer than 2 dims has no fans. All functions run without recording a graph.
 *
 * The optional arguments go positionally in PyTorch's order or in an options object, as
 * PyTorch's keywords: `kaimingUniform_(w, Math.sqrt(5))` = `kaimingUniform_(w, { a: Math.sqrt(5) })`,
 * `normal_(w, { std: 0.02 })` = `normal_(w, 0, 0.02)`.
 */
import { callOptions, checkNumber } from '../options.js';
import { ArgumentError } from '../errors.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Tensor } from '../tensor/tensor.js';
import { defaultGenerator, type Generator } from '../tensor/random.js';
import { erf } from '../math.js';

/** Resolves positional-or-options arguments and checks the numeric ones. */
function args<T extends object>(where: string, rest: unknown[], names: readonly string[], numeric: readonly string[]): T {
  const o = callOptions<Record<string, unknown>>(`init.${where}`, rest, names, names);
  for (const k of numeric) checkNumber(o[k], k, `init.${where}`);
  if (o.generator !== undefined && !(o.generator instanceof Object && typeof (o.generator as Generator).nextDouble === 'function')) {
    throw new ArgumentError(`init.${where}: generator must be a Generator, got ${JSON.stringify(o.generator) ?? typeof o.generator}`);
  }
  return o as T;
}

function checkTensor(t: unknown, where: string): void {
  if (!(t instanceof Tensor)) throw new ArgumentError(`init.${where}: expected a tensor to fill, got ${t === null ? 'null' : typeof t}`);
}

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** The recommended gain for a nonlinearity (param is leaky_relu's negative slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d':
    case 'conv_transpose1d': case 'conv_transpose2d': case 'conv_transpose3d': case 'sigmoid':
      return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu': return 3 / 4;
    default: throw new ArgumentError(`calculateGain: unsupported nonlinearity ${JSON.stringify(nonlinearity)}`);
  }
}

export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  if (t.ndim < 2) {
    throw new ArgumentError(`init: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape [${t.shape.join(',')}])`);
  }
  const receptive = t.shape.slice(2).reduce((p, s) => p * s, 1);
  return [t.shape[1] * receptive, t.shape[0] * receptive];
}

function fan(t: Tensor, mode: 'fan_in' | 'fan_out'): number {
  const [fi, fo] = calculateFanInAndFanOut(t);
  return mode === 'fan_in' ? fi : fo;
}

/** U(a, b). */
export function uniform_(t: Tensor, a?: number, b?: number, generator?: Generator): Tensor;
export function uniform_(t: Tensor, opts: { a?: number; b?: number; generator?: Generator }): Tensor;
export function uniform_(t: Tensor, ...rest: unknown[]): Tensor {
  checkTensor(t, 'uniform_');
  const { a = 0, b = 1, generator } = args<{ a?: number; b?: number; generator?: Generator }>('uniform_', rest, ['a', 'b', 'generator'], ['a', 'b']);
  return noGrad(() => t.uniform_(a, b, generator));
}

/** N(mean, std²). */
export function normal_(t: Tensor, mean?: number, std?: number, generator?: Generator): Tensor;
export function normal_(t: Tensor, opts: { mean?: number; std?: number; generator?: Generator }): Tensor;
export function normal_(t: Tensor, ...rest: unknown[]): Tensor {
  checkTensor(t, 'normal_');
  const { mean = 0, std = 1, generator } = args<{ mean?: number; std?: number; generator?: Generator }>('normal_', rest, ['mean', 'std', 'generator'], ['mean', 'std']);
  return noGrad(() => t.normal_(mean, std, generator));
}

export function constant_(t: Tensor, value: number): Tensor {
  checkTensor(t, 'constant_');
  checkNumber(value, 'value', 'init.constant_');
  if (value === undefined) throw new ArgumentError('init.constant_: value is required');
  return noGrad(() => t.fill_(value));
}

export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** U(−b, b) with b = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio 2010). */
export function xavierUniform_(t: Tensor, gain?: number, generator?: Generator): Tensor;
export function xavierUniform_(t: Tensor, opts: { gain?: number; generator?: Generator }): Tensor;
export function xavierUniform_(t: Tensor, ...rest: unknown[]): Tensor {
  checkTensor(t, 'xavierUniform_');
  const { gain = 1, generator } = args<{ gain?: number; generator?: Generator }>('xavierUniform_', rest, ['gain', 'generator'], ['gain']);
  const [fi, fo] = calculateFanInAndFanOut(t);
  const bound = gain * Math.sqrt(6 / (fi + fo));
  return uniform_(t, -bound, bound, generator);
}

/** N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out)). */
export function xavierNormal_(t: Tensor, gain?: number, generator?: Generator): Tensor;
export function xavierNormal_(t: Tensor, opts: { gain?: number; generator?: Generator }): Tensor;
export function xavierNormal_(t: Tensor, ...rest: unknown[]): Tensor {
  checkTensor(t, 'xavierNormal_');
  const { gain = 1, generator } = args<{ gain?: number; generator?: Generator }>('xavierNormal_', rest, ['gain', 'generator'], ['gain']);
  const [fi, fo] = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fi + fo)), generator);
}

export interface KaimingOptions {
  /** Negative slope of the leaky_relu after this layer (only for 'leaky_relu'). Default 0. */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}

function kaimingArgs(where: string, rest: unknown[]): KaimingOptions {
  const o = args<KaimingOptions>(where, rest, ['a', 'mode', 'nonlinearity', 'generator'], ['a']);
  if (o.mode !== undefined && o.mode !== 'fan_in' && o.mode !== 'fan_out') throw new ArgumentError(`init.${where}: mode must be 'fan_in' or 'fan_out', got ${JSON.stringify(o.mode)}`);
  return o;
}

/**
 * U(−b, b) with b = gain·√(3 / fan) (He et al. 2015). nn.Linear uses a = √5, which makes
 * b = 1/√fan_in.
 */
export function kaimingUniform_(t: Tensor, opts?: KaimingOptions): Tensor;
export function kaimingUniform_(t: Tensor, a: number, mode?: 'fan_in' | 'fan_out', nonlinearity?: Nonlinearity, generator?: Generator): Tensor;
export function kaimingUniform_(t: Tensor, ...rest: unknown[]): Tensor {
  checkTensor(t, 'kaimingUniform_');
  const { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu', generator } = kaimingArgs('kaimingUniform_', rest);
  const std = calculateGain(nonlinearity, a) / Math.sqrt(fan(t, mode));
  const bound = Math.sqrt(3) * std;
  return uniform_(t, -bound, bound, generator);
}

/** N(0, σ²) with σ = gain / √fan. */
export function kaimingNormal_(t: Tensor, opts?: KaimingOptions): Tensor;
export function kaimingNormal_(t: Tensor, a: number, mode?: 'fan_in' | 'fan_out', nonlinearity?: Nonlinearity, generator?: Generator): Tensor;
export function kaimingNormal_(t: Tensor, ...rest: unknown[]): Tensor {
  checkTensor(t, 'kaimingNormal_');
  const { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu', generator } = kaimingArgs('kaimingNormal_', rest);
  return normal_(t, 0, calculateGain(nonlinearity, a) / Math.sqrt(fan(t, mode)), generator);
}

const Phi = (x: number): number => 0.5 * (1 + erf(x / Math.SQRT2));

/**
 * N(mean, std²) truncated to [a, b] (absolute bounds, as in PyTorch): rejection when the
 * interval holds a fair share of the mass, inverse CDF by bisection otherwise.
 */
export function truncNormal_(t: Tensor, mean?: number, std?: number, a?: number, b?: number, generator?: Generator): Tensor;
export function truncNormal_(t: Tensor, opts: { mean?: number; std?: number; a?: number; b?: number; generator?: Generator }): Tensor;
export function truncNormal_(t: Tensor, ...rest: unknown[]): Tensor {
  checkTensor(t, 'truncNormal_');
  const { mean = 0, std = 1, a = -2, b = 2, generator } = args<{ mean?: number; std?: number; a?: number; b?: number; generator?: Generator }>(
    'truncNormal_', rest, ['mean', 'std', 'a', 'b', 'generator'], ['mean', 'std', 'a', 'b'],
  );
  if (!(a < b)) throw new ArgumentError(`truncNormal_: need a < b, got a=${a}, b=${b}`);
  const g = generator ?? defaultGenerator;
  const lo = (a - mean) / std, hi = (b - mean) / std;
  const pLo = Phi(lo), pHi = Phi(hi);
  const values = new Float64Array(t.numel());
  for (let i = 0; i < values.length; i++) {
    let z: number;
    if (pHi - pLo > 0.05) {
      do z = g.nextNormal(); while (z < lo || z > hi);
    } else {
      const u = pLo + (pHi - pLo) * g.nextDouble();
      let x0 = lo, x1 = hi;
      for (let k = 0; k < 80; k++) {
        const mid = 0.5 * (x0 + x1);
        if (Phi(mid) < u) x0 = mid; else x1 = mid;
      }
      z = 0.5 * (x0 + x1);
    }
    values[i] = Math.min(Math.max(mean + std * z, a), b);
  }
  return noGrad(() => t.copy_(Tensor.fromTypedArray(values, t.shape, 'float64')));
}
