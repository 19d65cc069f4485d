/**
 * Rotary position embeddings (RoFormer, Su et al. 2021), in GPT-NeoX's rotate-half form, as
 * nn.Attention applies them to q and k.
 *
 * With R rotating features (R ≤ D, even), θ_j = base^(−2j/R) for j < R/2, and the first R
 * features of a head split in halves (x₁, x₂), position p maps
 *   x ↦ (x₁ cos pθ − x₂ sin pθ, x₂ cos pθ + x₁ sin pθ)
 * and features R… pass through unchanged.
 */
import { ArgumentError } from '../errors.js';
import { checkOptions } from '../options.js';
import { Tensor } from '../tensor/tensor.js';
import { cat } from '../ops/shape.js';

export interface RotaryOptions {
  /** Rotating features per head R (even, ≤ D): NeoX's rotary_pct · D. */
  dims: number;
  /** Frequency base. Default 10000. */
  base?: number;
}

export type ResolvedRotary = Required<RotaryOptions>;

/** Checks a rotary config against the head size D and fills in the base. */
export function resolveRotary(rotary: RotaryOptions, dimHead: number, where: string): ResolvedRotary {
  const { dims, base = 10000 } = checkOptions(rotary, ['dims', 'base'], `${where} rotary`);
  if (!Number.isInteger(dims) || dims <= 0 || dims % 2 !== 0 || dims > dimHead) {
    throw new ArgumentError(`${where}: rotary.dims must be an even integer in [2, dimHead = ${dimHead}], got ${dims}`);
  }
  if (!(base > 0)) throw new ArgumentError(`${where}: rotary.base must be positive, got ${base}`);
  return { dims, base };
}

/**
 * x (B, H, T, D) at positions past … past+T−1, rotated on its first `dims` features.
 * Differentiable in x (the cos/sin table is a constant).
 */
export function applyRotary(x: Tensor, past: number, rotary: ResolvedRotary): Tensor {
  const { dims: R, base } = rotary;
  const T = x.shape[2], D = x.shape[3];
  const table = new Float64Array(T * R * 2);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < R / 2; j++) {
      const angle = (past + t) * Math.pow(base, (-2 * j) / R);
      for (const half of [0, R / 2]) {
        table[t * R + j + half] = Math.cos(angle);
        table[T * R + t * R + j + half] = Math.sin(angle);
      }
    }
  }
  const trig = Tensor.fromTypedArray(table, [2, T, R], 'float64').to(x.dtype);
  const cos = trig.select(0, 0), sin = trig.select(0, 1); // (T, R)
  const xr = x.narrow(-1, 0, R);
  const rotated = cat([xr.narrow(-1, R / 2, R / 2).neg(), xr.narrow(-1, 0, R / 2)], -1); // rotate_half
  const out = xr.mul(cos).add(rotated.mul(sin));
  return R === D ? out : cat([out, x.narrow(-1, R, D - R)], -1);
}
