/**
 * The char GPTs the lab trains on the Brown corpus, shared by three experiments: 'gpt:base' (fused,
 * blocked packing, tied, AdamW with weight decay 0.1) is the trained model the layout experiment
 * misreads, the tied arm of the tying experiment and the factored arm of the merged-qk one. The
 * other arms change one thing each.
 *
 * Every arm of a seed starts from manualSeed(seed), sees the same training batches (a generator
 * seeded from the seed) and is evaluated on the same fixed validation batches.
 */
import { Tensor } from '../tensor/tensor.js';
import { Generator, manualSeed } from '../tensor/random.js';
import { noGrad } from '../autograd/grad-mode.js';
import { AdamW } from '../optim/adam.js';
import { CosineWarmupLR } from '../optim/lr-scheduler.js';
import { clipGradNorm_ } from '../nn/utils.js';
import type { Attention } from '../nn/attention.js';
import { convertPackedLayout } from '../nn/qkv-layout.js';
import { svd } from '../ops/linalg.js';
import { GPT, type GPTConfig } from '../models/gpt.js';
import { loadBrownCorpus } from '../data/brown.js';
import { charDatasetFromDocuments, getBatch, unigramCrossEntropy, type TextData } from '../data/text-dataset.js';
import type { UnitContext } from './experiment.js';

export interface GPTSettings {
  documents: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  blockSize: number;
  batchSize: number;
  steps: number;
  lr: number;
  warmupSteps: number;
  evalEvery: number;
  /** W_QK's singular values are taken every this many steps (a multiple of evalEvery). */
  rankEvery: number;
  evalBatches: number;
}

export function gptSettings(quick: boolean): GPTSettings {
  return quick
    ? { documents: 60, nLayer: 2, nHead: 4, nEmbd: 64, blockSize: 32, batchSize: 16, steps: 80, lr: 3e-3, warmupSteps: 10, evalEvery: 20, rankEvery: 40, evalBatches: 4 }
    : { documents: 200, nLayer: 2, nHead: 4, nEmbd: 64, blockSize: 32, batchSize: 16, steps: 200, lr: 3e-3, warmupSteps: 20, evalEvery: 25, rankEvery: 50, evalBatches: 8 };
}

let cached: { documents: number; data: TextData; unigram: number } | null = null;

/** The char-level Brown corpus split (every 10th document to validation), loaded once per thread. */
export function labText(quick: boolean): { data: TextData; unigram: number } {
  const n = gptSettings(quick).documents;
  if (!cached || cached.documents !== n) {
    const docs = loadBrownCorpus({ maxDocuments: n });
    const data = charDatasetFromDocuments(docs, `Brown corpus (${docs.length} documents)`);
    cached = { documents: n, data, unigram: unigramCrossEntropy(data.train, data.val, data.tokenizer.vocabSize) };
  }
  return cached;
}

export type GPTArm = 'base' | 'untied' | 'factored-wd0' | 'merged-same' | 'merged-same-wd0' | 'merged-default';

export const GPT_ARMS: Record<GPTArm, { label: string; tied: boolean; merged: boolean; start: 'own' | 'same'; weightDecay: number }> = {
  base: { label: 'factored (fused), tied, wd 0.1', tied: true, merged: false, start: 'own', weightDecay: 0.1 },
  untied: { label: 'factored, untied, wd 0.1', tied: false, merged: false, start: 'own', weightDecay: 0.1 },
  'factored-wd0': { label: 'factored, wd 0', tied: true, merged: false, start: 'own', weightDecay: 0 },
  'merged-same': { label: 'merged-qk from the same function, wd 0.1', tied: true, merged: true, start: 'same', weightDecay: 0.1 },
  'merged-same-wd0': { label: 'merged-qk from the same function, wd 0', tied: true, merged: true, start: 'same', weightDecay: 0 },
  'merged-default': { label: "merged-qk, its own default init, wd 0.1", tied: true, merged: true, start: 'own', weightDecay: 0.1 },
};

export function gptConfig(quick: boolean, vocabSize: number): GPTConfig {
  const s = gptSettings(quick);
  return { vocabSize, blockSize: s.blockSize, nLayer: s.nLayer, nHead: s.nHead, nEmbd: s.nEmbd };
}

/** exp(entropy of σ/Σσ): the effective rank of Roy & Vetterli (2007); 0 for a zero matrix. */
export function effectiveRank(sv: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < sv.length; i++) total += sv[i];
  if (!(total > 0)) return 0;
  let h = 0;
  for (let i = 0; i < sv.length; i++) {
    const p = sv[i] / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/** Share of the squared Frobenius norm beyond the first `d` singular values (0 when rank ≤ d). */
export function tailEnergy(sv: ArrayLike<number>, d: number): number {
  let all = 0, tail = 0;
  for (let i = 0; i < sv.length; i++) {
    all += sv[i] * sv[i];
    if (i >= d) tail += sv[i] * sv[i];
  }
  return all > 0 ? tail / all : 0;
}

/** Singular values of each head's W_QK (the C×C bilinear form), factored or merged. */
export function qkSingularValues(attn: Attention): Float64Array[] {
  const out: Float64Array[] = [];
  for (let h = 0; h < attn.heads; h++) {
    const s = attn.storage === 'merged-qk' ? svd(attn.W_QK.select(0, h).detach()).S : attn.QK(h).singularValues();
    out.push(Float64Array.from(s.toFlat() as ArrayLike<number>));
  }
  return out;
}

/** Mean cross-entropy on `batches` fixed validation batches (the same for every arm and seed). */
export function valLoss(model: GPT, data: TextData, batches: number, batchSize: number): number {
  const gen = new Generator(777);
  const was = model.training;
  model.eval();
  const v = noGrad(() => {
    let s = 0;
    for (let i = 0; i < batches; i++) {
      const { x, y } = getBatch(data.val, batchSize, model.config.blockSize, gen);
      s += model.forward(x, y).loss!.item();
    }
    return s / batches;
  });
  model.train(was);
  return v;
}

/** The factored GPT of a seed converted to merged-qk: W_QK = W_Q W_Kᵀ per head, the same function. */
function mergedFrom(base: GPT): GPT {
  const m = new GPT({ ...base.config, attention: 'merged-qk' });
  const sd: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(base.stateDict())) if (!/\.attn\.c_attn\./.test(k)) sd[k] = v;
  [...base.blocks].forEach((b, i) => {
    for (const [k, v] of Object.entries(b.attn.convert('merged-qk').stateDict())) sd[`transformer.h.${i}.attn.${k}`] = v;
  });
  m.loadStateDict(sd);
  return m;
}

export interface GPTRunResult {
  arm: GPTArm;
  params: number;
  /** Validation loss at step 0, every evalEvery steps and at the end. */
  steps: number[];
  val: number[];
  final: number;
  /** At step 0, every rankEvery steps and at the end: each head's (layer-major) effective rank of W_QK and energy beyond rank D. */
  rankSteps: number[];
  effRank: number[][];
  tail: number[][];
  /** Wall ms per training step (informative only: units may share the CPU). */
  msPerStep: number;
  /** 'base' only: the trained model read three ways (problem 2). */
  layout?: { valRight: number; valMisread: number; valConverted: number; logitErrMisread: number; logitErrConverted: number };
}

export function runGPTArm(arm: GPTArm, seed: number, ctx: UnitContext): GPTRunResult {
  const s = gptSettings(ctx.quick);
  const spec = GPT_ARMS[arm];
  const { data } = labText(ctx.quick);
  const cfg: GPTConfig = { ...gptConfig(ctx.quick, data.tokenizer.vocabSize), tieWeights: spec.tied };
  manualSeed(seed);
  let model: GPT;
  if (spec.merged && spec.start === 'same') model = mergedFrom(new GPT(cfg));
  else model = new GPT({ ...cfg, attention: spec.merged ? 'merged-qk' : 'fused' });
  const D = s.nEmbd / s.nHead;
  const opt = new AdamW(model.weightDecayGroups(spec.weightDecay), { lr: s.lr, betas: [0.9, 0.95] });
  const sched = new CosineWarmupLR(opt, { warmupSteps: s.warmupSteps, totalSteps: s.steps, minLrRatio: 0.1 });
  const gen = new Generator(seed + 100);
  const res: GPTRunResult = { arm, params: model.numParameters(), steps: [], val: [], final: NaN, rankSteps: [], effRank: [], tail: [], msPerStep: 0 };
  const record = (step: number) => {
    res.steps.push(step);
    res.val.push(valLoss(model, data, s.evalBatches, s.batchSize));
    if (step % s.rankEvery === 0 || step === s.steps) {
      const sv = [...model.blocks].flatMap((b) => qkSingularValues(b.attn));
      res.rankSteps.push(step);
      res.effRank.push(sv.map(effectiveRank));
      res.tail.push(sv.map((x) => tailEnergy(x, D)));
    }
  };
  record(0);
  model.train();
  let ms = 0;
  for (let step = 1; step <= s.steps; step++) {
    const t0 = performance.now();
    const { x, y } = getBatch(data.train, s.batchSize, s.blockSize, gen);
    opt.zeroGrad();
    model.forward(x, y).loss!.backward();
    clipGradNorm_(model.parameters(), 1);
    opt.step();
    sched.step();
    ms += performance.now() - t0;
    if (step % s.evalEvery === 0 || step === s.steps) {
      record(step);
      ctx.log(`gpt:${arm} seed ${seed}: step ${step}/${s.steps}, val ${res.val[res.val.length - 1].toFixed(3)}`);
    }
  }
  res.msPerStep = ms / s.steps;
  res.final = res.val[res.val.length - 1];
  if (arm === 'base') res.layout = misreadings(model, data, s);
  return res;
}

/** Problem 2 on a trained model: the same weights read head-interleaved (the bug) and converted (the fix). */
function misreadings(gpt: GPT, data: TextData, s: GPTSettings): NonNullable<GPTRunResult['layout']> {
  const batches = 2 * s.evalBatches;
  const valRight = valLoss(gpt, data, batches, s.batchSize);
  const sd = gpt.stateDict();
  const misread = new GPT({ ...gpt.config, layout: 'head-interleaved' });
  misread.loadStateDict(sd);
  const fixed = new GPT({ ...gpt.config, layout: 'head-interleaved' });
  const sdFixed: Record<string, Tensor> = { ...sd };
  for (const [k, v] of Object.entries(sd)) if (/attn\.c_attn\.(weight|bias)$/.test(k)) sdFixed[k] = convertPackedLayout(v, gpt.config.nHead, 'blocked', 'head-interleaved');
  fixed.loadStateDict(sdFixed);
  const idx = getBatch(data.val, 2, gpt.config.blockSize, new Generator(3)).x;
  gpt.eval();
  misread.eval();
  fixed.eval();
  const maxAbs = (a: GPT) => noGrad(() => a.forward(idx).logits.sub(gpt.forward(idx).logits).abs().max().item());
  return {
    valRight, valMisread: valLoss(misread, data, batches, s.batchSize), valConverted: valLoss(fixed, data, batches, s.batchSize),
    logitErrMisread: maxAbs(misread), logitErrConverted: maxAbs(fixed),
  };
}

/** The units: one per arm. */
export const gptUnits = Object.fromEntries(
  (Object.keys(GPT_ARMS) as GPTArm[]).map((arm) => [`gpt:${arm}`, (seed: number, ctx: UnitContext) => runGPTArm(arm, seed, ctx)]),
);
