/**
 * Diagnostics for `qkv doctor`: one finding per check, each with a verdict.
 *
 * - backend in use and CPU features;
 * - NaN/Inf in any parameter;
 * - init scale: each Linear weight's std against PyTorch's default U(±1/√fan_in) (std 1/√(3·fan_in)),
 *   merged W_QK against the product of two such draws; ≫ 1× is what randn init looks like;
 * - attention saturation on random tokens: pre-softmax logit std and normalised softmax entropy;
 * - LayerNorm over ≤ 2 features (the ±1 collapse of problem 3);
 * - packed-QKV layout: the model's declared layout against the one recorded with the weights;
 * - tying: a config that says tied with two separate parameters, or equal untied copies;
 * - tied init: the scale of a weight shared by an Embedding and a Linear against each module's usual
 *   init (which one survived the tie), flagged when it matches neither.
 */
import { noGrad } from '../autograd/grad-mode.js';
import type { Tensor } from '../tensor/tensor.js';
import { randint } from '../tensor/creation.js';
import { Generator } from '../tensor/random.js';
import { nativeStatus } from '../backend/index.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/linear.js';
import { Embedding } from '../nn/embedding.js';
import { LayerNorm } from '../nn/normalization.js';
import { Attention } from '../nn/attention.js';
import { GPT } from '../models/gpt.js';
import { checkOptions } from '../options.js';

export type Status = 'ok' | 'info' | 'warn' | 'fail';

export interface Finding {
  check: string;
  status: Status;
  /** The verdict, one sentence with the numbers. */
  message: string;
  /** Supporting lines (worst offenders, per-layer figures). */
  details?: string[];
}

export interface DiagnoseOptions {
  /** `__metadata__` of the weights file, if the model came from one. */
  metadata?: Record<string, string>;
  seed?: number;
}

const r = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

function std(t: Tensor): number {
  const a = t.toFlat();
  let s = 0, s2 = 0;
  for (let i = 0; i < a.length; i++) { s += a[i]; s2 += a[i] * a[i]; }
  const m = s / a.length;
  return Math.sqrt(Math.max(s2 / a.length - m * m, 0));
}

export function checkBackend(): Finding {
  const n = nativeStatus();
  const feats = Object.entries(n.cpuFeatures).filter(([, on]) => on).map(([f]) => f).join(', ') || 'none reported';
  if (n.loaded) {
    return { check: 'backend', status: 'ok', message: `native backend (${n.isa}, ${n.threads} thread${n.threads === 1 ? '' : 's'}) in use: ${n.active}; CPU features: ${feats}` };
  }
  return { check: 'backend', status: 'warn', message: `the native addon did not load, so qkv runs on the TypeScript reference backend (correct, much slower); CPU features: ${feats}`, details: [`reason: ${n.error ?? 'unknown'}`, `expected at ${n.path}; rebuild with \`npm rebuild qkv\` or \`npm install\``] };
}

export function checkFinite(model: Module): Finding {
  const bad: string[] = [];
  for (const [name, p] of model.namedParameters()) {
    const a = p.toFlat();
    let nan = 0, inf = 0;
    for (let i = 0; i < a.length; i++) {
      if (Number.isNaN(a[i])) nan++;
      else if (!Number.isFinite(a[i])) inf++;
    }
    if (nan || inf) bad.push(`${name}: ${nan} NaN, ${inf} Inf of ${a.length}`);
  }
  return bad.length
    ? { check: 'NaN/Inf', status: 'fail', message: `${bad.length} parameter tensor(s) hold NaN or Inf: the model's outputs are garbage`, details: bad }
    : { check: 'NaN/Inf', status: 'ok', message: `all ${model.parameters().length} parameter tensors are finite` };
}

export function checkInitScale(model: Module): Finding {
  const rows: { name: string; ratio: number; expected: number; actual: number }[] = [];
  for (const [name, m] of model.namedModules()) {
    if (m instanceof Linear) {
      const expected = 1 / Math.sqrt(3 * m.inFeatures);
      rows.push({ name: `${name}.weight`, expected, actual: std(m.weight), ratio: std(m.weight) / expected });
    } else if (m instanceof Attention && m.storage === 'merged-qk') {
      // Entries of W_Q W_Kᵀ with W ~ U(±1/√C): D products of variance (1/(3C))² each.
      const expected = Math.sqrt(m.dimHead) / (3 * m.dim);
      rows.push({ name: `${name}.W_QK`, expected, actual: std(m.W_QK), ratio: std(m.W_QK) / expected });
    }
  }
  if (rows.length === 0) return { check: 'init scale', status: 'info', message: 'no Linear weights to compare' };
  rows.sort((a, b) => b.ratio - a.ratio);
  const worst = rows[0];
  const details = rows.slice(0, 5).map((x) => `${x.name}: std ${r(x.actual)} = ${r(x.ratio)}× PyTorch's default ${r(x.expected)}`);
  if (worst.ratio > 4) {
    const n = rows.filter((x) => x.ratio > 4).length;
    return { check: 'init scale', status: 'fail', message: `${n} of ${rows.length} weight matrices are ${r(worst.ratio)}× (worst) larger in std than PyTorch's Linear init — what randn (std 1) init looks like; attention logits and activations blow up`, details };
  }
  if (worst.ratio > 2) return { check: 'init scale', status: 'warn', message: `the largest weight std is ${r(worst.ratio)}× PyTorch's Linear default (${worst.name})`, details };
  const lo = rows[rows.length - 1];
  return { check: 'init scale', status: 'ok', message: `all ${rows.length} weight matrices are within 2× of PyTorch's Linear init std or below (range ${r(lo.ratio)}× … ${r(worst.ratio)}×)`, details };
}

/** Runs the model on random input with the attention hooks recording, then judges saturation. */
export function checkAttention(model: Module, seed = 0): Finding {
  const attns = [...model.namedModules()].filter((e): e is [string, Attention] => e[1] instanceof Attention);
  if (attns.length === 0) return { check: 'attention', status: 'info', message: 'no nn.Attention modules' };
  if (!(model instanceof GPT)) return { check: 'attention', status: 'info', message: `${attns.length} attention module(s); saturation is measured for models.GPT only` };
  const stats: { name: string; logitStd: number; entropy: number }[] = [];
  const handles: { remove(): void }[] = [];
  for (const [name, a] of attns) {
    const rec = { name, logitStd: 0, entropy: 0 };
    stats.push(rec);
    handles.push(a.hook_attn_scores.registerForwardHook((_m, _x, out) => {
      const s = (out as Tensor).toFlat();
      const finite = Array.from(s as ArrayLike<number>).filter(Number.isFinite);
      const mean = finite.reduce((x, y) => x + y, 0) / finite.length;
      rec.logitStd = Math.sqrt(finite.reduce((x, y) => x + (y - mean) ** 2, 0) / finite.length);
    }));
    handles.push(a.hook_pattern.registerForwardHook((_m, _x, out) => {
      const p = out as Tensor;
      const S = p.shape[p.ndim - 1], T = p.shape[p.ndim - 2];
      const d = p.toFlat();
      let total = 0, rows = 0;
      for (let row = 0; row < d.length / S; row++) {
        const i = row % T;
        const n = S - T + i + 1; // keys this (causal) query may attend to
        if (n < 2) continue;
        let h = 0;
        for (let j = 0; j < S; j++) if (d[row * S + j] > 0) h -= d[row * S + j] * Math.log(d[row * S + j]);
        total += h / Math.log(n);
        rows++;
      }
      rec.entropy = total / Math.max(rows, 1);
    }));
  }
  try {
    const T = Math.min(model.config.blockSize, 32);
    const idx = randint(model.config.vocabSize, [4, T], { generator: new Generator(seed) });
    noGrad(() => model.forward(idx));
  } finally {
    for (const h of handles) h.remove();
  }
  const maxStd = Math.max(...stats.map((s) => s.logitStd));
  const minEnt = Math.min(...stats.map((s) => s.entropy));
  const details = stats.map((s) => `${s.name}: logit std ${r(s.logitStd)}, entropy ${r(s.entropy)} of uniform`);
  if (maxStd > 10 || minEnt < 0.2) {
    return { check: 'attention', status: 'fail', message: `attention is saturated on random tokens: logit std up to ${r(maxStd)} and softmax entropy down to ${r(minEnt)} of uniform — each query attends to ~one key and gradients through the softmax vanish`, details };
  }
  if (maxStd > 5 || minEnt < 0.4) return { check: 'attention', status: 'warn', message: `sharp attention on random tokens (logit std up to ${r(maxStd)}, entropy down to ${r(minEnt)} of uniform); fine for a trained model, suspicious at init`, details };
  return { check: 'attention', status: 'ok', message: `attention is not saturated on random tokens (logit std ≤ ${r(maxStd)}, entropy ≥ ${r(minEnt)} of uniform)`, details };
}

export function checkLayerNorms(model: Module): Finding {
  const small = [...model.namedModules()].filter((e): e is [string, LayerNorm] => e[1] instanceof LayerNorm && e[1].normalizedShape.reduce((a, b) => a * b, 1) <= 2);
  const n = [...model.modules()].filter((m) => m instanceof LayerNorm).length;
  if (small.length === 0) return { check: 'LayerNorm', status: n ? 'ok' : 'info', message: n ? `all ${n} LayerNorms normalise over ≥ 3 features` : 'no LayerNorm modules' };
  const features = small[0][1].normalizedShape.reduce((a, b) => a * b, 1);
  const postLN = model instanceof GPT && !model.config.normFirst;
  const what = features === 2
    ? 'over 2 features (x − mean)/std is always ±(1, −1): one degree of freedom, every token reduced to a sign'
    : 'over 1 feature the normalised value is always 0: the output is the bias alone';
  return {
    check: 'LayerNorm', status: 'fail',
    message: `${small.length} LayerNorm(s) normalise over only ${features} feature(s): ${what}${postLN ? '; with post-LN blocks this is the last op of every block, so the whole residual stream collapses' : ''}`,
    details: small.map(([name, m]) => `${name}: normalized_shape ${JSON.stringify(m.normalizedShape)}`),
  };
}

export function checkLayout(model: Module, metadata?: Record<string, string>): Finding {
  if (!(model instanceof GPT)) return { check: 'QKV layout', status: 'info', message: 'not a models.GPT: layout check skipped' };
  const declared = model.config.layout;
  const conv = declared === 'blocked' ? 'blocked [q | k | v] (nanoGPT, GPT-2, PyTorch MHA)' : 'head-interleaved (GPT-NeoX, Pythia)';
  const fused = model.config.attention === 'fused';
  const recorded = metadata?.['qkv.layout'];
  if (recorded && recorded !== declared) {
    return { check: 'QKV layout', status: 'fail', message: `the weights were saved as '${recorded}' but the model reads them as '${declared}': q, k and v per head would be silently wrong (problem 2); set the config's layout to '${recorded}' or convert the weights with convertPackedLayout` };
  }
  if (!fused) return { check: 'QKV layout', status: 'ok', message: `'${model.config.attention}' storage keeps q, k, v apart: no packing to misread` };
  return { check: 'QKV layout', status: 'ok', message: `fused q, k, v are split as ${conv}${recorded ? ', the layout recorded with the weights' : ' (no layout recorded with the weights to compare against)'}` };
}

export function checkTying(model: Module): Finding {
  if (!(model instanceof GPT)) return { check: 'tying', status: 'info', message: 'not a models.GPT: tying check skipped' };
  const e = model.wte.weight, h = model.lm_head.weight;
  const same = e === h;
  const equal = !same && e.shape.join() === h.shape.join() && noGrad(() => e.sub(h).abs().max().item()) === 0;
  if (model.config.tieWeights && !same) {
    return { check: 'tying', status: 'fail', message: `the config says tied, but transformer.wte.weight and lm_head.weight are separate parameters (silently untied${equal ? ', still equal for now' : ''}): they are counted twice and will drift apart in training` };
  }
  if (!model.config.tieWeights && equal) {
    return { check: 'tying', status: 'warn', message: 'wte and lm_head are separate parameters with identical values: a duplicated tie (counted twice, updated separately); use tieWeights to share one parameter' };
  }
  return same
    ? { check: 'tying', status: 'ok', message: `wte and lm_head share one parameter (${e.numel()} numbers counted once)` }
    : { check: 'tying', status: 'ok', message: 'wte and lm_head are untied, as configured' };
}

/**
 * A weight shared by an Embedding and a Linear keeps the init of the module it was taken from
 * (`nn.tie(target, source)`: the source's). Its std is compared with Embedding's N(0, 1), Linear's
 * U(±1/√d) (std 1/√(3d)) and, for models.GPT, the N(0, 0.02) it re-draws; within 2× of one
 * counts as a match. Matching none means something rescaled it after the tie — or training moved
 * it, which a trained checkpoint is expected to show.
 */
export function checkTiedInit(model: Module): Finding {
  const mods = [...model.namedModules()];
  const embs = mods.filter((e): e is [string, Embedding] => e[1] instanceof Embedding);
  const lins = mods.filter((e): e is [string, Linear] => e[1] instanceof Linear);
  const rows: string[] = [];
  let odd = 0;
  for (const [en, e] of embs) {
    for (const [ln, l] of lins) {
      if (e.weight !== l.weight) continue;
      const s = std(e.weight);
      const refs: [string, number][] = [['Embedding\'s N(0, 1)', 1], [`Linear's U(±1/√${l.inFeatures})`, 1 / Math.sqrt(3 * l.inFeatures)]];
      if (model instanceof GPT) refs.push(["the GPT init's N(0, 0.02)", 0.02]);
      const match = refs.find(([, v]) => s >= v / 2 && s <= v * 2);
      const pair = `${en || '(root)'}.weight ≡ ${ln || '(root)'}.weight`;
      if (match) rows.push(`${pair}: std ${r(s)}, the scale of ${match[0]}`);
      else {
        odd++;
        rows.push(`${pair}: std ${r(s)}, matching none of ${refs.map(([n, v]) => `${n} (std ${r(v)})`).join(', ')}`);
      }
    }
  }
  if (rows.length === 0) return { check: 'tied init', status: 'info', message: 'no weight is shared by an Embedding and a Linear' };
  if (odd) return { check: 'tied init', status: 'warn', message: `${odd} tied weight(s) match neither module's usual init in scale: rescaled after the tie, or trained away from it (expected for a trained checkpoint). Which init survives a tie decides how a small model starts (tie(target, source) keeps the source's)`, details: rows };
  return { check: 'tied init', status: 'ok', message: `${rows.length} tied weight(s) at a usual init scale (after training, the scale reflects training rather than the init)`, details: rows };
}

/** Every check, in the order `qkv doctor` prints them. */
export function diagnose(model: Module, opts: DiagnoseOptions = {}): Finding[] {
  checkOptions(opts, ['metadata', 'seed'], 'diagnose');
  return [checkBackend(), checkFinite(model), checkInitScale(model), checkAttention(model, opts.seed ?? 0), checkLayerNorms(model), checkLayout(model, opts.metadata), checkTying(model), checkTiedInit(model)];
}

/**
 * For weights about to be loaded into a tied model: the file must hold one matrix for the tied
 * pair (a declared tie, or two equal copies). Two different matrices would be silently merged
 * (the last one loaded wins).
 */
export function checkFileTying(tensors: Record<string, Tensor>, metadata: Record<string, string>, tiedInConfig: boolean): Finding | null {
  const a = tensors['transformer.wte.weight'], b = tensors['lm_head.weight'];
  if (!a || !b) return null;
  const declared = metadata['qkv.ties'] ? (JSON.parse(metadata['qkv.ties']) as Record<string, string>)['lm_head.weight'] === 'transformer.wte.weight' : false;
  const differ = !declared && a.storage !== b.storage && noGrad(() => a.sub(b).abs().max().item()) !== 0;
  if (tiedInConfig && differ) {
    return { check: 'tying (file)', status: 'fail', message: 'the config says tied, but the file holds two different matrices for transformer.wte.weight and lm_head.weight: they were trained untied, and loading them into a tied model silently keeps only one' };
  }
  if (!tiedInConfig && declared) {
    return { check: 'tying (file)', status: 'warn', message: 'the file declares lm_head.weight tied to transformer.wte.weight, but the config says untied: loading re-ties them' };
  }
  return null;
}
