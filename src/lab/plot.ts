/**
 * Plots for the lab report: line and bar charts as standalone SVG (inlined in report.html), and
 * the same SVG rendered to PNG with resvg and the DejaVu Sans font from npm (no system fonts
 * needed). If the PNG renderer cannot load on a platform, SVGs are still written.
 */
import { createRequire } from 'node:module';

export interface Series {
  name: string;
  x: number[];
  y: number[];
  dashed?: boolean;
  /** A shaded band around the line (e.g. min and max over seeds), at the same x. */
  band?: { lo: number[]; hi: number[] };
}

export interface LineChart {
  kind: 'line';
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
  /** Horizontal reference lines, e.g. a baseline loss. */
  hlines?: { y: number; label: string }[];
}

export interface BarChart {
  kind: 'bar';
  title: string;
  yLabel: string;
  categories: string[];
  /** `lo`/`hi`: an error bar per value (e.g. the range over seeds). */
  series: { name: string; values: number[]; lo?: number[]; hi?: number[] }[];
  logY?: boolean;
}

export type Chart = LineChart | BarChart;

const W = 720, H = 400;
const M = { left: 78, right: 18, top: 44, bottom: 96 };
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const FONT = "font-family=\"DejaVu Sans, Arial, sans-serif\"";

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** ~5 round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/** Legend columns by label length (long labels get a row each); `extra`: height added below the frame. */
function legendLayout(names: string[]): { cols: number; rows: number; extra: number } {
  const longest = Math.max(0, ...names.map((n) => n.length));
  const cols = Math.min(names.length, longest > 42 ? 1 : longest > 26 ? 2 : 3) || 1;
  const rows = Math.ceil(names.length / cols);
  return { cols, rows, extra: Math.max(0, (rows - 2) * 16) };
}

function frame(title: string, xLabel: string, yLabel: string, body: string, extra = 0): string {
  const h = H + extra;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}">`,
    `<rect width="${W}" height="${h}" fill="#ffffff"/>`,
    // ~9.5 px per character at 16 px bold: shrink long titles to fit the width.
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="${Math.max(10, Math.min(16, Math.floor((W - 20) / (0.6 * title.length))))}" font-weight="bold" ${FONT}>${esc(title)}</text>`,
    body,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - M.bottom + 40}" text-anchor="middle" font-size="13" ${FONT}>${esc(xLabel)}</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="13" ${FONT}>${esc(yLabel)}</text>`,
    '</svg>',
  ].join('\n');
}

function legend(names: string[], dashed: boolean[] = []): string {
  const y0 = H - M.bottom + 58;
  const { cols } = legendLayout(names);
  const colW = (W - M.left - M.right) / cols;
  return names.map((n, i) => {
    const x = M.left + (i % cols) * colW, y = y0 + Math.floor(i / cols) * 16;
    const c = PALETTE[i % PALETTE.length];
    return `<line x1="${x}" y1="${y - 4}" x2="${x + 22}" y2="${y - 4}" stroke="${c}" stroke-width="3"${dashed[i] ? ' stroke-dasharray="6 4"' : ''}/>` +
      `<text x="${x + 28}" y="${y}" font-size="12" ${FONT}>${esc(n)}</text>`;
  }).join('\n');
}

function lineSvg(c: LineChart): string {
  const pts = c.series.flatMap((s) => s.x.flatMap((x, i) => [[x, s.y[i]] as const, ...(s.band ? [[x, s.band.lo[i]] as const, [x, s.band.hi[i]] as const] : [])]))
    .filter(([, y]) => Number.isFinite(y) && (!c.logY || y > 0));
  const xs = pts.map(([x]) => x);
  const tr = (y: number) => (c.logY ? Math.log10(y) : y);
  const ys = [...pts.map(([, y]) => tr(y)), ...(c.hlines ?? []).map((h) => tr(h.y))];
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x0 + 1];
  if (!(y1 > y0)) [y0, y1] = [y0 - 1, y0 + 1];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad; y1 += pad;
  const px = (x: number) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - ((tr(y) - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const parts: string[] = [];
  const yt = c.logY ? ticks(y0, y1).filter(Number.isInteger) : ticks(y0, y1);
  for (const t of yt) {
    const y = H - M.bottom - ((t - y0) / (y1 - y0)) * (H - M.top - M.bottom);
    parts.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end" font-size="11" ${FONT}>${fmtTick(c.logY ? 10 ** t : t)}</text>`);
  }
  for (const t of ticks(x0, x1)) {
    const x = px(t);
    parts.push(`<line x1="${x}" y1="${H - M.bottom}" x2="${x}" y2="${H - M.bottom + 5}" stroke="#333"/>`);
    parts.push(`<text x="${x}" y="${H - M.bottom + 18}" text-anchor="middle" font-size="11" ${FONT}>${fmtTick(t)}</text>`);
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#333"/>`);
  for (const h of c.hlines ?? []) {
    const y = py(h.y);
    parts.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#777" stroke-dasharray="3 3"/>`);
    parts.push(`<text x="${W - M.right - 4}" y="${y - 4}" text-anchor="end" font-size="11" fill="#555" ${FONT}>${esc(h.label)}</text>`);
  }
  const ok = (y: number) => Number.isFinite(y) && (!c.logY || y > 0);
  c.series.forEach((s, i) => {
    if (!s.band) return;
    const idx = s.x.map((_, k) => k).filter((k) => ok(s.band!.lo[k]) && ok(s.band!.hi[k]));
    if (idx.length < 2) return;
    const upper = idx.map((k) => `${px(s.x[k]).toFixed(1)},${py(s.band!.hi[k]).toFixed(1)}`);
    const lower = idx.slice().reverse().map((k) => `${px(s.x[k]).toFixed(1)},${py(s.band!.lo[k]).toFixed(1)}`);
    parts.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${PALETTE[i % PALETTE.length]}" fill-opacity="0.15" stroke="none"/>`);
  });
  c.series.forEach((s, i) => {
    const p = s.x.map((x, k) => [x, s.y[k]] as const).filter(([, y]) => ok(y));
    if (p.length === 0) return;
    const d = p.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
  });
  parts.push(legend(c.series.map((s) => s.name), c.series.map((s) => !!s.dashed)));
  return frame(c.title, c.xLabel, c.logY ? `${c.yLabel} (log scale)` : c.yLabel, parts.join('\n'), legendLayout(c.series.map((s) => s.name)).extra);
}

function barSvg(c: BarChart): string {
  const tr = (v: number) => (c.logY ? Math.log10(v) : v);
  const vals = c.series.flatMap((s) => [...s.values, ...(s.hi ?? []), ...(s.lo ?? [])]).filter((v) => Number.isFinite(v) && (!c.logY || v > 0)).map(tr);
  let y0 = c.logY ? Math.floor(Math.min(...vals)) : Math.min(0, ...vals), y1 = Math.max(...vals);
  if (!(y1 > y0)) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.08;
  const plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
  const py = (v: number) => H - M.bottom - ((tr(v) - y0) / (y1 - y0)) * plotH;
  const parts: string[] = [];
  for (const t of c.logY ? ticks(y0, y1).filter(Number.isInteger) : ticks(y0, y1)) {
    const y = H - M.bottom - ((t - y0) / (y1 - y0)) * plotH;
    parts.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end" font-size="11" ${FONT}>${fmtTick(c.logY ? 10 ** t : t)}</text>`);
  }
  const groupW = plotW / c.categories.length, barW = (groupW * 0.8) / c.series.length;
  c.categories.forEach((cat, gi) => {
    const gx = M.left + gi * groupW + groupW * 0.1;
    c.series.forEach((s, si) => {
      const v = s.values[gi];
      if (!Number.isFinite(v) || (c.logY && v <= 0)) return;
      const y = py(v), base = c.logY ? H - M.bottom : py(0);
      parts.push(`<rect x="${(gx + si * barW).toFixed(1)}" y="${Math.min(y, base).toFixed(1)}" width="${(barW * 0.92).toFixed(1)}" height="${Math.abs(base - y).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"/>`);
      const lo = s.lo?.[gi], hi = s.hi?.[gi];
      if (lo !== undefined && hi !== undefined && Number.isFinite(lo) && Number.isFinite(hi) && (!c.logY || lo > 0)) {
        const cx = (gx + si * barW + barW * 0.46).toFixed(1);
        parts.push(`<line x1="${cx}" y1="${py(lo).toFixed(1)}" x2="${cx}" y2="${py(hi).toFixed(1)}" stroke="#222" stroke-width="1.5"/>`);
        for (const v of [lo, hi]) parts.push(`<line x1="${(Number(cx) - 4).toFixed(1)}" y1="${py(v).toFixed(1)}" x2="${(Number(cx) + 4).toFixed(1)}" y2="${py(v).toFixed(1)}" stroke="#222" stroke-width="1.5"/>`);
      }
    });
    const lx = (gx + groupW * 0.4).toFixed(1), ly = H - M.bottom + 16;
    // Many categories: slant the labels so they do not overlap.
    parts.push(c.categories.length > 5
      ? `<text transform="translate(${lx} ${ly}) rotate(-20)" text-anchor="end" font-size="10" ${FONT}>${esc(cat)}</text>`
      : `<text x="${lx}" y="${ly + 2}" text-anchor="middle" font-size="11" ${FONT}>${esc(cat)}</text>`);
  });
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(legend(c.series.map((s) => s.name)));
  return frame(c.title, '', c.logY ? `${c.yLabel} (log scale)` : c.yLabel, parts.join('\n'), legendLayout(c.series.map((s) => s.name)).extra);
}

export function toSvg(c: Chart): string {
  return c.kind === 'line' ? lineSvg(c) : barSvg(c);
}

type Renderer = (svg: string) => Uint8Array;
let renderer: Renderer | null | undefined;
let lastError: string | null = null;

/** An SVG → PNG renderer, or null (with the reason) when resvg cannot load here. */
export function pngRenderer(): { render: Renderer | null; error: string | null } {
  if (renderer === undefined) {
    try {
      const require = createRequire(import.meta.url);
      const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
      const font = require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
      const bold = require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf');
      renderer = (svg) => new Resvg(svg, { font: { loadSystemFonts: false, fontFiles: [font, bold], defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 1.5 } }).render().asPng();
      lastError = null;
    } catch (err) {
      renderer = null;
      lastError = (err as Error).message;
    }
  }
  return { render: renderer, error: lastError };
}
