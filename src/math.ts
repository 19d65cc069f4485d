/**
 * Scalar math that JavaScript lacks, in float64: erf/erfc, GELU and its derivative, sigmoid,
 * round-half-even. Neutral (no imports): the reference kernels and nn.init both use it.
 *
 * erf uses the all-positive series erf(x) = 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)) for |x| < 2.5
 * (no cancellation), and the continued fraction of erfc for larger |x|, so both erf and erfc keep
 * full relative precision in the tails — GELU of a large negative input is a tiny number that a
 * 1e-7-absolute approximation would get wrong by orders of magnitude.
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);
const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc(x) for x ≥ 2.5 by the continued fraction x + (1/2)/(x + 1/(x + (3/2)/(x + …))), evaluated backwards. */
function erfcFraction(x: number): number {
  let f = x;
  for (let k = 60; k >= 1; k--) f = x + k / 2 / f;
  return (INV_SQRT_PI * Math.exp(-x * x)) / f;
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  const r = a < 2.5 ? erfSeries(a) : 1 - erfcFraction(a);
  return x < 0 ? -r : r;
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 2.5) return erfcFraction(x);
  if (x <= -2.5) return 2 - erfcFraction(-x);
  return 1 - (x < 0 ? -erfSeries(-x) : erfSeries(x));
}

/** Exact GELU: x·Φ(x) = ½·x·erfc(−x/√2). */
export function gelu(x: number): number {
  return 0.5 * x * erfc(-x * SQRT1_2);
}

/** d/dx of exact GELU: Φ(x) + x·φ(x). */
export function geluGrad(x: number): number {
  return 0.5 * erfc(-x * SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** GELU, tanh approximation: ½·x·(1 + tanh(√(2/π)·(x + 0.044715x³))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

export function geluTanhGrad(x: number): number {
  const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Round half to even, as torch.round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
