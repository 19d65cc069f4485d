/**
 * Lab 4 — merged-qk: W_Q W_Kᵀ as one C×C matrix per head. Does it train as well?
 *
 * As asked: "why not merge W_Q and W_K into one matrix — is it because training is not good?" —
 * so the experiment trains merged-qk models against factored ones, from the same starting
 * function (W_QK = W_Q W_Kᵀ of the factored init) and from merged-qk's own default init, with
 * AdamW with and without weight decay, over seeds:
 *
 * - (a) the char GPT on the Brown corpus (the shared 'gpt:*' units: C 64, H 4, D 16);
 * - (b) a task where attention must learn one bilinear pattern: a one-head student learns a
 *   teacher whose W_QK has a chosen rank, below D (the factored student can represent it) or
 *   full (it cannot) — C 32, D 8.
 *
 * Figures: loss curves with seed bands, final loss, steps to a threshold, effective rank of each
 * head's W_QK over training (does merged stay low-rank?), wall time per step. Next to them the
 * cost answer: parameters and FLOPs by formula and measured fwd+bwd time over a grid of (C, H, D,
 * T), medians over repetitions with their spread.
 */
import { randn } from '../../tensor/creation.js';
import { Generator, manualSeed } from '../../tensor/random.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { Attention } from '../../nn/attention.js';
import * as init from '../../nn/init.js';
import { mseLoss } from '../../ops/loss.js';
import { AdamW } from '../../optim/adam.js';
import { GPT } from '../../models/gpt.js';
import { getBatch } from '../../data/text-dataset.js';
import { clipGradNorm_ } from '../../nn/utils.js';
import { timesMs } from '../common.js';
import type { Experiment, UnitContext } from '../experiment.js';
import { GPT_ARMS, effectiveRank, gptConfig, gptSettings, labText, qkSingularValues, tailEnergy, type GPTArm, type GPTRunResult } from '../gpt-runs.js';
import { band, claim, compareTimes, fmtStat, fmtTime, num, quantile, says, stat, type Claim, type SeedValue } from '../seeds.js';

interface Point { C: number; H: number; D: number; T: number }

/** Parameters and forward multiply-add FLOPs (×2) of the q·kᵀ path, for B sequences. */
export function qkCost(p: Point, B: number): { paramsFactored: number; paramsMerged: number; flopsFactored: number; flopsMerged: number } {
  const { C, H, D, T } = p;
  return {
    paramsFactored: 2 * C * H * D,
    paramsMerged: H * C * C,
    flopsFactored: 2 * B * (2 * T * C * H * D + H * T * T * D),
    flopsMerged: 2 * B * (H * T * C * C + H * T * T * C),
  };
}

// ─── (b) the bilinear task ──────────────────────────────────────────────────────────────────────

const BIL = { C: 32, D: 8, T: 16, B: 16, evalSeqs: 64, lr: 1e-2, logitStd: 2.5, threshold: 0.01 };
const bilSettings = (quick: boolean) => ({ ...BIL, steps: quick ? 150 : 240, every: 15 });
/** Teacher ranks: within the factored student's reach (≤ D) and full. */
const TEACHER_RANKS = [BIL.D / 2, BIL.C];

type BilArm = 'factored' | 'factored-wd0' | 'merged-same' | 'merged-same-wd0' | 'merged-default' | 'merged-full';
const BIL_ARMS: Record<BilArm, { label: string; weightDecay: number }> = {
  factored: { label: 'factored (fused), wd 0.1', weightDecay: 0.1 },
  'factored-wd0': { label: 'factored, wd 0', weightDecay: 0 },
  'merged-same': { label: 'merged from the same function, wd 0.1', weightDecay: 0.1 },
  'merged-same-wd0': { label: 'merged from the same function, wd 0', weightDecay: 0 },
  'merged-default': { label: "merged, qkv's default init (W_Q W_Kᵀ of fresh draws), wd 0.1", weightDecay: 0.1 },
  'merged-full': { label: 'merged, full-rank init U(±1/√C) like a Linear(C, C), wd 0.1', weightDecay: 0.1 },
};
const BIL_ARM_KEYS = Object.keys(BIL_ARMS) as BilArm[];

interface BilRun { curve: number[]; effRank: number[]; tail: number[] }
interface BilSeed { steps: number[]; byRank: Record<string, Record<BilArm, BilRun>>; teacherLogitStd: Record<string, number> }

/** One seed of the bilinear task: per teacher rank, every arm trained in lock-step on the same batches. */
export function bilinearUnit(seed: number, ctx: UnitContext): BilSeed {
  const s = bilSettings(ctx.quick);
  const { C, D, T, B } = s;
  const out: BilSeed = { steps: [0], byRank: {}, teacherLogitStd: {} };
  for (let k = s.every; k <= s.steps; k += s.every) out.steps.push(k);
  for (const r of TEACHER_RANKS) {
    manualSeed(seed * 1000 + r);
    // Teacher: one head whose W_QK = G Hᵀ·scale has rank r; its value/output path is a PyTorch-init
    // rank-D map, which every student can represent.
    const teacher = new Attention({ dim: C, heads: 1, dimHead: D, storage: 'merged-qk' }).eval();
    const G = randn([C, r]), Hm = randn([C, r]);
    const scale = s.logitStd * Math.sqrt(D) / (C * Math.sqrt(r)); // logits x W xᵀ/√D of std ≈ 2.5 for x ~ N(0, 1)
    noGrad(() => teacher.W_QK.copy_(G.matmul(Hm.t()).mul(scale).unsqueeze(0)));
    const evalX = randn([s.evalSeqs, T, C]);
    const evalY = noGrad(() => teacher.forward(evalX));
    const varY = noGrad(() => evalY.sub(evalY.mean()).square().mean().item());
    const scores = noGrad(() => evalX.matmul(teacher.W_QK.select(0, 0)).matmul(evalX.mT).div(Math.sqrt(D)));
    out.teacherLogitStd[r] = noGrad(() => scores.std().item());

    manualSeed(seed * 1000 + 500 + r);
    const base = new Attention({ dim: C, heads: 1, dimHead: D });
    const students: Record<BilArm, Attention> = {
      factored: base,
      'factored-wd0': base.convert('fused'),
      'merged-same': base.convert('merged-qk'),
      'merged-same-wd0': base.convert('merged-qk'),
      'merged-default': new Attention({ dim: C, heads: 1, dimHead: D, storage: 'merged-qk' }),
      'merged-full': base.convert('merged-qk'),
    };
    const bound = 1 / Math.sqrt(C);
    noGrad(() => init.uniform_(students['merged-full'].W_QK, -bound, bound));
    const opts = Object.fromEntries(BIL_ARM_KEYS.map((a) => [a, new AdamW(students[a].parameters(), { lr: s.lr, weightDecay: BIL_ARMS[a].weightDecay })])) as Record<BilArm, AdamW>;
    const runs = Object.fromEntries(BIL_ARM_KEYS.map((a) => [a, { curve: [], effRank: [], tail: [] } as BilRun])) as Record<BilArm, BilRun>;
    const record = () => {
      for (const a of BIL_ARM_KEYS) {
        runs[a].curve.push(noGrad(() => mseLoss(students[a].forward(evalX), evalY).item()) / varY);
        const sv = qkSingularValues(students[a])[0];
        runs[a].effRank.push(effectiveRank(sv));
        runs[a].tail.push(tailEnergy(sv, D));
      }
    };
    record();
    const gen = new Generator(seed * 1000 + 700 + r);
    for (let step = 1; step <= s.steps; step++) {
      const x = randn([B, T, C], { generator: gen });
      const y = noGrad(() => teacher.forward(x));
      for (const a of BIL_ARM_KEYS) {
        opts[a].zeroGrad();
        mseLoss(students[a].forward(x), y).backward();
        opts[a].step();
      }
      if (step % s.every === 0) record();
    }
    out.byRank[r] = runs;
    ctx.log(`merged-qk: seed ${seed}, teacher rank ${r}: ${BIL_ARM_KEYS.map((a) => `${a} ${num(runs[a].curve[runs[a].curve.length - 1])}`).join(', ')}`);
  }
  return out;
}

export const mergedQkUnits = { bilinear: bilinearUnit };

// ─── timings (main thread) ──────────────────────────────────────────────────────────────────────

interface Timings {
  B: number;
  reps: number;
  grid: { point: Point; factored: number[]; merged: number[]; maxRelError: number }[];
  /** ms per training step of the char GPT, factored vs merged, per repetition. */
  gptStep: { factored: number[]; merged: number[]; stepsPerRep: number };
}

function runTimings(ctx: UnitContext): Timings {
  const quick = ctx.quick;
  const B = 8;
  const grid: Point[] = quick
    ? [{ C: 64, H: 4, D: 16, T: 32 }, { C: 64, H: 1, D: 64, T: 32 }, { C: 128, H: 2, D: 64, T: 64 }]
    : [
      { C: 64, H: 4, D: 16, T: 64 }, { C: 64, H: 1, D: 64, T: 64 }, { C: 128, H: 8, D: 16, T: 64 },
      { C: 128, H: 2, D: 64, T: 64 }, { C: 128, H: 1, D: 128, T: 128 }, { C: 256, H: 8, D: 32, T: 64 },
      { C: 256, H: 1, D: 256, T: 128 },
    ];
  const reps = quick ? 5 : 11;
  const out: Timings = { B, reps, grid: [], gptStep: { factored: [], merged: [], stepsPerRep: quick ? 3 : 5 } };
  grid.forEach((p, i) => {
    manualSeed(i);
    const fused = new Attention({ dim: p.C, heads: p.H, dimHead: p.D });
    const merged = fused.convert('merged-qk');
    const x = randn([B, p.T, p.C]);
    const rel = noGrad(() => merged.forward(x).sub(fused.forward(x)).abs().max().item() / fused.forward(x).abs().max().item());
    const step = (m: Attention) => () => {
      const xi = x.detach().requiresGrad_(true);
      m.forward(xi).square().mean().backward();
      m.zeroGrad();
    };
    // Interleaved repetitions, so that a burst of load hits both alike.
    const tf: number[] = [], tm: number[] = [];
    timesMs(step(fused), 0, 2);
    timesMs(step(merged), 0, 2);
    for (let k = 0; k < reps; k++) {
      tf.push(...timesMs(step(fused), 1, 0));
      tm.push(...timesMs(step(merged), 1, 0));
    }
    out.grid.push({ point: p, factored: tf, merged: tm, maxRelError: rel });
    ctx.log(`merged-qk timing ${i + 1}/${grid.length}: C${p.C} H${p.H} D${p.D} T${p.T}: factored ${num(stat(tf).median)} ms, merged ${num(stat(tm).median)} ms`);
  });
  // A training step of the char GPT, both storages.
  const { data } = labText(quick);
  const s = gptSettings(quick);
  const models = (['fused', 'merged-qk'] as const).map((attention) => { manualSeed(0); return new GPT({ ...gptConfig(quick, data.tokenizer.vocabSize), attention }); });
  const opts = models.map((m) => new AdamW(m.weightDecayGroups(0.1), { lr: s.lr, betas: [0.9, 0.95] }));
  const gen = new Generator(1);
  const trainSteps = (i: number) => () => {
    for (let k = 0; k < out.gptStep.stepsPerRep; k++) {
      const { x, y } = getBatch(data.train, s.batchSize, s.blockSize, gen);
      opts[i].zeroGrad();
      models[i].forward(x, y).loss!.backward();
      clipGradNorm_(models[i].parameters(), 1);
      opts[i].step();
    }
  };
  timesMs(trainSteps(0), 0, 1);
  timesMs(trainSteps(1), 0, 1);
  for (let k = 0; k < reps; k++) {
    out.gptStep.factored.push(timesMs(trainSteps(0), 1, 0)[0] / out.gptStep.stepsPerRep);
    out.gptStep.merged.push(timesMs(trainSteps(1), 1, 0)[0] / out.gptStep.stepsPerRep);
  }
  return out;
}

// ─── summary ────────────────────────────────────────────────────────────────────────────────────

const GPT_MERGED_ARMS: GPTArm[] = ['base', 'factored-wd0', 'merged-same', 'merged-same-wd0', 'merged-default'];

export const mergedQkExperiment: Experiment = {
  name: 'merged-qk',
  units: () => ['bilinear', ...GPT_MERGED_ARMS.map((a) => `gpt:${a}`)],
  timings: runTimings,
  summarise({ quick, seeds: seedList, units, timings }) {
    const tm = timings as Timings;
    const bil = units.bilinear as BilSeed[];
    const gpt = Object.fromEntries(GPT_MERGED_ARMS.map((a) => [a, units[`gpt:${a}`] as GPTRunResult[]])) as Record<GPTArm, GPTRunResult[]>;
    const bs = bilSettings(quick), gs = gptSettings(quick);
    const Dg = gs.nEmbd / gs.nHead;
    const { data, unigram } = labText(quick);
    const seeds: Record<string, SeedValue[]> = {};
    const last = <T>(c: T[]): T => c[c.length - 1];
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const reach = (steps: number[], c: number[], thr: number) => { const i = c.findIndex((v) => v <= thr); return i < 0 ? null : steps[i]; };

    // (b) bilinear
    for (const r of TEACHER_RANKS) {
      for (const a of BIL_ARM_KEYS) {
        seeds[`bil${r}.${a}.final`] = bil.map((x) => last(x.byRank[r][a].curve));
        seeds[`bil${r}.${a}.steps`] = bil.map((x) => reach(x.steps, x.byRank[r][a].curve, bs.threshold));
        seeds[`bil${r}.${a}.effRank`] = bil.map((x) => last(x.byRank[r][a].effRank));
        seeds[`bil${r}.${a}.tail`] = bil.map((x) => last(x.byRank[r][a].tail));
      }
    }
    // (a) GPT: threshold = the factored arm's median final loss + 0.05 nats.
    const gptThr = (stat(gpt.base.map((x) => x.final)).median as number) + 0.05;
    for (const a of GPT_MERGED_ARMS) {
      seeds[`gpt.${a}.final`] = gpt[a].map((x) => x.final);
      seeds[`gpt.${a}.steps`] = gpt[a].map((x) => reach(x.steps, x.val, gptThr));
      seeds[`gpt.${a}.effRank`] = gpt[a].map((x) => mean(last(x.effRank)));
      seeds[`gpt.${a}.tail`] = gpt[a].map((x) => mean(last(x.tail)));
      seeds[`gpt.${a}.effRank0`] = gpt[a].map((x) => mean(x.effRank[0]));
    }
    const f = (k: string, d = 3) => fmtStat(seeds[k], d);
    const med = (k: string) => stat(seeds[k]).median;

    // Claims.
    const cg = (id: string, a: GPTArm, b: GPTArm, what: 'final' | 'steps') => claim(id, seeds, `gpt.${a}.${what}`, `gpt.${b}.${what}`, `${what === 'final' ? 'val loss' : 'steps to threshold'}, ${GPT_ARMS[a].label}`, GPT_ARMS[b].label, { unit: what === 'final' ? ' nats' : '' });
    const cGptSame = cg('asked.gptMergedVsFactored', 'merged-same', 'base', 'final');
    const cGptSameSteps = cg('gpt.stepsMergedVsFactored', 'merged-same', 'base', 'steps');
    const cGptDefault = cg('gpt.mergedDefaultVsFactored', 'merged-default', 'base', 'final');
    const cGptWdF = cg('gpt.wdFactored', 'base', 'factored-wd0', 'final');
    const cGptWdM = cg('gpt.wdMerged', 'merged-same', 'merged-same-wd0', 'final');
    const cGptRank = claim('gpt.mergedUsesRank', seeds, 'gpt.base.effRank', 'gpt.merged-same.effRank', 'mean effective rank of W_QK, factored', 'merged');
    const cb = (id: string, r: number, a: BilArm, b: BilArm, what: 'final' | 'steps') => claim(id, seeds, `bil${r}.${a}.${what}`, `bil${r}.${b}.${what}`, `${what === 'final' ? 'final relative MSE' : `steps to ${bs.threshold}`}, ${BIL_ARMS[a].label} (teacher rank ${r})`, BIL_ARMS[b].label);
    const [rLow, rFull] = TEACHER_RANKS;
    const cLow = cb('bilinear.lowRank', rLow, 'merged-same', 'factored', 'final');
    const cLowSteps = cb('bilinear.lowRankSteps', rLow, 'merged-same', 'factored', 'steps');
    const cFull = cb('bilinear.fullRank', rFull, 'merged-same', 'factored', 'final');
    const cLowDefault = cb('bilinear.lowRankDefault', rLow, 'merged-default', 'factored', 'final');
    const cLowFullInit = cb('bilinear.lowRankFullInit', rLow, 'merged-full', 'merged-same', 'final');
    const cLowWdF = cb('bilinear.wdFactored', rLow, 'factored', 'factored-wd0', 'final');
    const cLowWdM = cb('bilinear.wdMerged', rLow, 'merged-same', 'merged-same-wd0', 'final');
    const cLowTail = claim('bilinear.lowRankTail', seeds, `bil${rLow}.merged-same.tail`, 0.001, `energy of merged W_QK beyond rank ${bs.D} (teacher rank ${rLow})`, '0.1%');
    const claims: Claim[] = [cGptSame, cGptSameSteps, cGptDefault, cGptWdF, cGptWdM, cGptRank, cLow, cLowSteps, cFull, cLowDefault, cLowFullInit, cLowWdF, cLowWdM, cLowTail];

    // Cost and timings.
    const rows = tm.grid.map((g) => {
      const c = qkCost(g.point, tm.B);
      const tv = compareTimes(g.factored, g.merged);
      return { g, c, tv, label: `C${g.point.C} H${g.point.H} D${g.point.D} T${g.point.T}` };
    });
    const fewerParams = rows.filter((x) => x.c.paramsMerged < x.c.paramsFactored).map((x) => x.label);
    const fewerFlops = rows.filter((x) => x.c.flopsMerged < x.c.flopsFactored).map((x) => x.label);
    const faster = rows.filter((x) => !x.tv.withinNoise && x.tv.ratio < 1);
    const slower = rows.filter((x) => !x.tv.withinNoise && x.tv.ratio > 1);
    const noiseT = rows.filter((x) => x.tv.withinNoise);
    const gstep = compareTimes(tm.gptStep.factored, tm.gptStep.merged);
    const maxRel = Math.max(...tm.grid.map((g) => g.maxRelError));

    const trainWord = (c: Claim) => says(c, { less: 'trains better', greater: 'trains worse', noise: 'trains as well (within seed noise)' });
    const judgement = [
      `${says(cGptSame, {
        less: 'Refuted: on the char GPT merged-qk trains *better*,',
        greater: 'Confirmed on the char GPT: merged-qk trains worse,',
        noise: 'Refuted as the reason: on the char GPT merged-qk trains as well as factored —',
      })} from the same starting function (${cGptSame.text}); from its own default init ${trainWord(cGptDefault)} (${cGptDefault.text}).`,
      `On the bilinear task it ${trainWord(cLow)} when the pattern has rank ${rLow} ≤ D = ${bs.D} (${cLow.text}) and ${trainWord(cFull)} when it needs rank ${rFull} > D (${cFull.text}): there the factored model cannot represent the pattern at all.`,
      `The answer the question usually gets — factored is cheaper — is the real reason: per head merged stores C² numbers against 2·C·D and does T·C² + T²·C multiply-adds against 2·T·C·D + T²·D, so with the usual D = C/H and H ≥ 2 it is larger and does more work (a char-GPT training step here: ${fmtRatio(gstep)}).`,
    ].join(' ');

    const verdict = [
      `- **Does merged train as well? (char GPT, C ${gs.nEmbd}, H ${gs.nHead}, D ${Dg}, ${gs.steps} steps.)** From the same function: ${cGptSame.text}; steps to ${num(gptThr)} nats (factored's median final + 0.05): ${cGptSameSteps.text}. From merged-qk's default init (W_Q W_Kᵀ of fresh N(0, 0.02) draws): ${cGptDefault.text}. **Merged ${trainWord(cGptSame)} at this size.**`,
      `- **Rank.** Factored W_QK has rank ≤ D = ${Dg} by construction; merged starts there (mean effective rank ${f('gpt.merged-same.effRank0')} at step 0) and ends at ${f('gpt.merged-same.effRank')} (factored: ${f('gpt.base.effRank')}; ${cGptRank.text}), with ${fmtStat(seeds['gpt.merged-same.tail'].map((x) => (x as number) * 100), 2, '%')} of its energy beyond rank ${Dg}. AdamW normalises each entry's update, so the merged matrix receives full-rank updates and spreads into the extra rank; the energy stays mostly in its top ${Dg} directions.`,
      `- **When the extra rank is needed (bilinear task, C ${bs.C}, D ${bs.D}).** Teacher rank ${rFull}: factored ends at ${f(`bil${rFull}.factored.final`)} relative MSE, merged at ${f(`bil${rFull}.merged-same.final`)} (${cFull.text}) — a capacity gap no training fixes. Teacher rank ${rLow}: ${cLow.text}; steps to ${bs.threshold}: ${cLowSteps.text}; merged ends at effective rank ${f(`bil${rLow}.merged-same.effRank`)} against ${f(`bil${rLow}.factored.effRank`)} factored and keeps ${fmtStat(seeds[`bil${rLow}.merged-same.tail`].map((x) => (x as number) * 100), 2, '%')} of its energy beyond rank ${bs.D} (${cLowTail.text}): ${says(cLow, { greater: 'its updates reach all C² entries, so it carries a small full-rank residue the factored form cannot hold — with nothing to gain from the extra rank, it ends a little worse', less: 'even so it fits better', noise: 'the extra rank neither helps nor hurts beyond seed noise' })}.`,
      `- **Init.** qkv's merged-qk default (W_Q W_Kᵀ of two fresh Linear draws) has the factored model's logit distribution; a full-rank U(±1/√C) draw like a Linear(C, C) gives logits of std ≈ √(C/3D) instead: ${cLowFullInit.text}. Against factored, the default init: ${cLowDefault.text}.`,
      `- **Weight decay.** Decay on W_Q and W_K penalises ‖W_Q‖² + ‖W_K‖² ≥ 2‖W_Q W_Kᵀ‖_* (a nuclear norm: it favours low rank); on W_QK it is ‖W_QK‖²_F. Weight decay 0.1 against 0 (GPT: ${gs.steps} steps at lr ${gs.lr}; bilinear: ${bs.steps} steps at lr ${bs.lr}): GPT factored ${cGptWdF.text}; merged ${cGptWdM.text}; bilinear factored ${cLowWdF.text}; merged ${cLowWdM.text}.`,
      `- **Cost (the usual answer).** Same function: converting reproduces the output to ${maxRel.toExponential(1)} (float32). Parameters: merged is smaller only when C < 2D (${fewerParams.length ? fewerParams.join(', ') : 'no point of this grid'}); FLOPs: fewer only when D approaches C (${fewerFlops.length ? fewerFlops.join(', ') : 'none here'}). Measured fwd+bwd (median of ${tm.reps} repetitions; two timings are within noise when their interquartile ranges overlap): merged faster at ${faster.length ? faster.map((x) => `${x.label} (${num(1 / x.tv.ratio)}×)`).join(', ') : 'no point'}; slower at ${slower.length ? slower.map((x) => `${x.label} (${num(x.tv.ratio)}×)`).join(', ') : 'no point'}${noiseT.length ? `; within noise at ${noiseT.map((x) => x.label).join(', ')}` : ''}. A char-GPT training step takes ${fmtTime(tm.gptStep.factored)} factored vs ${fmtTime(tm.gptStep.merged)} merged (${fmtRatio(gstep)}).`,
    ].join('\n');

    const gb = (arm: GPTArm) => band(gpt[arm].map((x) => x.val));
    const rb = (arm: GPTArm) => band(gpt[arm].map((x) => x.effRank.map(mean)));
    const bb = (r: number, a: BilArm, k: 'curve' | 'effRank') => band(bil.map((x) => x.byRank[r][a][k]));
    const series = <T extends string>(keys: T[], labels: Record<T, { label: string }>, get: (k: T) => { median: number[]; lo: number[]; hi: number[] }, x: number[]) =>
      keys.map((k) => { const b = get(k); return { name: labels[k].label, x, y: b.median, band: { lo: b.lo, hi: b.hi }, dashed: k.includes('wd0') }; });
    const plotArms: BilArm[] = ['factored', 'merged-same', 'merged-default', 'merged-full', 'merged-same-wd0'];

    return {
      name: 'merged-qk',
      title: '4. Merged W_QK (merged-qk)',
      question: 'Trained from the same start, does a merged W_QK learn as well as W_Q, W_K — and what does it cost?',
      asAsked: {
        question: 'Why not merge W_Q and W_K into one matrix W_QK — is it because training is not good?',
        source: 'A recurring question (Cross Validated 515477, Reddit, the EleutherAI Discord): W_Q and W_K only appear as the product W_Q W_Kᵀ, so why keep two? It comes with no program; the lab trains both forms.',
        commonAnswer: 'Keep them factored because W_Q W_Kᵀ is C×C of rank ≤ d_head: two thin matrices are fewer parameters and fewer FLOPs (and, some add, the merged form trains worse in practice).',
        program: `The question as an experiment: the char GPT of the lab (C ${gs.nEmbd}, H ${gs.nHead}, D ${Dg}, ${gs.nLayer} layers, ${gs.steps} AdamW steps, weight decay 0.1) trained factored and with merged-qk attention converted from the same init (W_QK = W_Q W_Kᵀ: the same function at step 0), seeds ${seedList.join(', ')}.`,
        judgement,
        figures: {
          seeds: seedList.length, 'val loss, factored': med('gpt.base.final'), 'val loss, merged (same start)': med('gpt.merged-same.final'),
          'merged − factored, median': cGptSame.diff.median, 'merged lower in': `${cGptSame.less} of ${cGptSame.n} seeds`,
          'ms per training step, factored': quantile(tm.gptStep.factored, 0.5), 'ms per training step, merged': quantile(tm.gptStep.merged, 0.5),
        },
      },
      setup: [
        `- (a) Char GPT on ${data.source}: ${gs.nLayer} layers, d_model ${gs.nEmbd}, ${gs.nHead} heads (D ${Dg}), context ${gs.blockSize}, batch ${gs.batchSize}, ${gs.steps} steps, AdamW lr ${gs.lr} (β 0.9, 0.95), warm-up + cosine, clip 1; arms: ${GPT_MERGED_ARMS.map((a) => GPT_ARMS[a].label).join('; ')}. Validation every ${gs.evalEvery} steps on fixed batches; effective rank exp(H(σ/Σσ)) of each head's W_QK at each evaluation.`,
        `- (b) Bilinear pattern: a teacher head (C ${bs.C}, D ${bs.D}) whose W_QK is a random rank-r matrix scaled to logits of std ≈ ${bs.logitStd}, r ∈ {${TEACHER_RANKS.join(', ')}}; a one-head student learns it from x ~ N(0, 1), (${bs.B}, ${bs.T}, ${bs.C}) per step, MSE, AdamW lr ${bs.lr}, ${bs.steps} steps, all arms on the same batches; relative MSE (MSE / variance of the teacher output) on ${bs.evalSeqs} held-out sequences; threshold ${bs.threshold}. Arms: ${BIL_ARM_KEYS.map((a) => BIL_ARMS[a].label).join('; ')}.`,
        `- Cost: formulas for the q·kᵀ path, and fwd+bwd of one block (fused vs converted to merged), batch ${tm.B}, ${tm.reps} interleaved repetitions each, in the main thread after all training (nothing else of the lab running). Wall times on a shared machine vary: two timings whose interquartile ranges overlap are reported as within noise.`,
      ].join('\n'),
      tables: [
        {
          title: `(a) Char GPT: final validation loss, steps to ${num(gptThr)} nats, W_QK rank (median and range over ${seedList.length} seeds)`,
          columns: ['arm', 'val loss', 'steps to threshold', 'effective rank (mean over heads)', `energy beyond rank ${Dg}`],
          rows: GPT_MERGED_ARMS.map((a) => [GPT_ARMS[a].label, f(`gpt.${a}.final`), f(`gpt.${a}.steps`, 4), f(`gpt.${a}.effRank`), fmtStat(seeds[`gpt.${a}.tail`].map((x) => (x as number) * 100), 2, '%')]),
        },
        {
          title: `(b) Bilinear task: final relative MSE, steps to ${bs.threshold}, W_QK rank (median and range)`,
          columns: ['teacher rank', 'arm', 'relative MSE', 'steps to threshold', 'effective rank', `energy beyond rank ${bs.D}`],
          rows: TEACHER_RANKS.flatMap((r) => BIL_ARM_KEYS.map((a) => [r, BIL_ARMS[a].label, f(`bil${r}.${a}.final`), f(`bil${r}.${a}.steps`, 4), f(`bil${r}.${a}.effRank`), fmtStat(seeds[`bil${r}.${a}.tail`].map((x) => (x as number) * 100), 2, '%')])),
        },
        {
          title: 'Cost model and timings (fwd+bwd of one block; median and interquartile range over repetitions)',
          columns: ['C, H, D, T', 'QK params factored', 'merged', 'QK MFLOP factored', 'merged', 'time factored', 'time merged', 'merged/factored', 'IQRs overlap', 'max rel. output difference'],
          rows: rows.map((x) => [x.label, x.c.paramsFactored, x.c.paramsMerged, x.c.flopsFactored / 1e6, x.c.flopsMerged / 1e6, fmtTime(x.g.factored), fmtTime(x.g.merged), x.tv.ratio, x.tv.withinNoise ? 'yes: within noise' : 'no', x.g.maxRelError]),
        },
      ],
      charts: [
        {
          file: 'merged-qk-gpt',
          chart: { kind: 'line', title: `Char GPT: validation loss, factored vs merged (bands over ${seedList.length} seeds)`, xLabel: 'step', yLabel: 'cross-entropy (nats/char)', series: series(GPT_MERGED_ARMS, GPT_ARMS, gb, gpt.base[0].steps), hlines: [{ y: unigram, label: 'unigram baseline' }] },
        },
        {
          file: 'merged-qk-gpt-rank',
          chart: { kind: 'line', title: `Char GPT: effective rank of W_QK (mean over ${gs.nLayer * gs.nHead} heads)`, xLabel: 'step', yLabel: 'effective rank', series: series(GPT_MERGED_ARMS, GPT_ARMS, rb, gpt.base[0].rankSteps), hlines: [{ y: Dg, label: `D = ${Dg}` }] },
        },
        ...TEACHER_RANKS.map((r) => ({
          file: `merged-qk-bilinear-r${r}`,
          chart: { kind: 'line' as const, title: `Bilinear task, teacher rank ${r}: relative MSE (bands over seeds)`, xLabel: 'step', yLabel: 'relative MSE', logY: true, series: series(plotArms, BIL_ARMS, (a) => bb(r, a, 'curve'), bil[0].steps), hlines: [{ y: bs.threshold, label: `threshold ${bs.threshold}` }] },
        })),
        {
          file: 'merged-qk-time',
          chart: {
            kind: 'bar', title: 'fwd+bwd time: factored (fused) vs merged W_QK (median, interquartile range)', yLabel: 'ms', logY: true, categories: rows.map((x) => x.label),
            series: (['factored', 'merged'] as const).map((k) => ({ name: k === 'factored' ? 'factored (fused)' : 'merged-qk', values: tm.grid.map((g) => quantile(g[k], 0.5)), lo: tm.grid.map((g) => quantile(g[k], 0.25)), hi: tm.grid.map((g) => quantile(g[k], 0.75)) })),
          },
        },
      ],
      verdict,
      figures: {
        seeds: seedList.length, gptThreshold: gptThr, bilinearThreshold: bs.threshold, points: tm.grid.length, maxRelativeError: maxRel,
        mergedFaster: faster.length, mergedSlower: slower.length, timingWithinNoise: noiseT.length,
        gptStepMsFactored: quantile(tm.gptStep.factored, 0.5), gptStepMsMerged: quantile(tm.gptStep.merged, 0.5), gptStepRatio: gstep.ratio, gptStepWithinNoise: gstep.withinNoise,
        ...Object.fromEntries(Object.keys(seeds).map((k) => [k, med(k)])),
        ...Object.fromEntries(rows.map((x) => [`timeRatio_${x.label.replace(/ /g, '_')}`, x.tv.ratio])),
      },
      seedList, seeds, claims,
      repetitions: {
        ...Object.fromEntries(rows.flatMap((x) => [[`${x.label} factored ms`, x.g.factored], [`${x.label} merged ms`, x.g.merged]])),
        'GPT step factored ms': tm.gptStep.factored, 'GPT step merged ms': tm.gptStep.merged,
      },
    };
  },
};

function fmtRatio(t: { ratio: number; withinNoise: boolean }): string {
  return t.withinNoise ? `merged/factored ${num(t.ratio)}, within noise (the interquartile ranges overlap)` : `merged takes ${num(t.ratio)}× the factored time`;
}
