// Proves the demo's report (demo/report.ts) draws what series.json holds: one chart per series group, each series a
// polyline whose points, read back from the HTML, are the data; one pause band per rescale on every chart; and no
// http:// or https:// reference anywhere (the file is self-contained). Also that seriesFromLog derives the series
// from a run log as documented (rate from acknowledged deltas, lag = acknowledged - read).
import t from "tap";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reportHtml, tickStep, writeReport, type ReportData } from "../demo/report.js";
import { chartGroups, seriesFromLog, type LogEntry, type Series } from "../demo/series.js";

const startMs = 1_700_000_000_000;
const log: LogEntry[] = [
  { type: "started", timeMs: startMs - 500, jobId: "j", restUrl: "http://127.0.0.1:1", parallelism: 1 },
  { type: "load", timeMs: startMs, targetRate: 100, acked: 0, read: 0, segments: 1 },
  { type: "sample", timeMs: startMs + 400, segments: 1, requested: 1, observed: 1, running: true },
  { type: "load", timeMs: startMs + 1000, targetRate: 100, acked: 100, read: 90, segments: 1 },
  { type: "load", timeMs: startMs + 2000, targetRate: 200, acked: 300, read: 250, segments: 2 },
  { type: "sample", timeMs: startMs + 2400, segments: 2, requested: 2, observed: 1, running: false },
  { type: "rescale", timeMs: startMs + 3000, from: 1, to: 2, segmentsChangedAtMs: startMs + 1900, requestedAtMs: startMs + 2300, runningAtMs: startMs + 3000, pauseMs: 600 },
  { type: "sample", timeMs: startMs + 3400, segments: 2, requested: 2, observed: 2, running: true },
  { type: "load", timeMs: startMs + 3500, targetRate: 200, acked: 600, read: 600, segments: 2 },
];

/** Every polyline of the HTML: chart id, series name and its points as numbers. */
function polylines(html: string): { chart: string; series: string; points: number[][] }[] {
  const found: { chart: string; series: string; points: number[][] }[] = [];
  for (const svg of html.matchAll(/<svg class="chart" data-chart="([^"]+)"[\s\S]*?<\/svg>/g)) {
    for (const p of svg[0].matchAll(/<polyline data-series="([^"]+)"[^>]*points="([^"]*)"/g)) {
      const points = p[2]!.trim() === "" ? [] : p[2]!.trim().split(/\s+/).map((xy) => xy.split(",").map(Number));
      found.push({ chart: svg[1]!, series: p[1]!, points });
    }
  }
  return found;
}

void t.test("seriesFromLog: rates, lag, parallelism and pause bands from the log", async (t) => {
  const { series, pauses } = seriesFromLog(log, startMs);
  t.same(series.inputRate, [[1, 100], [2, 200], [3.5, 200]], "acknowledged events per second between load samples");
  t.same(series.segments, [[0, 1], [1, 1], [2, 2], [3.5, 2]]);
  t.same(series.lag, [[0, 0], [1, 10], [2, 50], [3.5, 0]], "acknowledged minus read");
  t.same(series.requested, [[0.4, 1], [2.4, 2], [3.4, 2]]);
  t.same(series.observed, [[0.4, 1], [2.4, 1], [3.4, 2]]);
  t.same(pauses, [{ fromS: 2.4, toS: 3, from: 1, to: 2, pauseMs: 600 }], "the band ends when the job runs again and lasts the pause");
});

void t.test("the HTML draws every series of series.json, one chart per group, and is self-contained", async (t) => {
  const { series, pauses } = seriesFromLog(log, startMs);
  const data: ReportData = { title: "t <&>", options: { out: "x" }, series, pauses, summary: { audit: { lost: 0 } } };
  const dir = await mkdtemp(join(tmpdir(), "sluice-demo-report-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const files = await writeReport(dir, data);
  const html = await readFile(files.html, "utf8");
  t.equal(html, reportHtml(data));
  t.same(JSON.parse(await readFile(files.json, "utf8")), JSON.parse(JSON.stringify(data)), "series.json is the data as drawn");
  const charts = [...html.matchAll(/<svg class="chart" data-chart="([^"]+)"/g)].map((m) => m[1]);
  t.same(charts, chartGroups.map((g) => g.id), "one chart per group, in order");
  const lines = polylines(html);
  t.same(
    lines.map((l) => [l.chart, l.series]),
    chartGroups.flatMap((g) => g.series.map((s) => [g.id, s])),
    "each chart draws its group's series (parallelism: requested and observed)",
  );
  for (const l of lines) t.same(l.points, series[l.series as keyof Series], `${l.chart}/${l.series}: the drawn points are the data`);
  t.equal([...html.matchAll(/<rect class="pause"/g)].length, chartGroups.length * pauses.length, "each rescale's pause is a band on every chart");
  t.notMatch(html, /https?:\/\//i, "no http:// or https:// reference");
  t.notMatch(html, /<script|<link|src=/i, "no script, stylesheet link or external source");
  t.match(html, /t &#60;&#38;&#62;/, "text is escaped");
});

void t.test("an empty series draws an empty polyline, not a broken chart", async (t) => {
  const empty: Series = { inputRate: [], segments: [], requested: [], observed: [], lag: [] };
  const html = reportHtml({ title: "empty", options: {}, series: empty, pauses: [], summary: {} });
  const lines = polylines(html);
  t.equal(lines.length, 5);
  for (const l of lines) t.same(l.points, []);
  t.notMatch(html, /NaN|Infinity/, "scales stay finite");
});

void t.test("tick steps are round: 1, 2 or 5 times a power of ten, about five per axis", async (t) => {
  t.same([1, 7, 60.3, 1000, 34_497].map(tickStep), [0.2, 2, 20, 200, 10_000]);
});
