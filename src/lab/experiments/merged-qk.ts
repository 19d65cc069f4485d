/**
 * Lab 4 — merged-qk: W_Q W_Kᵀ as one C×C matrix per head.
 *
 * q·kᵀ = x W_Q W_Kᵀ xᵀ, so the product can be stored and trained as one matrix. Per head it has
 * C² parameters against 2·C·D, and costs T·C² + T²·C multiply-adds against 2·T·C·D + T²·D. This
 * experiment tabulates both formulas over a grid of (C, H, D, T), measures fwd+bwd time of the
 * fused and the merged block, checks they compute the same function, and says where merged wins.
 */
import { randn } from '../../tensor/creation.js';
import { manualSeed } from '../../tensor/random.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { Attention } from '../../nn/attention.js';
import { r3, timeMs, type LabOptions, labOptions } from '../common.js';
import type { ExperimentResult } from '../report.js';

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

export function runMergedQk(options: Partial<LabOptions> = {}): ExperimentResult {
  const opts = labOptions(options, 'runMergedQk');
  const t0 = performance.now();
  const B = 8;
  const grid: Point[] = opts.quick
    ? [{ C: 64, H: 4, D: 16, T: 32 }, { C: 64, H: 1, D: 64, T: 32 }, { C: 128, H: 2, D: 64, T: 64 }]
    : [
      { C: 64, H: 4, D: 16, T: 64 }, { C: 64, H: 1, D: 64, T: 64 }, { C: 128, H: 8, D: 16, T: 64 },
      { C: 128, H: 2, D: 64, T: 64 }, { C: 128, H: 1, D: 128, T: 128 }, { C: 256, H: 8, D: 32, T: 64 },
      { C: 256, H: 2, D: 128, T: 128 }, { C: 256, H: 1, D: 256, T: 128 },
    ];
  const reps = opts.quick ? 5 : 15;
  const rows: (string | number)[][] = [];
  const figures: Record<string, number | string | boolean> = {};
  let maxRelError = 0;
  const wins: string[] = [];
  const winRatios: number[] = [];
  const labels: string[] = [], tFactored: number[] = [], tMerged: number[] = [];
  grid.forEach((p, i) => {
    manualSeed(opts.seed + i);
    const fused = new Attention({ dim: p.C, heads: p.H, dimHead: p.D });
    const merged = fused.convert('merged-qk');
    const x = randn([B, p.T, p.C]);
    const rel = noGrad(() => merged.forward(x).sub(fused.forward(x)).abs().max().item() / fused.forward(x).abs().max().item());
    maxRelError = Math.max(maxRelError, rel);
    const step = (m: Attention) => () => {
      const xi = x.detach().requiresGrad_(true);
      m.forward(xi).square().mean().backward();
      m.zeroGrad();
    };
    const tf = timeMs(step(fused), reps), tm = timeMs(step(merged), reps);
    const c = qkCost(p, B);
    const label = `C${p.C} H${p.H} D${p.D} T${p.T}`;
    labels.push(label);
    tFactored.push(tf);
    tMerged.push(tm);
    if (tm < tf) {
      wins.push(`${label} (${r3(tf / tm)}× faster)`);
      winRatios.push(p.D / p.C);
    }
    rows.push([label, `${r3(p.D / p.C)}`, c.paramsFactored, c.paramsMerged, c.flopsFactored / 1e6, c.flopsMerged / 1e6, tf, tm, tm / tf, rel]);
    figures[`timeRatio_${label.replace(/ /g, '_')}`] = tm / tf;
    opts.log(`merged-qk: ${i + 1}/${grid.length} ${label}: fused ${r3(tf)} ms, merged ${r3(tm)} ms`);
  });
  const fewerParams = grid.filter((p) => p.C < 2 * p.D).map((p) => `C${p.C} D${p.D}`);
  const fewerFlops = grid.filter((p) => { const c = qkCost(p, B); return c.flopsMerged < c.flopsFactored; }).map((p) => `C${p.C} H${p.H} D${p.D} T${p.T}`);
  const verdict = [
    `- **Same function.** Converting each fused block to merged-qk (W_QK = W_Q W_Kᵀ per head) reproduces its output to a relative error of at most ${maxRelError.toExponential(1)} (float32 rounding).`,
    `- **Parameters: merged is not smaller.** Per head it stores C² numbers against 2·C·D, so it has fewer parameters only when C < 2D; ${fewerParams.length ? `in this grid that is ${fewerParams.join(', ')}` : 'no point of this grid qualifies'}. With the usual D = C/H and H ≥ 2, merged holds H/2 times the q, k parameters or more.`,
    `- **FLOPs: only when D is close to C.** The q·kᵀ path costs T·C² + T²·C multiply-adds per head merged against 2·T·C·D + T²·D factored, so merged can be cheaper only when D approaches C (few heads). ${fewerFlops.length ? `By the formula merged does fewer FLOPs at ${fewerFlops.join(', ')}` : 'By the formula merged never does fewer FLOPs in this grid'}.`,
    `- **Measured (fwd+bwd of the whole block, median of ${reps}).** ${wins.length ? `Merged was faster at ${wins.join('; ')}` : 'Merged was never faster'}; elsewhere it was slower, by up to ${r3(Math.max(...tMerged.map((t, i) => t / tFactored[i])))}×. ${
      wins.length === 0 ? 'Merged W_QK is a tool for analysis (one C×C bilinear form per head), not a speed-up.'
        : `Every measured win has D/C ≥ ${r3(Math.min(...winRatios))}: merged W_QK pays off only with few, wide heads; with the usual many narrow heads it costs time and parameters, and its value is for analysis (one C×C bilinear form per head).`}`,
  ].join('\n');
  return {
    name: 'merged-qk',
    title: '4. Merged W_QK (merged-qk)',
    question: 'q·kᵀ = x W_Q W_Kᵀ xᵀ, so W_Q W_Kᵀ can be stored as one matrix per head. When does that save parameters or time?',
    setup: [
      `\`nn.Attention\` in 'fused' storage and the same block converted to 'merged-qk' (the value and output projections are identical), batch ${B}. Time: forward + backward of mean(out²) w.r.t. input and parameters, median of ${reps} runs after warm-up. Formulas count the q·kᵀ path only (parameters; 2 × multiply-adds for ${B} sequences).`,
    ].join('\n'),
    tables: [{
      title: 'Cost model and timings',
      columns: ['C, H, D, T', 'D/C', 'QK params (factored)', 'QK params (merged)', 'QK MFLOP (factored)', 'QK MFLOP (merged)', 'time factored (ms)', 'time merged (ms)', 'merged/factored time', 'max rel. output difference'],
      rows,
    }],
    charts: [{
      file: 'merged-qk-time',
      chart: { kind: 'bar', title: 'fwd+bwd time: factored (fused) vs merged W_QK', yLabel: 'ms (median)', categories: labels, series: [{ name: 'factored (fused)', values: tFactored }, { name: 'merged-qk', values: tMerged }], logY: true },
    }],
    verdict,
    figures: { ...figures, maxRelativeError: maxRelError, mergedWins: wins.length, points: grid.length },
    seconds: (performance.now() - t0) / 1000,
  };
}
