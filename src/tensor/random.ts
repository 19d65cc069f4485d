/**
 * Seeded random numbers: xoshiro128** (a small, fast, well-tested generator on 32-bit integer
 * math) seeded through splitmix32, so a seed gives the same stream on every run and machine.
 * The whole state is five numbers (plus a cached normal), saved and restored exactly.
 *
 * Streams are not bit-identical with PyTorch's mt19937 (not a goal: parity is tested by loading
 * the same weights); distributions are the same.
 */
import { ArgumentError } from '../errors.js';

/** PyTorch's default seed, so an unseeded process is still reproducible. */
const DEFAULT_SEED = 67280421310721;

export interface RngState {
  seed: number;
  s: [number, number, number, number];
  /** The second normal of the last Box–Muller pair, or null. */
  spare: number | null;
}

export class Generator {
  private s = new Uint32Array(4);
  private spare: number | null = null;
  private initialSeed = 0;

  constructor(seed = DEFAULT_SEED) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new ArgumentError(`manualSeed: seed must be a non-negative safe integer, got ${seed}`);
    }
    this.initialSeed = seed;
    // splitmix32 over both 32-bit halves of the seed fills the state (never all zero).
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b1);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    this.spare = null;
    return this;
  }

  seed(): number {
    return this.initialSeed;
  }

  getState(): RngState {
    return { seed: this.initialSeed, s: [this.s[0], this.s[1], this.s[2], this.s[3]], spare: this.spare };
  }

  setState(state: RngState): void {
    const ok = state && Array.isArray(state.s) && state.s.length === 4 && state.s.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32);
    if (!ok || state.s.every((v) => v === 0)) throw new ArgumentError('setRngState: not a valid generator state (expected { seed, s: [4 × uint32, not all zero], spare })');
    this.initialSeed = state.seed;
    this.s.set(state.s);
    this.spare = state.spare;
  }

  /** Next uniform 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5, lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal by Box–Muller (the pair's second value is kept for the next call). */
  nextNormal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.nextDouble();
    const v = this.nextDouble();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Uniform integer in [low, high). */
  nextInt(low: number, high: number): number {
    return low + Math.floor(this.nextDouble() * (high - low));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The process-wide generator used when none is passed. */
export const defaultGenerator = new Generator();

/** Seeds the default generator (torch.manual_seed). */
export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed);
}

/** A copy of the default generator's state (torch.get_rng_state). */
export function getRngState(): RngState {
  return defaultGenerator.getState();
}

/** Restores the default generator's state (torch.set_rng_state). */
export function setRngState(state: RngState): void {
  defaultGenerator.setState(state);
}
