/**
 * The demo's report: `index.html`, one self-contained file (inline CSS and SVG, no script, nothing
 * fetched), and `series.json`, exactly the data the charts draw.
 *
 * Each chart is an `<svg class="chart" data-chart="ID">` whose plot group maps data to the screen by
 * one transform, so each series is a `<polyline data-series="NAME">` whose points are the data
 * itself (seconds, value): what is drawn can be read back and compared with series.json. Each
 * rescale's pause is a `<rect class="pause">` band over every chart.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { chartGroups, type PauseBand, type Series, type SeriesName } from "./series.js";

/** Everything the report shows; series.json holds it as it is. */
export interface ReportData {
  title: string;
  /** The run's options, shown as a table. */
  options: Record<string, string | number | boolean | null>;
  series: Series;
  pauses: PauseBand[];
  /** Named figures (audit, checks), shown as tables. */
  summary: Record<string, Record<string, string | number | boolean>>;
}

const widthPx = 880;
const heightPx = 220;
const margin = { left: 70, right: 20, top: 28, bottom: 30 };
const colours: Record<SeriesName, string> = { inputRate: "#1f77b4", segments: "#2ca02c", requested: "#ff7f0e", observed: "#9467bd", lag: "#d62728" };
/** Requested is drawn wide under observed, so both show where they agree. */
const strokeWidths: Record<SeriesName, number> = { inputRate: 2, segments: 2, requested: 5, observed: 2, lag: 2 };
/** Ticks per axis, about. */
const ticks = 5;

/** A round tick step (1, 2 or 5 times a power of ten) giving about `ticks` ticks up to `max`. */
export function tickStep(max: number): number {
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((m) => m * power >= raw)! * power;
  return step;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A rounded number for a tick label. */
function label(x: number): string {
  return Math.abs(x) >= 100 ? String(Math.round(x)) : String(Math.round(x * 10) / 10);
}

/** One chart: its series over [0, xMaxS] x [0, yMax], pause bands behind them. */
export function chartSvg(group: (typeof chartGroups)[number], series: Series, pauses: readonly PauseBand[], xMaxS: number): string {
  const plotW = widthPx - margin.left - margin.right;
  const plotH = heightPx - margin.top - margin.bottom;
  const values = group.series.flatMap((n) => series[n].map((p) => p[1]));
  const yStep = tickStep(Math.max(1, ...values) * 1.05);
  const yMax = Math.ceil((Math.max(1, ...values) * 1.05) / yStep) * yStep;
  const xMax = Math.max(1, xMaxS);
  const xStep = tickStep(xMax);
  const sx = plotW / xMax;
  const sy = plotH / yMax;
  const out: string[] = [];
  // Inline SVG in HTML needs no xmlns (the parser puts it in the SVG namespace), so the file names no URL.
  out.push(`<svg class="chart" data-chart="${group.id}" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}">`);
  out.push(`<text x="${margin.left}" y="18" class="title">${escapeHtml(group.title)} (${escapeHtml(group.unit)})</text>`);
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    const y = margin.top + plotH - v * sy;
    out.push(`<line class="grid" x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}"/>`);
    out.push(`<text class="tick" x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${label(v)}</text>`);
  }
  for (let v = 0; v <= xMax; v += xStep) {
    out.push(`<text class="tick" x="${margin.left + v * sx}" y="${heightPx - 10}" text-anchor="middle">${label(v)} s</text>`);
  }
  // Data coordinates inside: x in seconds, y in the series' unit, y up.
  out.push(`<g class="plot" transform="translate(${margin.left} ${margin.top + plotH}) scale(${sx} ${-sy})">`);
  for (const b of pauses) {
    out.push(`<rect class="pause" data-from="${b.from}" data-to="${b.to}" x="${b.fromS}" y="0" width="${Math.max(b.toS - b.fromS, 0.2)}" height="${yMax}"><title>rescale ${b.from} to ${b.to}: paused ${b.pauseMs} ms</title></rect>`);
  }
  for (const name of group.series) {
    const points = series[name].map(([t, v]) => `${t},${v}`).join(" ");
    out.push(`<polyline data-series="${name}" fill="none" stroke="${colours[name]}" stroke-width="${strokeWidths[name]}" vector-effect="non-scaling-stroke" points="${points}"/>`);
  }
  out.push(`</g>`);
  let lx = margin.left + plotW - 10;
  for (const name of [...group.series].reverse()) {
    out.push(`<text class="legend" x="${lx}" y="18" text-anchor="end" fill="${colours[name]}">${name}</text>`);
    lx -= 90;
  }
  out.push(`</svg>`);
  return out.join("\n");
}

function table(rows: Record<string, string | number | boolean | null>): string {
  const body = Object.entries(rows)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
    .join("");
  return `<table>${body}</table>`;
}

const css = `body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:24px}
.chart{display:block;margin:8px 0;border:1px solid #ddd;background:#fff}.title{font-size:13px;font-weight:600}
.tick{font-size:11px;fill:#555}.legend{font-size:12px;font-weight:600}.grid{stroke:#eee}.pause{fill:#f5b041;fill-opacity:.35}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f6f6f6}`;

/** The report as one HTML document. */
export function reportHtml(data: ReportData): string {
  const xMaxS = Math.max(0, ...Object.values(data.series).flatMap((s: Series[SeriesName]) => s.map((p) => p[0])));
  const charts = chartGroups.map((g) => chartSvg(g, data.series, data.pauses, xMaxS)).join("\n");
  const summary = Object.entries(data.summary)
    .map(([name, rows]) => `<h2>${escapeHtml(name)}</h2>${table(rows)}`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(data.title)}</title><style>${css}</style></head>
<body><h1>${escapeHtml(data.title)}</h1>
<p>Shaded bands: the job was paused for a rescale.</p>
${charts}
${summary}
<h2>Options</h2>${table(data.options)}
</body></html>
`;
}

/** Writes `<dir>/index.html` and `<dir>/series.json`; returns their paths. */
export async function writeReport(dir: string, data: ReportData): Promise<{ html: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const html = join(dir, "index.html");
  const json = join(dir, "series.json");
  await writeFile(html, reportHtml(data));
  await writeFile(json, JSON.stringify(data, null, 1) + "\n");
  return { html, json };
}
