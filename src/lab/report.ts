/**
 * The lab report: for each experiment its question, setup, tables, plots and a verdict computed
 * from the figures. Written as report.md, a self-contained report.html (inline SVG plots),
 * plots/*.svg and plots/*.png, and results.json (every figure, machine-readable).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pngRenderer, toSvg, type Chart } from './plot.js';
import type { Claim, SeedValue } from './seeds.js';

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

/** The question as it was asked, the program it came with, and what the lab's figures say of the usual answer. */
export interface AsAsked {
  /** The question in one line, as asked. */
  question: string;
  /** Where it comes from and what was (and was not) given with it. */
  source: string;
  /** The common answer given to it, in one line. */
  commonAnswer: string;
  /** The original program's setup as run here (markdown). */
  program: string;
  /** What the original program prints or shows, reproduced (markdown; code fences allowed). */
  printout?: string;
  /** The figures' judgement of the common answer: "Confirmed: …", "Refuted: …" or "True only when …". */
  judgement: string;
  /** The original program's figures (medians; per-seed values are in `seeds`). */
  figures: Record<string, number | string | boolean | null>;
}

export interface ExperimentResult {
  /** Short name, used by --only and in file names. */
  name: string;
  title: string;
  /** The question the experiment answers (the lab's wording). */
  question: string;
  /** The question as asked and the original program's result. */
  asAsked: AsAsked;
  /** What was run (markdown). */
  setup: string;
  tables: Table[];
  charts: { file: string; chart: Chart }[];
  /** Conclusions computed from the figures (markdown). */
  verdict: string;
  /** Every number the verdict rests on, by name (medians over seeds where a figure varies). */
  figures: Record<string, number | string | boolean | null>;
  /** The seeds used, in order. */
  seedList: number[];
  /** Per-seed values of every figure a verdict uses, in seedList order (null: never happened). */
  seeds: Record<string, SeedValue[]>;
  /** Each comparison the verdict makes, with its rule applied (see seeds.ts). */
  claims: Claim[];
  /** Repeated measurements that are not per seed (wall times per repetition), by name. */
  repetitions?: Record<string, number[]>;
  seconds: number;
}

export interface ReportMeta {
  version: string;
  backend: string;
  quick: boolean;
  /** The seeds every experiment ran. */
  seeds: number[];
  startedAt: string;
  seconds: number;
  /** Worker threads the units ran on (0: this thread). */
  workers: number;
  /** CPU seconds of the process (all threads), and the load average at start and end (1-minute). */
  cpuSeconds: number;
  load: [number, number];
}

/** A number for a table: 4 significant digits, exponent for very small or large values. */
export function fmt(v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

function mdTable(t: Table): string {
  const cell = (v: string | number) => fmt(v).replace(/\|/g, '\\|');
  const head = `| ${t.columns.map(cell).join(' | ')} |\n| ${t.columns.map(() => '---').join(' | ')} |`;
  return `**${t.title}**\n\n${head}\n${t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n')}\n`;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A small markdown subset → HTML: paragraphs, ``` fences, > quotes, `code`, **bold**, *italic*, bullet lists. */
export function mdToHtml(md: string): string {
  const inline = (t: string) => esc(t).replace(/`([^`]+)`/g, '<code>$1</code>').replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>').replace(/(^|[\s(])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
  const out: string[] = [];
  // Fenced code first: their blank lines must not split paragraphs.
  const parts = md.trim().split(/^```[a-z]*\n([\s\S]*?)^```$/m);
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      out.push(`<pre><code>${esc(part.replace(/\n$/, ''))}</code></pre>`);
      return;
    }
    for (const block of part.trim().split(/\n\s*\n/)) {
      if (!block.trim()) continue;
      const lines = block.split('\n');
      if (lines.every((l) => /^>\s?/.test(l))) {
        out.push(`<blockquote>${inline(lines.map((l) => l.replace(/^>\s?/, '')).join(' '))}</blockquote>`);
      } else if (lines.every((l) => /^\s*[-*] /.test(l) || /^\s{2,}\S/.test(l))) {
        const items: string[] = [];
        for (const l of lines) {
          if (/^\s*[-*] /.test(l)) items.push(l.replace(/^\s*[-*] /, ''));
          else items[items.length - 1] += ` ${l.trim()}`;
        }
        out.push(`<ul>${items.map((it) => `<li>${inline(it)}</li>`).join('')}</ul>`);
      } else {
        out.push(`<p>${inline(lines.join(' '))}</p>`);
      }
    }
  });
  return out.join('\n');
}

function htmlTable(t: Table): string {
  return `<table><caption>${esc(t.title)}</caption><thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${
    t.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(fmt(v))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const CSS = `body{font-family:"DejaVu Sans",Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2.2em;border-bottom:2px solid #ddd;padding-bottom:.2em}h3{margin-bottom:.3em}
.meta{color:#666;font-size:.9em}.question{font-size:1.08em;font-style:italic}
.asked{background:#fffaf0;border-left:4px solid #ff7f0e;padding:.4em 1em;margin:1em 0}
.asked blockquote{font-size:1.1em;font-style:italic;margin:.5em 0 .5em .5em}
.judgement{background:#fffdf5;border-left:4px solid #ff7f0e;padding:.5em 1em}
.verdict{background:#f3f8ff;border-left:4px solid #1f77b4;padding:.6em 1em;margin:1em 0}
table{border-collapse:collapse;margin:1em 0;font-size:.88em}caption{text-align:left;font-weight:bold;margin-bottom:.3em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
pre{background:#f6f6f6;padding:.5em .8em;overflow-x:auto;font-size:.85em}
.plot svg{max-width:100%;height:auto}code{background:#f4f4f4;padding:0 3px}nav a{margin-right:1em}
details{margin:.6em 0}summary{cursor:pointer;color:#1f5f94}`;

/** The as-asked figures as a two-column table. */
function askedTable(r: ExperimentResult): Table {
  return { title: 'The original program, over seeds (median; per-seed values in results.json)', columns: ['figure', 'value'], rows: Object.entries(r.asAsked.figures).map(([k, v]) => [k, v === null ? 'never' : typeof v === 'boolean' ? String(v) : v]) };
}

/** The claims as a table: what was compared, in how many seeds, and the outcome. */
function claimTable(r: ExperimentResult): Table {
  return {
    title: `Comparisons behind the verdict (${r.seedList.length} seeds: ${r.seedList.join(', ')})`,
    columns: ['claim', 'A', 'B', 'A < B', 'A > B', 'median A − B', 'outcome'],
    rows: r.claims.map((c) => [c.id, c.labelA, c.labelB, `${c.less}/${c.n}`, `${c.greater}/${c.n}`, c.diff.median ?? '—', c.outcome === 'noise' ? 'within seed noise' : c.outcome === 'equal' ? 'identical' : c.outcome === 'a<b' ? 'A < B' : 'A > B']),
  };
}

/** Writes the report folder; returns the paths written. */
export function writeReport(outDir: string, results: ExperimentResult[], meta: ReportMeta): { files: string[]; pngError: string | null } {
  const plotDir = path.join(outDir, 'plots');
  fs.mkdirSync(plotDir, { recursive: true });
  const files: string[] = [];
  const png = pngRenderer();
  const svgs = new Map<string, string>();
  for (const r of results) {
    for (const { file, chart } of r.charts) {
      const svg = toSvg(chart);
      svgs.set(file, svg);
      fs.writeFileSync(path.join(plotDir, `${file}.svg`), svg);
      files.push(`plots/${file}.svg`);
      if (png.render) {
        fs.writeFileSync(path.join(plotDir, `${file}.png`), png.render(svg));
        files.push(`plots/${file}.png`);
      }
    }
  }
  const seeds = meta.seeds.length === 1 ? `seed ${meta.seeds[0]}` : `${meta.seeds.length} seeds (${meta.seeds[0]}–${meta.seeds[meta.seeds.length - 1]})`;
  const header = `qkv ${meta.version} · backend ${meta.backend} · ${meta.quick ? 'quick' : 'full'} run · ${seeds} · ${meta.startedAt} · ${meta.seconds.toFixed(0)} s wall, ${meta.cpuSeconds.toFixed(0)} s CPU, ${meta.workers ? `${meta.workers} worker processes` : 'one process'}, load average ${meta.load[0].toFixed(1)} → ${meta.load[1].toFixed(1)}`;
  const rule = 'Every figure is the median over seeds with its range in parentheses; a comparison "A < B in k of N seeds" calls an effect only when it holds in all N seeds or the 95% interval of the mean per-seed difference excludes zero, and otherwise says "within seed noise". Shaded bands in the plots span the seeds (min to max) around the median line.';

  const md: string[] = [`# qkv lab report\n\n${header}\n\n${rule}\n`];
  for (const r of results) {
    const a = r.asAsked;
    md.push(`## ${r.title}\n\n### The question as asked\n\n> ${a.question}\n\n${a.source}\n\n**The common answer:** ${a.commonAnswer}\n\n### The original program\n\n${a.program.trim()}\n`);
    if (a.printout) md.push(`${a.printout.trim()}\n`);
    md.push(mdTable(askedTable(r)));
    md.push(`**What the figures say of the common answer.** ${a.judgement}\n\n### Explanation and ablations\n\n*${r.question}*\n\n${r.setup.trim()}\n`);
    for (const t of r.tables) md.push(mdTable(t));
    for (const { file, chart } of r.charts) md.push(`![${chart.title}](plots/${file}.${png.render ? 'png' : 'svg'})\n`);
    md.push(`### Verdict over ${r.seedList.length} seeds\n\n${r.verdict.trim()}\n`);
    md.push(mdTable(claimTable(r)));
    md.push(`(${r.seconds.toFixed(1)} s)\n`);
  }
  fs.writeFileSync(path.join(outDir, 'report.md'), md.join('\n'));
  files.push('report.md');

  const html: string[] = [
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>qkv lab report</title><style>${CSS}</style></head><body>`,
    `<h1>qkv lab report</h1><p class="meta">${esc(header)}</p><p class="meta">${esc(rule)}</p>`,
    `<nav>${results.map((r) => `<a href="#${r.name}">${esc(r.title)}</a>`).join('')}</nav>`,
  ];
  for (const r of results) {
    const a = r.asAsked;
    html.push(`<section id="${r.name}"><h2>${esc(r.title)}</h2>`);
    html.push(`<div class="asked"><h3>The question as asked</h3><blockquote class="question">${esc(a.question)}</blockquote>${mdToHtml(a.source)}<p><strong>The common answer:</strong> ${esc(a.commonAnswer)}</p></div>`);
    html.push(`<h3>The original program</h3>${mdToHtml(a.program)}${a.printout ? mdToHtml(a.printout) : ''}${htmlTable(askedTable(r))}`);
    html.push(`<div class="judgement">${mdToHtml(`**What the figures say of the common answer.** ${a.judgement}`)}</div>`);
    html.push(`<h3>Explanation and ablations</h3><p class="question">${esc(r.question)}</p>${mdToHtml(r.setup)}`);
    for (const t of r.tables) html.push(htmlTable(t));
    for (const { file } of r.charts) html.push(`<div class="plot">${svgs.get(file)!.replace(/^<svg /, '<svg role="img" ')}</div>`);
    html.push(`<h3>Verdict over ${r.seedList.length} seeds</h3><div class="verdict">${mdToHtml(r.verdict)}</div>`);
    html.push(`<details><summary>The ${r.claims.length} comparisons behind the verdict, seed by seed</summary>${htmlTable(claimTable(r))}${htmlTable(seedTable(r))}</details>`);
    html.push(`<p class="meta">${r.seconds.toFixed(1)} s</p></section>`);
  }
  html.push('</body></html>');
  fs.writeFileSync(path.join(outDir, 'report.html'), html.join('\n'));
  files.push('report.html');

  const json = { meta, rule, experiments: results.map(({ charts, ...r }) => ({ ...r, plots: charts.map((c) => c.file) })) };
  fs.writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(json, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)}\n`);
  files.push('results.json');
  return { files, pngError: png.error };
}

/** Per-seed values of every figure the verdict uses. */
function seedTable(r: ExperimentResult): Table {
  return { title: 'Per-seed values', columns: ['figure', ...r.seedList.map((s) => `seed ${s}`)], rows: Object.entries(r.seeds).map(([k, vs]) => [k, ...vs.map((v) => (v === null ? 'never' : v))]) };
}
