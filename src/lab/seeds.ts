/**
 * Figures over seeds, and the rule by which a verdict may call an effect.
 *
 * Every figure a verdict uses is kept per seed (`seeds` in results.json) and reported as its
 * median and range; every comparison is "A < B in k of N seeds". A claim calls an effect only
 * when it holds in all N seeds, or when the 95% confidence interval of the mean per-seed
 * difference (Student's t) excludes zero; otherwise its outcome is 'noise' and its text says
 * "within seed noise". `recomputeClaim` applies the same rule to the stored per-seed values, so a
 * reader (and the lab's tests) can check each verdict from results.json alone.
 *
 * A value of null means "never happened" (e.g. a loss threshold not reached within the run): it
 * counts as larger than any number, and two nulls tie.
 */

export type SeedValue = number | null;

export interface Stat {
  median: number | null;
  min: number | null;
  max: number | null;
  n: number;
}

const key = (v: SeedValue): number => (v === null ? Infinity : v);

/** Median and range; null (never happened) sorts above every number. */
export function stat(xs: readonly SeedValue[]): Stat {
  const s = xs.map(key).sort((a, b) => a - b);
  if (s.length === 0) return { median: null, min: null, max: null, n: 0 };
  const m = s.length >> 1;
  const med = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  const fin = (v: number) => (Number.isFinite(v) ? v : null);
  return { median: fin(med), min: fin(s[0]), max: fin(s[s.length - 1]), n: s.length };
}

/** Linear-interpolated quantile q ∈ [0, 1] of finite values. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const p = q * (s.length - 1), lo = Math.floor(p), hi = Math.ceil(p);
  return s[lo] + (s[hi] - s[lo]) * (p - lo);
}

/**
 * Two sets of wall times: the ratio of medians b/a, and whether they are within noise — their
 * interquartile ranges overlap (on a shared machine the full ranges nearly always do).
 */
export function compareTimes(a: readonly number[], b: readonly number[]): { ratio: number; withinNoise: boolean; iqrA: [number, number]; iqrB: [number, number] } {
  const iqrA: [number, number] = [quantile(a, 0.25), quantile(a, 0.75)], iqrB: [number, number] = [quantile(b, 0.25), quantile(b, 0.75)];
  return { ratio: quantile(b, 0.5) / quantile(a, 0.5), withinNoise: iqrA[0] <= iqrB[1] && iqrB[0] <= iqrA[1], iqrA, iqrB };
}

/** "12.3 ms (IQR 11.9–13.0)". */
export function fmtTime(xs: readonly number[]): string {
  return `${num(quantile(xs, 0.5))} ms (IQR ${num(quantile(xs, 0.25))}–${num(quantile(xs, 0.75))})`;
}

/** Significant digits for report text. */
export function num(x: number | null, digits = 3): string {
  if (x === null) return 'never';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (Number.isInteger(x) && a < 1e6) return String(x);
  if (a < 1e-3 || a >= 1e6) return x.toExponential(1);
  return a >= 100 ? x.toFixed(0) : String(Number(x.toPrecision(digits)));
}

/** "0.123 (0.11–0.13)": median (range) over seeds; `never` for a null median. */
export function fmtStat(xs: readonly SeedValue[], digits = 3, unit = ''): string {
  const s = stat(xs);
  if (s.n === 1) return `${num(s.median, digits)}${unit}`;
  if (s.n > 1 && s.min === null) return 'never (every seed)';
  if (s.min !== null && num(s.min, digits) === num(s.max, digits)) return `${num(s.median, digits)}${unit} (every seed)`;
  return `${num(s.median, digits)}${unit} (${num(s.min, digits)}–${num(s.max, digits)})`;
}

/** Two-sided 95% Student t quantiles by degrees of freedom (1…30); 1.96 beyond. */
const T95 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];
export const t95 = (df: number): number => (df < 1 ? NaN : df < T95.length ? T95[df] : 1.96);

/** 'equal': identical in every seed (no difference at all, so no effect either). */
export type Outcome = 'a<b' | 'a>b' | 'equal' | 'noise';

export interface Claim {
  /** Stable name, e.g. 'original.tiedFirst'. */
  id: string;
  /** Per-seed values compared: seeds[a] against seeds[b], or against the constant b. */
  a: string;
  b: string | number;
  labelA: string;
  labelB: string;
  /** Seeds where a < b, where a > b, and in all. */
  less: number;
  greater: number;
  n: number;
  /** Per-seed a − b: median and range (null when a "never" is involved). */
  diff: Stat;
  /** 95% CI of the mean a − b (null with fewer than 2 seeds or a "never"). */
  ci95: [number, number] | null;
  outcome: Outcome;
  /** The sentence the verdict quotes: "A < B in k of N seeds (…)" or "… within seed noise". */
  text: string;
}

/** The rule, from per-seed values alone (what the tests re-apply to results.json). */
export function decide(a: readonly SeedValue[], b: readonly SeedValue[] | number): Pick<Claim, 'less' | 'greater' | 'n' | 'diff' | 'ci95' | 'outcome'> {
  const bs = typeof b === 'number' ? a.map(() => b) : b;
  if (bs.length !== a.length) throw new RangeError(`claim: ${a.length} values against ${bs.length}`);
  let less = 0, greater = 0;
  const d: SeedValue[] = [];
  let finite = true;
  a.forEach((x, i) => {
    const ka = key(x), kb = key(bs[i]);
    if (ka < kb) less++;
    else if (ka > kb) greater++;
    if (Number.isFinite(ka) && Number.isFinite(kb)) d.push(ka - kb);
    else if (ka === kb) d.push(0);
    else { finite = false; d.push(ka < kb ? -Infinity : Infinity); }
  });
  const n = a.length;
  let ci95: [number, number] | null = null;
  if (finite && n >= 2) {
    const xs = d as number[];
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
    const h = t95(n - 1) * sd / Math.sqrt(n);
    ci95 = [mean - h, mean + h];
  }
  const ds = d.map((x) => (Number.isFinite(x as number) ? x : null));
  const outcome: Outcome = n > 0 && less === 0 && greater === 0 ? 'equal'
    : n > 0 && (less === n || (ci95 !== null && ci95[1] < 0)) ? 'a<b'
    : n > 0 && (greater === n || (ci95 !== null && ci95[0] > 0)) ? 'a>b' : 'noise';
  return { less, greater, n, diff: finite ? stat(ds) : { median: null, min: null, max: null, n }, ci95, outcome };
}

/**
 * Compares per-seed figures a and b (a key of `seeds`, and a key or a constant) and phrases the
 * result. `unit` is appended to differences.
 */
export function claim(
  id: string, seeds: Record<string, readonly SeedValue[]>, a: string, b: string | number,
  labelA: string, labelB: string, opts: { unit?: string; digits?: number } = {},
): Claim {
  const va = seeds[a];
  if (!va) throw new RangeError(`claim ${id}: no per-seed values named ${JSON.stringify(a)}`);
  const vb = typeof b === 'number' ? b : seeds[b];
  if (vb === undefined) throw new RangeError(`claim ${id}: no per-seed values named ${JSON.stringify(b)}`);
  const r = decide(va, vb);
  const u = opts.unit ?? '', dg = opts.digits ?? 3;
  const diffText = r.diff.median === null || typeof b === 'number' ? ''
    : r.n === 1 ? `; difference ${num(r.diff.median, dg)}${u}`
    : `; difference ${num(r.diff.median, dg)}${u} median, ${num(r.diff.min, dg)} to ${num(r.diff.max, dg)}${u}`;
  const ties = r.n - r.less - r.greater;
  const tied = ties ? ` (${ties} tied)` : '';
  const ci = ' — the 95% interval of the mean difference excludes zero';
  const text = r.outcome === 'equal' ? `${labelA} = ${labelB} in all ${r.n} seeds (identical)`
    : r.outcome === 'a>b' ? `${labelA} > ${labelB} in ${r.greater} of ${r.n} seeds${tied}${diffText}${r.greater < r.n ? ci : ''}`
    : r.outcome === 'a<b' ? `${labelA} < ${labelB} in ${r.less} of ${r.n} seeds${tied}${diffText}${r.less < r.n ? ci : ''}`
    : `${labelA} < ${labelB} in ${r.less} of ${r.n} seeds${tied}${diffText} — within seed noise`;
  return { id, a, b, labelA, labelB, ...r, text };
}

/** Picks the phrase for a claim's outcome ('equal' uses `equal`, or else `noise`: no effect either way). */
export function says(c: Claim, phrases: { less: string; greater: string; noise: string; equal?: string }): string {
  return c.outcome === 'a<b' ? phrases.less : c.outcome === 'a>b' ? phrases.greater : c.outcome === 'equal' ? phrases.equal ?? phrases.noise : phrases.noise;
}

/** The seeds a lab run uses: base, base + 1, …, base + n − 1. */
export const seedList = (base: number, n: number): number[] => Array.from({ length: n }, (_, i) => base + i);

/** Element-wise median, min and max of per-seed curves sampled at the same steps (a seed band). */
export function band(curves: readonly (readonly number[])[]): { median: number[]; lo: number[]; hi: number[] } {
  const len = Math.min(...curves.map((c) => c.length));
  const median: number[] = [], lo: number[] = [], hi: number[] = [];
  for (let i = 0; i < len; i++) {
    const s = stat(curves.map((c) => c[i]));
    median.push(s.median ?? NaN);
    lo.push(s.min ?? NaN);
    hi.push(s.max ?? NaN);
  }
  return { median, lo, hi };
}

/**
 * Re-applies the rule to an experiment's stored per-seed values (as read back from
 * results.json) and returns what disagrees: an outcome the seeds do not give, counts that differ,
 * wording that does not match the outcome, or a claim the verdict does not quote. Empty when
 * every claim stands.
 */
export function recheckClaims(e: { name: string; verdict: string; asAsked: { judgement: string }; seeds: Record<string, readonly SeedValue[]>; claims: readonly Claim[] }): string[] {
  const problems: string[] = [];
  for (const c of e.claims) {
    const where = `${e.name}/${c.id}`;
    const a = e.seeds[c.a];
    const b = typeof c.b === 'number' ? c.b : e.seeds[c.b];
    if (!a || b === undefined) { problems.push(`${where}: per-seed values ${JSON.stringify(c.a)} or ${JSON.stringify(c.b)} missing`); continue; }
    const r = decide(a, b);
    if (r.outcome !== c.outcome) problems.push(`${where}: the seeds give ${r.outcome}, the claim says ${c.outcome}`);
    if (r.less !== c.less || r.greater !== c.greater || r.n !== c.n) problems.push(`${where}: counts ${r.less}/${r.greater}/${r.n} recomputed, ${c.less}/${c.greater}/${c.n} stored`);
    const want = r.outcome === 'noise' ? 'within seed noise' : r.outcome === 'equal' ? `in all ${r.n} seeds (identical)`
      : r.outcome === 'a<b' ? `< ${c.labelB} in ${r.less} of ${r.n} seeds` : `> ${c.labelB} in ${r.greater} of ${r.n} seeds`;
    if (!c.text.includes(want)) problems.push(`${where}: text ${JSON.stringify(c.text)} lacks ${JSON.stringify(want)}`);
    if (r.outcome !== 'noise' && c.text.includes('within seed noise')) problems.push(`${where}: says "within seed noise" for an outcome of ${r.outcome}`);
    if (!e.verdict.includes(c.text) && !e.asAsked.judgement.includes(c.text)) problems.push(`${where}: the verdict does not quote the claim`);
  }
  return problems;
}
