/**
 * Lab 5 — tying: one matrix for the input embedding and the output layer.
 *
 * As asked: the question's script — Embedding(10, 3) → Linear(3, 10) → softmax, MSE against the
 * one-hot targets of six random tokens (a 2×3 batch drawn after torch.manual_seed(0)), Adam lr
 * 1e-3, 2,000 steps, tied by `self.embedding.weight = self.head.weight` (nn.tie(embedding, head):
 * the shared weight keeps the Linear's U(±1/√3) init). Run over seeds (the script draws its inits
 * unseeded, so every run of it differs), with PyTorch 1.13's figures for the same program
 * (scripts/lab/tying_as_asked.py) beside qkv's.
 *
 * Ablations change one factor at a time — the tie direction (which init survives), softmax or
 * not, six tokens or all ten — then the pair that flips the outcome, and the lab's former toy
 * (all three changed). The GPT part trains the char GPT tied and untied (shared units).
 */
import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../tensor/creation.js';
import { oneHot } from '../../ops/indexing.js';
import { manualSeed } from '../../tensor/random.js';
import { Embedding } from '../../nn/embedding.js';
import { Linear } from '../../nn/linear.js';
import { tie } from '../../nn/tie.js';
import { mseLoss } from '../../ops/loss.js';
import { Adam } from '../../optim/adam.js';
import type { Experiment, UnitContext } from '../experiment.js';
import { gptSettings, labText, type GPTRunResult } from '../gpt-runs.js';
import { TYING_TORCH_REFERENCE } from '../reference/tying-torch.js';
import { band, claim, fmtStat, num, says, stat, type Claim, type SeedValue } from '../seeds.js';

export interface ToyVariant {
  key: string;
  label: string;
  /** 'head': embedding.weight = head.weight (the Linear's init survives); 'embedding': the other way. */
  direction: 'head' | 'embedding';
  softmax: boolean;
  tokens: 'six' | 'ten';
}

export const TOY_VARIANTS: ToyVariant[] = [
  { key: 'original', label: 'the original (Linear init survives, softmax, six tokens)', direction: 'head', softmax: true, tokens: 'six' },
  { key: 'embedding-init', label: 'tie the other way (N(0, 1) survives)', direction: 'embedding', softmax: true, tokens: 'six' },
  { key: 'no-softmax', label: 'no softmax (MSE on the logits)', direction: 'head', softmax: false, tokens: 'six' },
  { key: 'all-ten', label: 'all ten tokens', direction: 'head', softmax: true, tokens: 'ten' },
  { key: 'embedding-init+no-softmax', label: 'N(0, 1) survives and no softmax', direction: 'embedding', softmax: false, tokens: 'six' },
  { key: 'former-lab-toy', label: "the lab's former toy (all three changed)", direction: 'embedding', softmax: false, tokens: 'ten' },
];

export const TOY_STEPS = 2000;
const RECORD_EVERY = 10;
/** The best rank-3 affine map of the ten one-hot rows leaves MSE 0.06 without softmax; 0.05 elsewhere (issue 14's threshold). */
export const toyThreshold = (v: ToyVariant): number => (!v.softmax && v.tokens === 'ten' ? 0.07 : 0.05);

/** The question's six tokens: what torch.manual_seed(0); torch.randint(0, 10, (2, 3)) draws (recorded by the reference script). */
export const ORIGINAL_TOKENS: number[] = [...TYING_TORCH_REFERENCE.originalTokens];

export interface ToyModel {
  embedding: Embedding;
  head: Linear;
  softmax: boolean;
  forward(idx: Tensor): Tensor;
  parameters(): Tensor[];
}

/** Model_1 / Model_2 of the script: Embedding(10, 3) then Linear(3, 10), tied as the variant says. */
export function toyModel(tied: boolean, v: Pick<ToyVariant, 'direction' | 'softmax'>): ToyModel {
  const embedding = new Embedding(10, 3), head = new Linear(3, 10);
  if (tied) {
    if (v.direction === 'head') tie(embedding, head); // self.embedding.weight = self.head.weight
    else tie(head, embedding); // self.head.weight = self.embedding.weight
  }
  return {
    embedding, head, softmax: v.softmax,
    forward(idx) {
      const out = head.forward(embedding.forward(idx));
      return v.softmax ? out.softmax(-1) : out;
    },
    parameters: () => [...new Set([...embedding.parameters(), ...head.parameters()])],
  };
}

export function toyData(tokens: 'six' | 'ten'): { idx: Tensor; target: Tensor } {
  const idx = tokens === 'six' ? tensor(ORIGINAL_TOKENS, { dtype: 'int64', shape: [2, 3] }) : tensor(Array.from({ length: 10 }, (_, i) => i), { dtype: 'int64', shape: [1, 10] });
  return { idx, target: oneHot(idx, 10).to('float32') }; // F.one_hot(idx, 10).float()
}

/** Trains one toy model as the script does; returns the loss before each step (every one) . */
export function trainToy(model: ToyModel, data: { idx: Tensor; target: Tensor }, steps = TOY_STEPS): number[] {
  const opt = new Adam(model.parameters(), { lr: 0.001 });
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = mseLoss(model.forward(data.idx), data.target);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  return losses;
}

const firstAtOrBelow = (c: number[], thr: number): number | null => {
  const i = c.findIndex((x) => x <= thr);
  return i < 0 ? null : i;
};

interface ToyRun { stepsTied: number | null; stepsUntied: number | null; startTied: number; startUntied: number; finalTied: number; finalUntied: number; curveTied: number[]; curveUntied: number[]; params: { tied: number; untied: number } }

/** One seed of every toy variant: manualSeed(seed), build Model_1 (untied) then Model_2 (tied), train each. */
export function tyingUnit(seed: number, ctx: UnitContext): Record<string, ToyRun> {
  const out: Record<string, ToyRun> = {};
  const untiedRuns = new Map<string, number[]>(); // the untied model does not depend on the tie direction
  for (const v of TOY_VARIANTS) {
    manualSeed(seed);
    const m1 = toyModel(false, v);
    const m2 = toyModel(true, v);
    const data = toyData(v.tokens);
    const uKey = `${v.softmax}/${v.tokens}`;
    if (!untiedRuns.has(uKey)) untiedRuns.set(uKey, trainToy(m1, data));
    const lu = untiedRuns.get(uKey)!;
    const lt = trainToy(m2, data);
    const thr = toyThreshold(v);
    const every = (c: number[]) => c.filter((_, i) => i % RECORD_EVERY === 0);
    out[v.key] = {
      stepsTied: firstAtOrBelow(lt, thr), stepsUntied: firstAtOrBelow(lu, thr), startTied: lt[0], startUntied: lu[0],
      finalTied: lt[lt.length - 1], finalUntied: lu[lu.length - 1], curveTied: every(lt), curveUntied: every(lu),
      params: { tied: m2.parameters().reduce((n, p) => n + p.numel(), 0), untied: m1.parameters().reduce((n, p) => n + p.numel(), 0) },
    };
    ctx.log(`tying: seed ${seed}, ${v.key}: tied reaches ${thr} at ${out[v.key].stepsTied ?? 'never'}, untied at ${out[v.key].stepsUntied ?? 'never'}`);
  }
  return out;
}

export const tyingUnits = { tying: tyingUnit };

const ref = TYING_TORCH_REFERENCE;
/** PyTorch's per-seed outcome of a variant: "tied first in k of N", with median steps. */
function torchLine(key: string): string {
  const r = (ref.variants as Record<string, { stepsTied: readonly (number | null)[]; stepsUntied: readonly (number | null)[]; tiedFirst: number }>)[key];
  if (!r) return '—';
  return `tied first in ${r.tiedFirst} of ${ref.seeds}; steps ${fmtStat([...r.stepsTied])} vs ${fmtStat([...r.stepsUntied])}`;
}

export const tyingExperiment: Experiment = {
  name: 'tying',
  units: () => ['tying', 'gpt:base', 'gpt:untied'],
  summarise({ quick, seeds: seedList, units }) {
    const toy = units.tying as Record<string, ToyRun>[];
    const gt = units['gpt:base'] as GPTRunResult[], gu = units['gpt:untied'] as GPTRunResult[];
    const s = gptSettings(quick);
    const { data, unigram } = labText(quick);
    const seeds: Record<string, SeedValue[]> = {};
    for (const v of TOY_VARIANTS) {
      for (const k of ['stepsTied', 'stepsUntied', 'startTied', 'startUntied', 'finalTied', 'finalUntied'] as const) seeds[`${v.key}.${k}`] = toy.map((r) => r[v.key][k]);
    }
    seeds.gptValTied = gt.map((r) => r.final);
    seeds.gptValUntied = gu.map((r) => r.final);
    const f = (k: string, d = 3) => fmtStat(seeds[k], d);
    const med = (k: string) => stat(seeds[k]).median;

    const first: Record<string, Claim> = {};
    for (const v of TOY_VARIANTS) {
      first[v.key] = claim(v.key === 'original' ? 'asked.tiedFirst' : `${v.key}.tiedFirst`, seeds, `${v.key}.stepsTied`, `${v.key}.stepsUntied`, `steps to ${toyThreshold(v)}, tied`, 'untied', { digits: 4 });
    }
    const cStart = claim('original.tiedStartsLower', seeds, 'original.startTied', 'original.startUntied', 'loss at step 0, tied', 'untied');
    const cFlipStart = claim('embedding-init+no-softmax.startsHigh', seeds, 'embedding-init+no-softmax.startTied', 'embedding-init+no-softmax.startUntied', 'loss at step 0, tied (N(0, 1), no softmax)', 'untied');
    const cGpt = claim('gpt.tiedVsUntied', seeds, 'gptValTied', 'gptValUntied', 'GPT val loss tied', 'untied', { unit: ' nats' });
    const claims = [...Object.values(first), cStart, cFlipStart, cGpt];

    const o = first.original;
    const torchOrig = (ref.variants as Record<string, { tiedFirst: number }>).original;
    const list = (out: string) => TOY_VARIANTS.filter((v) => first[v.key].outcome === out).map((v) => v.label).join('; ') || 'none';
    const singleFlip = TOY_VARIANTS.slice(1, 4).filter((v) => first[v.key].outcome === 'a>b');
    const pair = first['embedding-init+no-softmax'];
    const judgement = [
      `${says(o, {
        less: `Confirmed for the program as written: the tied model reaches MSE 0.05 first (${o.text}; PyTorch 1.13 on the same program: ${torchLine('original')}).`,
        greater: `Refuted for the program as written: the untied model reaches MSE 0.05 first (${o.text}; PyTorch 1.13: ${torchLine('original')}).`,
        noise: `Not beyond seed noise for the program as written: ${o.text} (PyTorch 1.13 on the same program: ${torchLine('original')}) — tied is faster in most seeds (${torchOrig.tiedFirst} of ${ref.seeds} in PyTorch), not in all, and the 95% interval of the mean difference includes zero.`,
      })}`,
      `The "gradients from both ends" answer does not decide it: what does is the init that survives the tie and whether the loss sees softmax outputs. ${singleFlip.length === 0 ? 'No single change flips the outcome' : `A single change flips it: ${singleFlip.map((v) => v.label).join('; ')}`}; ${says(pair, {
        greater: `keeping Embedding's N(0, 1) **and** dropping the softmax does (${pair.text}): E·Eᵀ then starts with ‖e‖² ≈ 3 on its diagonal, the raw outputs overshoot the one-hot targets (${cFlipStart.text}), and Adam at lr 1e-3 needs most of the 2,000 steps to shrink them — under a softmax the same large diagonal is a confident right answer instead.`,
        less: `even N(0, 1) without softmax keeps tied first (${pair.text}).`,
        noise: `N(0, 1) without softmax leaves it within seed noise (${pair.text}).`,
      })} So "tying converges faster" is true only when the shared weight starts at the Linear's small init or the outputs pass through a softmax; the lab's former toy (all three changed) ${says(first['former-lab-toy'], { less: 'still shows tied first', greater: 'shows the opposite', noise: 'shows no difference beyond seed noise' })} (${first['former-lab-toy'].text}).`,
    ].join(' ');

    const gptReach = says(cGpt, { less: 'tied ends lower', greater: 'untied ends lower', noise: 'the difference is within seed noise' });
    const verdict = [
      `- **Counted once, stored once.** Tying removes exactly V·d parameters: ${toy[0].original.params.untied} → ${toy[0].original.params.tied} in the toy (10·3 = 30 fewer) and ${gu[0].params} → ${gt[0].params} in the GPT (${data.tokenizer.vocabSize}·${s.nEmbd} = ${data.tokenizer.vocabSize * s.nEmbd} fewer); the optimizer holds one parameter and updates it once per step, with the gradients of both uses summed.`,
      `- **The original program.** Steps to MSE 0.05: tied ${f('original.stepsTied', 4)} vs untied ${f('original.stepsUntied', 4)}; ${o.text}. ${says(cStart, { less: 'The tied model starts lower', greater: 'The tied model starts higher', noise: 'The tied model tends to start lower', equal: 'Both start alike' })} (${cStart.text}): with the Linear's U(±1/√3) weight the right token's logit gets +‖e‖² ≈ 1/3 at init.`,
      `- **One factor at a time.** ${TOY_VARIANTS.slice(1).map((v) => `${v.label}: ${first[v.key].text}`).join('; ')}. Tied first in every seed (or by the 95% interval): ${list('a<b')}; untied first: ${list('a>b')}; within seed noise: ${list('noise')}. At step 0, with N(0, 1) surviving and no softmax: ${cFlipStart.text}.`,
      `- **The direction of \`tie\`.** \`nn.tie(target, source)\` is \`target.weight = source.weight\`: the source's init survives. The question's script (and nanoGPT) write \`embedding.weight = head.weight\` — \`tie(embedding, head)\`, U(±1/√d); Hugging Face's \`tie_weights\` writes \`head.weight = embedding.weight\` — \`tie(head, embedding)\`, N(0, 1). nanoGPT and Hugging Face re-initialise the shared weight with N(0, 0.02) afterwards, so for them the direction changes nothing; in a hand-written model like this one it decides the outcome.`,
      `- **Char GPT on the Brown corpus.** After ${s.steps} steps the validation loss is ${f('gptValTied')} tied vs ${f('gptValUntied')} untied (unigram baseline ${num(unigram)}): ${cGpt.text}; ${gptReach}. Both share nanoGPT's N(0, 0.02) init, so here no init survives the tie: tying mainly saves the V·d parameters.`,
    ].join('\n');

    const toyRows = TOY_VARIANTS.map((v) => [v.label, toyThreshold(v), f(`${v.key}.stepsTied`, 4), f(`${v.key}.stepsUntied`, 4), `${first[v.key].less} of ${first[v.key].n}`, first[v.key].outcome === 'a<b' ? 'tied first' : first[v.key].outcome === 'a>b' ? 'untied first' : 'within seed noise', torchLine(v.key)]);
    const curve = (k: 'curveTied' | 'curveUntied', v: string) => band(toy.map((r) => r[v][k]));
    const xs = toy[0].original.curveTied.map((_, i) => i * RECORD_EVERY);
    const toyChart = (v: ToyVariant, file: string) => {
      const bt = curve('curveTied', v.key), bu = curve('curveUntied', v.key);
      return {
        file,
        chart: {
          kind: 'line' as const, title: `Toy, ${v.key}: MSE (median, band over ${seedList.length} seeds)`, xLabel: 'step', yLabel: 'MSE', logY: true,
          series: [{ name: 'tied', x: xs, y: bt.median, band: { lo: bt.lo, hi: bt.hi } }, { name: 'untied', x: xs, y: bu.median, band: { lo: bu.lo, hi: bu.hi }, dashed: true }],
          hlines: [{ y: toyThreshold(v), label: `threshold ${toyThreshold(v)}` }],
        },
      };
    };
    const gb = (runs: GPTRunResult[]) => band(runs.map((r) => r.val));

    return {
      name: 'tying',
      title: '5. Weight tying (tying)',
      question: 'What does sharing one [V, d] parameter between Embedding and Linear change — parameter count, gradients, training speed — and what decides the speed?',
      asAsked: {
        question: 'With weight tying (self.embedding.weight = self.head.weight) my small model converges faster than without — is that what tying does?',
        source: 'A blog post exploring weight tying (quoted in issue 14): it trains the two models below side by side and plots both loss curves. The script draws the models\' inits before seeding, so each run of it differs; the lab seeds the init per run and draws the data as the script does.',
        commonAnswer: 'Yes: tying gives the shared matrix gradients from both the input and the output side, so it learns faster (and it halves those parameters).',
        program: [
          '`Model_1`: `Embedding(10, 3)` → `Linear(3, 10)` → `softmax`; `Model_2` the same with `self.embedding.weight = self.head.weight` (qkv: `nn.tie(embedding, head)`), so the shared weight keeps the Linear\'s U(±1/√3) init.',
          `Data: \`torch.manual_seed(0); input_indexes = torch.randint(0, 10, (2, 3))\` = [[${ORIGINAL_TOKENS.slice(0, 3).join(', ')}], [${ORIGINAL_TOKENS.slice(3).join(', ')}]] (only ${new Set(ORIGINAL_TOKENS).size} distinct tokens), targets their one-hot vectors; \`nn.MSELoss()\`; \`Adam(lr=0.001)\` per model; ${TOY_STEPS} steps on that one batch. Seeds ${seedList.join(', ')} seed the inits (model 1 first, as in the script).`,
        ].join('\n'),
        printout: [
          'What the script prints after training: `model_1.embedding.weight == model_1.head.weight` is False everywhere (two parameters), `model_2.embedding.weight == model_2.head.weight` True everywhere (one). Its plot, reproduced:',
        ].join('\n'),
        judgement,
        figures: {
          seeds: seedList.length,
          'steps to MSE 0.05, tied': med('original.stepsTied'), 'steps to MSE 0.05, untied': med('original.stepsUntied'),
          'tied first in': `${o.less} of ${o.n} seeds`, 'loss after 2,000 steps, tied': med('original.finalTied'), 'loss after 2,000 steps, untied': med('original.finalUntied'),
          'PyTorch 1.13, same program': torchLine('original'),
        },
      },
      setup: [
        `- Toy: the script above and five changes of it, each over seeds ${seedList.join(', ')}; the untied model is the same in variants that differ only in the tie direction. Thresholds: MSE 0.05; 0.07 without softmax over all ten tokens (the best rank-3 affine map leaves 0.06). PyTorch 1.13 figures come from \`scripts/lab/tying_as_asked.py\` (the same programs over seeds 0–${ref.seeds - 1}; qkv cannot reproduce PyTorch's random streams bit for bit, so outcomes are compared, not curves).`,
        `- GPT: char GPT (${s.nLayer} layers, d_model ${s.nEmbd}, ${s.nHead} heads, context ${s.blockSize}; nanoGPT init, which re-draws the tied weight N(0, 0.02)) on ${data.source}, tied vs untied head, ${s.steps} steps of batch ${s.batchSize}, AdamW lr ${s.lr} with weight decay 0.1, warm-up and cosine; validation loss every ${s.evalEvery} steps.`,
      ].join('\n'),
      tables: [
        {
          title: 'Toy: steps to the threshold (median and range over seeds; "never" = not within 2,000)',
          columns: ['variant', 'threshold', 'tied', 'untied', 'tied first in', 'outcome', `PyTorch 1.13 (${ref.seeds} seeds)`],
          rows: toyRows,
        },
        {
          title: 'Parameters and GPT results',
          columns: ['model', 'parameters, tied', 'parameters, untied', 'final loss, tied', 'final loss, untied'],
          rows: [
            ['toy (original)', toy[0].original.params.tied, toy[0].original.params.untied, f('original.finalTied'), f('original.finalUntied')],
            ['char GPT (validation)', gt[0].params, gu[0].params, f('gptValTied'), f('gptValUntied')],
          ],
        },
      ],
      charts: [
        toyChart(TOY_VARIANTS[0], 'tying-toy'),
        toyChart(TOY_VARIANTS[4], 'tying-toy-flipped'),
        {
          file: 'tying-gpt',
          chart: {
            kind: 'line', title: `Char GPT on the Brown corpus: validation loss (band over ${seedList.length} seeds)`, xLabel: 'step', yLabel: 'cross-entropy (nats/char)',
            series: [{ name: 'tied', x: gt[0].steps, y: gb(gt).median, band: { lo: gb(gt).lo, hi: gb(gt).hi } }, { name: 'untied', x: gu[0].steps, y: gb(gu).median, band: { lo: gb(gu).lo, hi: gb(gu).hi }, dashed: true }],
            hlines: [{ y: unigram, label: 'unigram baseline' }],
          },
        },
      ],
      verdict,
      figures: {
        seeds: seedList.length, toySteps: TOY_STEPS,
        toyParamsTied: toy[0].original.params.tied, toyParamsUntied: toy[0].original.params.untied,
        ...Object.fromEntries(TOY_VARIANTS.flatMap((v) => [[`${v.key}.tiedFirst`, first[v.key].less], [`${v.key}.medianStepsTied`, med(`${v.key}.stepsTied`)], [`${v.key}.medianStepsUntied`, med(`${v.key}.stepsUntied`)]])),
        gptParamsTied: gt[0].params, gptParamsUntied: gu[0].params, vocab: data.tokenizer.vocabSize, dModel: s.nEmbd,
        gptValTied: med('gptValTied'), gptValUntied: med('gptValUntied'), unigram, gptSteps: s.steps,
      },
      seedList, seeds, claims,
    };
  },
};
