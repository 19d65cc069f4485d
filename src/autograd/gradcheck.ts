/**
 * Finite-difference gradient check (torch.autograd.gradcheck, in float64).
 *
 * For a random projection v of the output, the analytic gradient of Σ v·f(x) from backward is
 * compared with central differences (f(x+εeᵢ) − f(x−εeᵢ)) / 2ε for every element of every input
 * that requires grad. Inputs should be float64 so that ε can be small.
 */
import { AutogradError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { noGrad } from './grad-mode.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  seed?: number;
  /** Throw an AutogradError on mismatch (default), or just report. */
  raise?: boolean;
}

export interface GradcheckResult {
  ok: boolean;
  /** Largest |analytic − numeric| over all checked elements. */
  maxAbsError: number;
  /** First mismatch, if any: input index, flat element index, both values. */
  mismatch: { input: number; element: number; analytic: number; numeric: number } | null;
}

export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, seed = 0, raise = true } = opts;
  const out0 = fn(...inputs);
  const gen = new Generator(seed);
  const v = out0.detach().zerosLike().to('float64');
  const vd = v.storage.data;
  for (let i = 0; i < vd.length; i++) vd[i] = gen.nextNormal();
  const project = (out: Tensor): number => out.to('float64').mul(v).sum().item();

  for (const x of inputs) x.grad = null;
  out0.to('float64').mul(v).sum().backward();
  const analytic = inputs.map((x) => (x.requiresGrad ? (x.grad ? x.grad.toFlat() : new Float64Array(x.numel())) : null));

  let maxAbsError = 0;
  let mismatch: GradcheckResult['mismatch'] = null;
  noGrad(() => {
    inputs.forEach((x, k) => {
      const a = analytic[k];
      if (a === null) return;
      const data = x.storage.data;
      for (let i = 0; i < x.numel(); i++) {
        // Storage offset of the i-th element in row-major logical order.
        let off = x.offset, rem = i;
        for (let d = x.ndim - 1; d >= 0; d--) {
          off += (rem % x.shape[d]) * x.strides[d];
          rem = Math.floor(rem / x.shape[d]);
        }
        const orig = data[off];
        data[off] = orig + eps;
        const fp = project(fn(...inputs));
        data[off] = orig - eps;
        const fm = project(fn(...inputs));
        data[off] = orig;
        const numeric = (fp - fm) / (2 * eps);
        const err = Math.abs(a[i] - numeric);
        maxAbsError = Math.max(maxAbsError, err);
        if (mismatch === null && !(err <= atol + rtol * Math.abs(numeric))) {
          mismatch = { input: k, element: i, analytic: a[i], numeric };
        }
      }
    });
  });
  const result: GradcheckResult = { ok: mismatch === null, maxAbsError, mismatch };
  if (!result.ok && raise) {
    const m = result.mismatch!;
    throw new AutogradError(
      `gradcheck: gradient mismatch for input ${m.input} (shape ${fmtShape(inputs[m.input].shape)}) at element ${m.element}: analytic ${m.analytic}, numeric ${m.numeric}`,
    );
  }
  return result;
}
