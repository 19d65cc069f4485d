/**
 * Lab 2 — layout: a packed QKV projection read in the wrong layout.
 *
 * As asked: the question's function — `query_key_value = Linear(128, 384)`, n_head 4, head_size
 * 32; q taken from `view(B, T, n_head, 3·head_size).split(head_size)` and compared with
 * `manual_q = F.linear(x, W.chunk(3)[0], b.chunk(3)[0])`, printing both max differences.
 *
 * Explanation: which slice of the packed output each wrongly split "head" really is, and a char
 * GPT trained with blocked packing (the shared 'gpt:base' unit) evaluated as trained, misread
 * head-interleaved, and converted with the layout declared — over seeds.
 */
import { Tensor } from '../../tensor/tensor.js';
import { randn } from '../../tensor/creation.js';
import { manualSeed } from '../../tensor/random.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { linear } from '../../ops/matmul.js';
import { Linear } from '../../nn/linear.js';
import { convertPackedLayout } from '../../nn/qkv-layout.js';
import type { Experiment, UnitContext } from '../experiment.js';
import { gptSettings, labText, type GPTRunResult } from '../gpt-runs.js';
import { claim, fmtStat, num, says, stat, type SeedValue } from '../seeds.js';

const ASKED = { nEmbd: 128, nHead: 4, headSize: 32, B: 2, T: 16 };
const maxAbs = (a: Tensor, b: Tensor): number => noGrad(() => a.sub(b).abs().max().item());

interface LayoutSeed {
  maxErrUnsplit: number;
  maxErrWrong: number;
  maxErrSplitFirst: number;
  maxErrConverted: number;
  qScale: number;
  /** Per head of the wrong split: the block it really holds ("q head 3"), and its max error. */
  heads: { reads: string; maxErr: number }[];
}

/** The question's function, run as written (with qkv's ops), plus the two fixes. */
export function layoutUnit(seed: number): LayoutSeed {
  const { nEmbd, nHead, headSize, B, T } = ASKED;
  manualSeed(seed);
  const qkv = new Linear(nEmbd, 3 * nEmbd); // query_key_value, with bias
  const x = randn([B, T, nEmbd]);
  return noGrad(() => {
    const debug = qkv.forward(x); // (B, T, 3·n_embd)
    const unsplitQ = debug.split(nEmbd, -1)[0];
    const q = debug.view(B, T, nHead, 3 * headSize).split(headSize, -1)[0]; // the question's q: (B, T, n_head, head_size)
    const [qw, kw, vw] = qkv.weight.chunk(3, 0);
    const [qb, kb, vb] = qkv.bias!.chunk(3, 0);
    const manualQ = linear(x, qw, qb);
    const errUnsplit = maxAbs(unsplitQ, manualQ);
    const manualQHeads = manualQ.view(B, T, nHead, headSize);
    // The fix: split into q, k, v first, then view into heads (the blocked convention).
    const qFirst = debug.split(nEmbd, -1)[0].view(B, T, nHead, headSize);
    // Or: convert the packed weight to head-interleaved, after which the question's view is right.
    const conv = linear(x, convertPackedLayout(qkv.weight, nHead, 'blocked', 'head-interleaved'), convertPackedLayout(qkv.bias!, nHead, 'blocked', 'head-interleaved'));
    const qConv = conv.view(B, T, nHead, 3 * headSize).split(headSize, -1)[0];
    // What each wrong "head" holds: compare with every (role, head) block of the true projections.
    const blocks: { name: string; t: Tensor }[] = [];
    ([['q', qw, qb], ['k', kw, kb], ['v', vw, vb]] as const).forEach(([role, w, b]) => {
      const full = linear(x, w, b).view(B, T, nHead, headSize);
      for (let h = 0; h < nHead; h++) blocks.push({ name: `${role} of head ${h}`, t: full.select(2, h) });
    });
    const heads = Array.from({ length: nHead }, (_, h) => {
      const wrong = q.select(2, h);
      const match = blocks.find((bl) => maxAbs(bl.t, wrong) === 0);
      return { reads: match ? match.name : 'no single block', maxErr: maxAbs(wrong, manualQHeads.select(2, h)) };
    });
    return {
      maxErrUnsplit: errUnsplit, maxErrWrong: maxAbs(q, manualQHeads), maxErrSplitFirst: maxAbs(qFirst, manualQHeads),
      maxErrConverted: maxAbs(qConv, manualQHeads), qScale: manualQ.abs().max().item(), heads,
    };
  });
}

export const layoutUnits = { layout: (seed: number, _ctx: UnitContext) => layoutUnit(seed) };

export const layoutExperiment: Experiment = {
  name: 'layout',
  units: () => ['layout', 'gpt:base'],
  summarise({ quick, seeds: seedList, units }) {
    const a = units.layout as LayoutSeed[];
    const g = units['gpt:base'] as GPTRunResult[];
    const s = gptSettings(quick);
    const { data, unigram } = labText(quick);
    const seeds: Record<string, SeedValue[]> = {
      maxErrUnsplit: a.map((r) => r.maxErrUnsplit), maxErrWrong: a.map((r) => r.maxErrWrong), qScale: a.map((r) => r.qScale),
      wrongRatio: a.map((r) => r.maxErrWrong / r.qScale), maxErrSplitFirst: a.map((r) => r.maxErrSplitFirst), maxErrConverted: a.map((r) => r.maxErrConverted),
      head0Err: a.map((r) => r.heads[0].maxErr),
      valRight: g.map((r) => r.layout!.valRight), valMisread: g.map((r) => r.layout!.valMisread), valConverted: g.map((r) => r.layout!.valConverted),
      logitErrMisread: g.map((r) => r.layout!.logitErrMisread), logitErrConverted: g.map((r) => r.layout!.logitErrConverted),
    };
    const med = (k: string) => stat(seeds[k]).median as number;
    const f = (k: string, d = 3) => fmtStat(seeds[k], d);
    const cWrong = claim('asked.wrongSplitLarge', seeds, 'wrongRatio', 0.25, 'max|q − manual_q| / max|manual_q|', '0.25');
    const cFix = claim('splitFirstExact', seeds, 'maxErrSplitFirst', 1e-6, 'split-then-view error', '1e-6');
    const cMisread = claim('misreadWorse', seeds, 'valRight', 'valMisread', 'val loss as trained', 'val loss misread');
    const cConverted = claim('convertedExact', seeds, 'logitErrConverted', 1e-6, 'max logit error of the converted model', '1e-6');
    const claims = [cWrong, cFix, cMisread, cConverted];
    const mapping = a[0].heads.map((h, i) => `head ${i} → ${h.reads}`).join(', ');
    const sameMapping = a.every((r) => r.heads.every((h, i) => h.reads === a[0].heads[i].reads));
    const { nEmbd, nHead, headSize, B, T } = ASKED;

    const judgement = cWrong.outcome === 'a>b' && cFix.outcome === 'a<b'
      ? `Confirmed: the view reinterprets the packed output. \`view(B, T, ${nHead}, ${3 * headSize})\` cuts [q | k | v] into per-head groups of ${3 * headSize} columns, so the "q" of each head is a ${headSize}-column slice that is ${sameMapping ? 'in every seed' : 'in seed ' + seedList[0]}: ${mapping}. Only head 0 is right (by coincidence: error ${f('head0Err')}), which is why a spot check of the first head can pass. Splitting into q, k, v first and then viewing into heads gives the error ${f('maxErrSplitFirst')} (${cFix.text}); the question's view is right only for weights packed head-interleaved (GPT-NeoX), and converting the weight to that layout also gives ${f('maxErrConverted')}. The size of the error (${num(med('maxErrWrong'))} here, 35.6 in the question) scales with the activations: relative to max|q| it is ${f('wrongRatio', 2)}.`
      : `Not confirmed in every seed: ${cWrong.text}; ${cFix.text}.`;

    const verdict = [
      `- **The wrong split is silent and large.** Same shapes, wrong values: max|q − manual_q| = ${f('maxErrWrong')} while the entries reach ${f('qScale')} (${cWrong.text}); the whole tensor before the view matches exactly (${f('maxErrUnsplit')}).`,
      `- **It breaks a trained model without an error.** A ${s.nLayer}-layer char GPT trained ${s.steps} steps with blocked packing has validation loss ${f('valRight')} nats; the same weights read head-interleaved give ${f('valMisread')} (${cMisread.text}; uniform guessing ${num(Math.log(data.tokenizer.vocabSize))}, unigram ${num(unigram)}), with logits off by up to ${f('logitErrMisread')}.`,
      `- **Layout as data fixes it exactly.** Converting the packed weight with \`convertPackedLayout\` and declaring the layout gives ${f('valConverted')} and logits within ${f('logitErrConverted')} of the original (${cConverted.text}): the permutation is exact, so q, k, v per head are right by construction.`,
      `- ${says(cMisread, { less: 'The misread model is worse in every seed, not by chance.', greater: 'The misread model was better — unexpected; see the per-seed table.', noise: 'The misread model is not reliably worse at this training length — within seed noise.' })}`,
    ].join('\n');

    const printout = [
      'The question\'s two prints, seed ' + seedList[0] + ' (its own run printed `tensor(0.)` and `tensor(35.6218)`):',
      '',
      '```text',
      `max|unsplit_q - manual_q| = ${num(a[0].maxErrUnsplit)}`,
      `max|q - manual_q|         = ${num(a[0].maxErrWrong, 4)}`,
      '```',
    ].join('\n');

    return {
      name: 'layout',
      title: '2. Packed QKV split into heads (layout)',
      question: 'A fused projection packs q, k, v for all heads; view-then-split (GPT-NeoX) and split-then-view (GPT-2, PyTorch MHA) are different conventions. What does mixing them cost?',
      asAsked: {
        question: 'My q from the packed QKV projection matches manual_q before the split into heads, but after view(batch, seq, n_head, 3·head_size) and split they differ widely (max 35.6) — what is happening?',
        source: 'Stack Overflow question 78910115 (getting the Q matrix of a concatenated QKV projection for KV caching); it posts the function, with n_head 4 and head_size 32 (so n_embd 128), not the model or its input.',
        commonAnswer: 'The view operations change the layout of the data: the packed output is [all q | all k | all v], so viewing it as (n_head, 3·head_size) mixes q, k and v of different heads; split into q, k, v first, then view into heads.',
        program: [
          `The posted function with qkv's ops: \`query_key_value = Linear(${nEmbd}, ${3 * nEmbd})\` (PyTorch init, with bias), x ~ N(0, 1) of shape (${B}, ${T}, ${nEmbd}) (the question's input is not given);`,
          `\`unsplit_q = qkv(x).split(${nEmbd})[0]\`, \`q = qkv(x).view(${B}, ${T}, ${nHead}, ${3 * headSize}).split(${headSize})[0]\`, \`manual_q = linear(x, W.chunk(3)[0], b.chunk(3)[0]).view(${B}, ${T}, ${nHead}, ${headSize})\`.`,
        ].join('\n'),
        printout,
        judgement,
        figures: {
          seeds: seedList.length, 'max|unsplit_q − manual_q|': med('maxErrUnsplit'), 'max|q − manual_q|': med('maxErrWrong'),
          'max|manual_q|': med('qScale'), 'error / max|q|': med('wrongRatio'), 'error after split-then-view': med('maxErrSplitFirst'),
          [`which slice each head reads (seed ${seedList[0]})`]: mapping,
        },
      },
      setup: [
        `- Part A: the question's function over seeds ${seedList.join(', ')} (a fresh Linear and input per seed), each head of the wrong split matched against the 12 true (q/k/v, head) blocks.`,
        `- Part B: a char GPT (${s.nLayer} layers, d_model ${s.nEmbd}, ${s.nHead} heads, context ${s.blockSize}, blocked packing like nanoGPT/GPT-2, tied) trained ${s.steps} steps of batch ${s.batchSize} on ${data.source} (AdamW lr ${s.lr}, weight decay 0.1, warm-up + cosine), then evaluated on ${2 * s.evalBatches} validation batches three ways: as trained; the same weights read head-interleaved (the bug); converted to head-interleaved with the layout declared (the fix).`,
      ].join('\n'),
      tables: [
        {
          title: 'Part A: max |error| against manual_q (median and range over seeds)',
          columns: ['split', 'max |error|'],
          rows: [
            ['before the view (unsplit_q)', f('maxErrUnsplit')],
            [`view(…, ${nHead}, ${3 * headSize}) then split (the question)`, f('maxErrWrong')],
            ['split into q, k, v, then view (blocked: the fix)', f('maxErrSplitFirst')],
            ['weight converted to head-interleaved, then the question\'s view', f('maxErrConverted')],
            ...a[0].heads.map((h, i) => [`the question's head ${i} = ${h.reads}`, fmtStat(a.map((r) => r.heads[i].maxErr))]),
          ],
        },
        {
          title: 'Part B: the trained GPT read three ways (validation nats/char)',
          columns: ['reading', ...seedList.map((x) => `seed ${x}`), 'median (range)', 'max |logit error|'],
          rows: [
            ['as trained (blocked)', ...g.map((r) => r.layout!.valRight), f('valRight'), 0],
            ['same weights read head-interleaved (bug)', ...g.map((r) => r.layout!.valMisread), f('valMisread'), f('logitErrMisread')],
            ['converted + layout declared (fix)', ...g.map((r) => r.layout!.valConverted), f('valConverted'), f('logitErrConverted')],
          ],
        },
      ],
      charts: [{
        file: 'layout-loss',
        chart: {
          kind: 'bar', title: `Validation loss of the trained GPT, three readings (median, range over ${seedList.length} seeds)`, yLabel: 'cross-entropy (nats/char)',
          categories: ['as trained', 'misread (bug)', 'converted (fix)'],
          series: [{ name: 'val loss', values: ['valRight', 'valMisread', 'valConverted'].map(med), lo: ['valRight', 'valMisread', 'valConverted'].map((k) => stat(seeds[k]).min as number), hi: ['valRight', 'valMisread', 'valConverted'].map((k) => stat(seeds[k]).max as number) }],
        },
      }],
      verdict,
      figures: {
        seeds: seedList.length, maxErrorUnsplit: med('maxErrUnsplit'), maxErrorWrong: med('maxErrWrong'), maxErrorSplitFirst: med('maxErrSplitFirst'), maxErrorConverted: med('maxErrConverted'), qScale: med('qScale'),
        valLossRight: med('valRight'), valLossWrong: med('valMisread'), valLossConverted: med('valConverted'), logitErrorWrong: med('logitErrMisread'), logitErrorConverted: med('logitErrConverted'), steps: s.steps,
      },
      seedList, seeds, claims,
    };
  },
};
