/**
 * A small SVG line/bar chart writer for benchmark results: no dependency, readable output,
 * viewable in any browser or in the repository's file view.
 */
import { writeFileSync } from 'node:fs';
import { resultsDir } from './harness.js';

/** One line of a chart. */
export interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [x: number, y: number]>;
  /** Draw dashed (for bounds and ideals). */
  readonly dashed?: boolean;
}

/** A chart of one or more series over a shared x axis. */
export interface Chart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Logarithmic x axis (rates, thread counts). */
  readonly logX?: boolean;
  /** Logarithmic y axis (latencies spanning decades). */
  readonly logY?: boolean;
}

const kWidth = 720;
const kHeight = 420;
const kMargin = { left: 80, right: 180, top: 40, bottom: 60 };
const kColours = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

/** Renders a chart as an SVG document. */
export function renderChart(chart: Chart): string {
  const points = chart.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const scale = (values: number[], log: boolean | undefined, from: number, to: number, decades: boolean) => {
    // A log y axis spans whole decades, so every point sits between two labelled ticks; a log x
    // axis (thread counts, rates) is labelled at the points themselves.
    const snap = (v: number, round: (x: number) => number) => (decades ? round(v) : v);
    const lo = log ? snap(Math.log10(Math.max(Math.min(...values), 1e-9)), Math.floor) : Math.min(0, ...values);
    const hi0 = log ? snap(Math.log10(Math.max(...values)), Math.ceil) : Math.max(...values);
    const hi = hi0 === lo ? lo + 1 : hi0;
    const map = (v: number) => from + (((log ? Math.log10(Math.max(v, 1e-9)) : v) - lo) / (hi - lo)) * (to - from);
    const ticks = log
      ? Array.from({ length: Math.floor(hi) - Math.ceil(lo) + 1 }, (_, i) => 10 ** (Math.ceil(lo) + i))
      : Array.from({ length: 6 }, (_, i) => lo + ((hi - lo) * i) / 5);
    return { map, ticks };
  };
  const plotRight = kWidth - kMargin.right;
  const plotBottom = kHeight - kMargin.bottom;
  const x = scale(xs.length ? xs : [0, 1], chart.logX, kMargin.left, plotRight, false);
  const y = scale(ys.length ? ys : [0, 1], chart.logY, plotBottom, kMargin.top, true);
  const xTicks = chart.logX ? [...new Set(xs)].sort((a, b) => a - b) : x.ticks;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${kWidth}" height="${kHeight}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(
    `<text x="${kWidth / 2 - kMargin.right / 2}" y="22" text-anchor="middle" font-size="15">${escape(chart.title)}</text>`,
  );
  parts.push(`<line x1="${kMargin.left}" y1="${plotBottom}" x2="${plotRight}" y2="${plotBottom}" stroke="black"/>`);
  parts.push(`<line x1="${kMargin.left}" y1="${kMargin.top}" x2="${kMargin.left}" y2="${plotBottom}" stroke="black"/>`);
  for (const t of xTicks) {
    const px = x.map(t);
    parts.push(`<line x1="${px}" y1="${plotBottom}" x2="${px}" y2="${plotBottom + 5}" stroke="black"/>`);
    parts.push(`<text x="${px}" y="${plotBottom + 18}" text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of y.ticks) {
    const py = y.map(t);
    parts.push(`<line x1="${kMargin.left}" y1="${py}" x2="${plotRight}" y2="${py}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${kMargin.left - 8}" y="${py + 4}" text-anchor="end">${label(t)}</text>`);
  }
  parts.push(
    `<text x="${(kMargin.left + plotRight) / 2}" y="${kHeight - 18}" text-anchor="middle">${escape(chart.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(18 ${(kMargin.top + plotBottom) / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`,
  );
  chart.series.forEach((series, i) => {
    const colour = kColours[i % kColours.length]!;
    const valid = series.points.filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py));
    const path = valid
      .map(([px, py], k) => `${k === 0 ? 'M' : 'L'}${x.map(px).toFixed(1)},${y.map(py).toFixed(1)}`)
      .join(' ');
    parts.push(
      `<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const [px, py] of valid)
      parts.push(`<circle cx="${x.map(px).toFixed(1)}" cy="${y.map(py).toFixed(1)}" r="3" fill="${colour}"/>`);
    const ly = kMargin.top + 10 + i * 20;
    parts.push(
      `<line x1="${plotRight + 15}" y1="${ly}" x2="${plotRight + 40}" y2="${ly}" stroke="${colour}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    parts.push(`<text x="${plotRight + 46}" y="${ly + 4}">${escape(series.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Writes `bench/results/<name>.svg`; returns its path. */
export function writeChart(name: string, chart: Chart): string {
  const file = new URL(`${name}.svg`, resultsDir);
  writeFileSync(file, renderChart(chart));
  return file.pathname;
}

function label(v: number): string {
  if (Math.abs(v) >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (Math.abs(v) >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  if (Math.abs(v) >= 10 || v === 0) return `${Math.round(v)}`;
  return `${+v.toPrecision(2)}`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
