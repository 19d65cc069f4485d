/**
 * The lab report: for each experiment its question, setup, tables, plots and a verdict computed
 * from the figures. Written as report.md, a self-contained report.html (inline SVG plots),
 * plots/*.svg and plots/*.png, and results.json (every figure, machine-readable).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pngRenderer, toSvg, type Chart } from './plot.js';

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

export interface ExperimentResult {
  /** Short name, used by --only and in file names. */
  name: string;
  title: string;
  /** The question the experiment answers. */
  question: string;
  /** What was run (markdown). */
  setup: string;
  tables: Table[];
  charts: { file: string; chart: Chart }[];
  /** Conclusions computed from the figures (markdown). */
  verdict: string;
  /** Every number the verdict rests on, by name. */
  figures: Record<string, number | string | boolean>;
  seconds: number;
}

export interface ReportMeta {
  version: string;
  backend: string;
  quick: boolean;
  seed: number;
  startedAt: string;
  seconds: number;
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

/** A small markdown subset → HTML: paragraphs, `code`, **bold**, bullet lists. */
function mdToHtml(md: string): string {
  const inline = (s: string) => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>').replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
  return md.trim().split(/\n\s*\n/).map((block) => {
    const lines = block.split('\n');
    if (lines.every((l) => /^\s*[-*] /.test(l) || /^\s{2,}\S/.test(l))) {
      const items: string[] = [];
      for (const l of lines) {
        if (/^\s*[-*] /.test(l)) items.push(l.replace(/^\s*[-*] /, ''));
        else items[items.length - 1] += ` ${l.trim()}`;
      }
      return `<ul>${items.map((i) => `<li>${inline(i)}</li>`).join('')}</ul>`;
    }
    return `<p>${inline(lines.join(' '))}</p>`;
  }).join('\n');
}

function htmlTable(t: Table): string {
  return `<table><caption>${esc(t.title)}</caption><thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${
    t.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(fmt(v))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

const CSS = `body{font-family:"DejaVu Sans",Arial,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2.2em;border-bottom:2px solid #ddd;padding-bottom:.2em}
.meta{color:#666;font-size:.9em}.question{font-size:1.08em;font-style:italic}
.verdict{background:#f3f8ff;border-left:4px solid #1f77b4;padding:.6em 1em;margin:1em 0}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}caption{text-align:left;font-weight:bold;margin-bottom:.3em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.plot svg{max-width:100%;height:auto}code{background:#f4f4f4;padding:0 3px}nav a{margin-right:1em}`;

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
  const header = `qkv ${meta.version} · backend ${meta.backend} · ${meta.quick ? 'quick' : 'full'} run · seed ${meta.seed} · ${meta.startedAt} · ${meta.seconds.toFixed(0)} s`;

  const md: string[] = [`# qkv lab report\n\n${header}\n`];
  for (const r of results) {
    md.push(`## ${r.title}\n\n*${r.question}*\n\n### Setup\n\n${r.setup.trim()}\n\n### Figures\n`);
    for (const t of r.tables) md.push(mdTable(t));
    for (const { file, chart } of r.charts) md.push(`![${chart.title}](plots/${file}.${png.render ? 'png' : 'svg'})\n`);
    md.push(`### Verdict\n\n${r.verdict.trim()}\n\n(${r.seconds.toFixed(1)} s)\n`);
  }
  fs.writeFileSync(path.join(outDir, 'report.md'), md.join('\n'));
  files.push('report.md');

  const html: string[] = [
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>qkv lab report</title><style>${CSS}</style></head><body>`,
    `<h1>qkv lab report</h1><p class="meta">${esc(header)}</p>`,
    `<nav>${results.map((r) => `<a href="#${r.name}">${esc(r.title)}</a>`).join('')}</nav>`,
  ];
  for (const r of results) {
    html.push(`<section id="${r.name}"><h2>${esc(r.title)}</h2><p class="question">${esc(r.question)}</p>`);
    html.push(`<h3>Setup</h3>${mdToHtml(r.setup)}<h3>Figures</h3>`);
    for (const t of r.tables) html.push(htmlTable(t));
    for (const { file } of r.charts) html.push(`<div class="plot">${svgs.get(file)!.replace(/^<svg /, '<svg role="img" ')}</div>`);
    html.push(`<h3>Verdict</h3><div class="verdict">${mdToHtml(r.verdict)}</div><p class="meta">${r.seconds.toFixed(1)} s</p></section>`);
  }
  html.push('</body></html>');
  fs.writeFileSync(path.join(outDir, 'report.html'), html.join('\n'));
  files.push('report.html');

  fs.writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify({ meta, experiments: results.map(({ charts, ...r }) => ({ ...r, plots: charts.map((c) => c.file) })) }, null, 1)}\n`);
  files.push('results.json');
  return { files, pngError: png.error };
}
