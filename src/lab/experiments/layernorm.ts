/**
 * Lab 3 — layernorm: post-LN vs pre-LN TransformerEncoderLayer across d_model.
 *
 * As asked: `nn.TransformerEncoderLayer(d_model=2, nhead=1)` with PyTorch's defaults
 * (dim_feedforward 2048, dropout 0.1, post-LN, sequence-first, training mode) on a random input,
 * printing its output.
 *
 * A post-LN layer ends in LayerNorm. Over d features LayerNorm maps x to (x − mean)/std: d − 1
 * degrees of freedom minus the scale. At d = 2 that leaves only a sign: (a, b) ↦ ±(1, −1).
 * Part A measures outputs at init across d_model; Part B trains each layer with a linear
 * readout on a per-token regression task — over seeds.
 */
import { Tensor } from '../../tensor/tensor.js';
import { randn } from '../../tensor/creation.js';
import { Generator, manualSeed } from '../../tensor/random.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { TransformerEncoderLayer } from '../../nn/transformer.js';
import { Linear } from '../../nn/linear.js';
import { mseLoss } from '../../ops/loss.js';
import { Adam } from '../../optim/adam.js';
import type { Experiment, UnitContext } from '../experiment.js';
import { band, claim, fmtStat, num, says, stat, type SeedValue } from '../seeds.js';

const DIMS = [2, 4, 8, 64];
const heads = (d: number) => (d === 64 ? 4 : 2);
const ASKED = { seq: 5, batch: 1 };

function settings(quick: boolean) {
  return { T: 12, B: 16, steps: quick ? 150 : 300, every: quick ? 15 : 25 };
}

/**
 * Distinct token vectors (rounded to 0.01), the largest | |y| − 1 | over all entries, and the
 * share of tokens with some | |y| − 1 | > 0.01.
 */
function describe(y: Tensor): { distinct: number; tokens: number; maxDevFromUnit: number; offUnit: number } {
  const d = y.shape[y.shape.length - 1];
  const a = y.toFlat();
  const seen = new Set<string>();
  let dev = 0, off = 0;
  for (let i = 0; i < a.length; i += d) {
    seen.add(Array.from(a.subarray(i, i + d) as ArrayLike<number>, (v) => v.toFixed(2)).join(','));
    let tokDev = 0;
    for (let j = 0; j < d; j++) tokDev = Math.max(tokDev, Math.abs(Math.abs(a[i + j]) - 1));
    dev = Math.max(dev, tokDev);
    if (tokDev > 0.01) off++;
  }
  return { distinct: seen.size, tokens: a.length / d, maxDevFromUnit: dev, offUnit: off / (a.length / d) };
}

/** For post-LN: the final LayerNorm's normalised output ŷ = (y − bias)/weight, described. */
function describeLayer(layer: TransformerEncoderLayer, y: Tensor): { distinct: number; tokens: number; maxDev: number | null; offUnit: number | null } {
  const s = describe(y);
  if (layer.normFirst) return { distinct: s.distinct, tokens: s.tokens, maxDev: null, offUnit: null };
  const n = layer.norm2;
  const u = describe(noGrad(() => y.sub(n.bias!).div(n.weight!)));
  return { distinct: s.distinct, tokens: s.tokens, maxDev: u.maxDevFromUnit, offUnit: u.offUnit };
}

interface LayernormSeed {
  asked: { output: number[][]; distinct: number; tokens: number; maxDev: number };
  atInit: Record<string, { distinct: number; tokens: number; maxDev: number | null; offUnit: number | null }>;
  /** Post-LN d 2 after training: distinct vectors, largest deviation from ±1, share of tokens off ±1 by > 0.01. */
  trained2: { distinct: number; maxDev: number; offUnit: number };
  steps: number[];
  curves: Record<string, number[]>;
}

export function layernormUnit(seed: number, ctx: UnitContext): LayernormSeed {
  const { T, B, steps, every } = settings(ctx.quick);
  // As asked: PyTorch's defaults, sequence-first input, training mode (dropout 0.1 active).
  manualSeed(seed);
  const asked = new TransformerEncoderLayer(2, 1);
  const src = randn([ASKED.seq, ASKED.batch, 2]);
  const yAsked = noGrad(() => asked.forward(src));
  const dA = describe(yAsked);
  const output = Array.from({ length: ASKED.seq }, (_, i) => Array.from(yAsked.select(0, i).select(0, 0).toFlat() as ArrayLike<number>));
  const res: LayernormSeed = { asked: { output, distinct: dA.distinct, tokens: dA.tokens, maxDev: dA.maxDevFromUnit }, atInit: {}, trained2: { distinct: 0, maxDev: 0, offUnit: 0 }, steps: [], curves: {} };

  for (const d of DIMS) {
    for (const normFirst of [false, true]) {
      manualSeed(seed * 1000 + d);
      const layer = new TransformerEncoderLayer(d, heads(d), { dimFeedforward: 4 * d, batchFirst: true, normFirst }).eval();
      res.atInit[`${normFirst ? 'pre' : 'post'}-${d}`] = describeLayer(layer, noGrad(() => layer.forward(randn([B, T, d]).mul(3))));
    }
  }
  for (const d of DIMS) {
    for (const normFirst of [false, true]) {
      const key = `${normFirst ? 'pre' : 'post'}-${d}`;
      manualSeed(seed * 1000 + 100 + d);
      const w0 = randn([d, 1]);
      const w = w0.div(w0.norm().item()); // unit norm: the target has unit variance whatever d
      const layer = new TransformerEncoderLayer(d, heads(d), { dimFeedforward: 4 * d, dropout: 0, batchFirst: true, normFirst });
      const readout = new Linear(d, 1);
      const opt = new Adam([...layer.parameters(), ...readout.parameters()], { lr: 3e-3 });
      const gen = new Generator(seed * 1000 + 5);
      const evalX = randn([64, T, d], { generator: new Generator(seed * 1000 + 6) });
      const evalY = evalX.matmul(w);
      const lossNow = () => noGrad(() => mseLoss(readout.forward(layer.forward(evalX)), evalY).item());
      const curve = [lossNow()];
      const record = res.steps.length === 0;
      if (record) res.steps.push(0);
      for (let step = 1; step <= steps; step++) {
        const x = randn([B, T, d], { generator: gen });
        opt.zeroGrad();
        mseLoss(readout.forward(layer.forward(x)), x.matmul(w)).backward();
        opt.step();
        if (step % every === 0) {
          if (record) res.steps.push(step);
          curve.push(lossNow());
        }
      }
      res.curves[key] = curve;
      if (key === 'post-2') {
        const after = describeLayer(layer.eval(), noGrad(() => layer.forward(evalX)));
        res.trained2 = { distinct: after.distinct, maxDev: after.maxDev!, offUnit: after.offUnit! };
      }
      ctx.log(`layernorm: seed ${seed}, d_model ${d} ${normFirst ? 'pre' : 'post'}-LN: ${num(curve[0])} → ${num(curve[curve.length - 1])}`);
    }
  }
  return res;
}

export const layernormUnits = { layernorm: layernormUnit };

export const layernormExperiment: Experiment = {
  name: 'layernorm',
  units: () => ['layernorm'],
  summarise({ quick, seeds: seedList, units }) {
    const runs = units.layernorm as LayernormSeed[];
    const { T, B, steps, every } = settings(quick);
    const last = (c: number[]) => c[c.length - 1];
    const seeds: Record<string, SeedValue[]> = {
      asked_distinct: runs.map((r) => r.asked.distinct), asked_maxDev: runs.map((r) => r.asked.maxDev),
      post2Distinct: runs.map((r) => r.atInit['post-2'].distinct), post2MaxDev: runs.map((r) => r.atInit['post-2'].maxDev),
      pre2Distinct: runs.map((r) => r.atInit['pre-2'].distinct), post4Distinct: runs.map((r) => r.atInit['post-4'].distinct),
      post2TrainedDistinct: runs.map((r) => r.trained2.distinct), post2TrainedMaxDev: runs.map((r) => r.trained2.maxDev), post2TrainedOffUnit: runs.map((r) => r.trained2.offUnit),
    };
    for (const d of DIMS) for (const n of ['post', 'pre']) seeds[`loss_${n}-${d}`] = runs.map((r) => last(r.curves[`${n}-${d}`]));
    const tokens = runs[0].atInit['post-2'].tokens;
    const med = (k: string) => stat(seeds[k]).median as number;
    const f = (k: string, d = 3) => fmtStat(seeds[k], d);
    const signFloor = 1 - 2 / Math.PI;

    const cAsked = claim('asked.plusMinusOne', seeds, 'asked_maxDev', 1e-3, 'max | |output| − 1 | of the asked layer', '1e-3');
    const cAskedTwo = claim('asked.twoVectors', seeds, 'asked_distinct', 2.5, 'distinct output vectors of the asked layer', '2.5');
    const cTrained = claim('trainedOffUnit', seeds, 'post2TrainedOffUnit', 0.01, 'share of tokens off ±1 after training (post-LN, d 2)', '1%');
    const cMean = claim('post2AboveSignFloor', seeds, 'loss_post-2', signFloor, 'post-LN d 2 held-out MSE', `the sign floor ${num(signFloor)}`);
    const cPre2 = claim('pre2Fits', seeds, 'loss_pre-2', 'loss_post-2', 'pre-LN d 2 MSE', 'post-LN d 2 MSE');
    const cPost4 = claim('post4Varied', seeds, 'post4Distinct', tokens - 0.5, 'distinct vectors, post-LN d 4', `${tokens - 0.5}`);
    const cWide = claim('post64VsPre64', seeds, 'loss_post-64', 'loss_pre-64', 'post-LN d 64 MSE', 'pre-LN d 64 MSE');
    const claims = [cAsked, cAskedTwo, cTrained, cMean, cPre2, cPost4, cWide];

    const judgement = cAsked.outcome === 'a<b' && cPost4.outcome === 'a>b'
      ? `True only when d_model = 2. The asked layer outputs ±1 in every seed (${cAsked.text}; ${cAskedTwo.text}) — at init, before any training, so it is not post-LN's training instability: LayerNorm over two features has one degree of freedom, and the final norm of a post-LN layer maps every token to ±(1, −1). norm_first=True does fix it (${cPre2.text}) because the residual stream skips the norm, but post-LN itself is not the problem: at d_model 4 post-LN already outputs ${f('post4Distinct')} distinct vectors of ${tokens} (${cPost4.text}), and at d_model 64 both fit (MSE ${f('loss_post-64')} post vs ${f('loss_pre-64')} pre; ${cWide.text}).`
      : `Not confirmed in every seed: ${cAsked.text}; ${cPost4.text}.`;

    const verdict = [
      `- **The collapse at d_model = 2 is exact.** Every post-LN output is ±1 (largest deviation ${f('post2MaxDev')}), and the ${tokens} tokens produce ${f('post2Distinct')} distinct vectors, (1, −1) and (−1, 1). With m = (x₁ + x₂)/2 and σ = |x₁ − x₂|/2, (x − m)/σ = sign(x₁ − x₂)·(1, −1): each token is reduced to one sign (then scaled by the norm's weight and shifted by its bias).`,
      `- **Structural, not a training instability.** It holds at init, before any step, and training cannot undo it — only use the one bit per token it leaves, the sign of x₁ − x₂. After ${steps} steps the post-LN model ends at held-out MSE ${f('loss_post-2')} on a unit-variance target: predicting the mean gives 1.0, and a sign perfectly aligned with the target gives 1 − 2/π = ${num(signFloor)} (${cMean.text}). ${says(cTrained, {
        less: `The outputs stay on ±1 (${cTrained.text}; largest deviation ${f('post2TrainedMaxDev')}): what training learned is to align that sign with the target.`,
        greater: `Training also pushed tokens into the sliver |x₁ − x₂| ≲ 2√ε ≈ 0.006 where LayerNorm (ε = 1e-5) is still linear (${cTrained.text}; largest deviation ${f('post2TrainedMaxDev')}).`,
        noise: `In some seeds training pushed tokens into the sliver |x₁ − x₂| ≲ 2√ε ≈ 0.006 where LayerNorm (ε = 1e-5) is still linear (${cTrained.text}; largest deviation ${f('post2TrainedMaxDev')}).`,
      })}`,
      `- **Pre-LN keeps the residual stream.** At d_model 2 pre-LN outputs ${f('pre2Distinct')} distinct token vectors of ${tokens} and fits: ${cPre2.text}. Already at d_model 4 post-LN outputs ${f('post4Distinct')} distinct vectors (three degrees of freedom) and both variants fit (post ${f('loss_post-4')} vs pre ${f('loss_pre-4')} at d 4; at d 64 ${cWide.text}).`,
      '- So "use pre-LN" is the fix only for the degenerate width: a LayerNorm at the very end sees d − 1 degrees of freedom, which at d = 2 is a sign.',
    ].join('\n');

    const out0 = runs[0].asked.output;
    const printout = [
      `What it prints (seed ${seedList[0]}; shape (${ASKED.seq}, ${ASKED.batch}, 2), training mode):`,
      '',
      '```text',
      ...out0.map((row) => `[[${row.map((v) => v.toFixed(4).padStart(8)).join(', ')}]]`),
      '```',
    ].join('\n');

    return {
      name: 'layernorm',
      title: '3. Post-LN vs pre-LN (layernorm)',
      question: 'Is the ±1 output about post-LN in general, or about LayerNorm over too few features?',
      asAsked: {
        question: 'My nn.TransformerEncoderLayer(d_model=2, …, norm_first=False) outputs only 1 and −1 — why?',
        source: 'The problem as DESIGN.md records it (problem 3): the layer with d_model = 2 and PyTorch\'s defaults; the asker\'s own input is not known, so the lab feeds x ~ N(0, 1).',
        commonAnswer: 'Post-LN normalises the output of every sublayer (and post-LN trains unstably); use norm_first=True (pre-LN).',
        program: `\`TransformerEncoderLayer(d_model=2, nhead=1)\` with PyTorch's defaults — dim_feedforward 2048, dropout 0.1, ReLU, layer_norm_eps 1e-5, batch_first False, norm_first False, freshly constructed (training mode) — applied to src ~ N(0, 1) of shape (${ASKED.seq}, ${ASKED.batch}, 2); seeds ${seedList.join(', ')}.`,
        printout,
        judgement,
        figures: {
          seeds: seedList.length, [`distinct output vectors (of ${runs[0].asked.tokens} tokens)`]: med('asked_distinct'),
          'max | |output| − 1 |': med('asked_maxDev'), 'every output ±1 in … seeds': `${cAsked.less} of ${cAsked.n}`,
        },
      },
      setup: [
        `\`nn.TransformerEncoderLayer(d, ${heads(2)} or 4 heads, dim_feedforward 4d, batch_first)\` for d_model ∈ {${DIMS.join(', ')}}, post-LN (norm_first false) and pre-LN; seeds ${seedList.join(', ')}.`,
        '',
        `- Part A: outputs on random inputs x ~ N(0, 9), (${B}, ${T}, d), at init.`,
        `- Part B: layer + Linear(d, 1) readout trained on y_t = ⟨w, x_t⟩ (unit variance), MSE, Adam (lr 3e-3), batch ${B}, ${steps} steps, dropout 0; held-out loss on 64 sequences every ${every} steps.`,
      ].join('\n'),
      tables: [
        {
          title: 'Part A: distinct output vectors at init (median and range over seeds)',
          columns: ['d_model', 'variant', 'tokens', 'distinct token vectors', 'max | |ŷ| − 1 | of the final LayerNorm'],
          rows: DIMS.flatMap((d) => ['post', 'pre'].map((n) => {
            const k = `${n}-${d}`;
            const md = runs.map((r) => r.atInit[k].maxDev);
            return [d, `${n}-LN`, tokens, fmtStat(runs.map((r) => r.atInit[k].distinct)), md[0] === null ? '—' : fmtStat(md)];
          })),
        },
        {
          title: `Part B: held-out MSE after ${steps} steps (median and range over seeds)`,
          columns: ['d_model', 'post-LN', 'pre-LN'],
          rows: DIMS.map((d) => [d, f(`loss_post-${d}`), f(`loss_pre-${d}`)]),
        },
      ],
      charts: [{
        file: 'layernorm-training',
        chart: {
          kind: 'line', title: 'Per-token readout: post-LN (solid) vs pre-LN (dashed), seed bands', xLabel: 'step', yLabel: 'held-out MSE', logY: true,
          series: DIMS.flatMap((d) => ['post', 'pre'].map((n) => { const b = band(runs.map((r) => r.curves[`${n}-${d}`])); return { name: `${n}-LN, d_model ${d}`, x: runs[0].steps, y: b.median, band: { lo: b.lo, hi: b.hi }, dashed: n === 'pre' }; })),
          hlines: [{ y: signFloor, label: 'floor from a sign bit (1 − 2/π)' }],
        },
      }],
      verdict,
      figures: {
        seeds: seedList.length, steps, tokens,
        askedDistinct: med('asked_distinct'), askedMaxDeviation: med('asked_maxDev'),
        post2Distinct: med('post2Distinct'), post2MaxDeviation: med('post2MaxDev'), post2TrainedDistinct: med('post2TrainedDistinct'), post2TrainedMaxDeviation: med('post2TrainedMaxDev'),
        pre2Distinct: med('pre2Distinct'), post4Distinct: med('post4Distinct'),
        ...Object.fromEntries(DIMS.flatMap((d) => ['post', 'pre'].map((n) => [`loss_${n}-${d}`, med(`loss_${n}-${d}`)]))),
      },
      seedList, seeds, claims,
    };
  },
};
