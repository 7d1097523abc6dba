// Proves the demo's report renders in a real browser: Debian's chromium (headless, through playwright-core) loads a
// generated index.html from disk with the network cut off, and through the DOM every chart has drawn each of its series
// (a polyline with all its points and a non-empty box) and its pause bands. A screenshot is kept in the test's temp dir
// (its path is printed) for a look by eye. A missing chromium fails with the install command: it is not skipped.
import t from "tap";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { writeReport } from "../demo/report.js";
import { chartGroups, seriesFromLog, type LogEntry } from "../demo/series.js";

const chromiumPath = "/usr/bin/chromium";
const browserTimeoutMs = 60_000;

/** The SVG DOM as far as the checks use it (tsconfig has no DOM lib); the function runs in the page. */
interface DomNode {
  getAttribute(name: string): string | null;
  querySelectorAll(selector: string): ArrayLike<DomNode>;
  getBBox(): { width: number; height: number };
  points: { numberOfItems: number };
}

/** A small run: load ramps up and down, segments 1 -> 2 -> 1, two rescales. */
function runLog(startMs: number): LogEntry[] {
  const log: LogEntry[] = [];
  for (let i = 0; i <= 30; i++) {
    const segments = i >= 8 && i < 22 ? 2 : 1;
    const timeMs = startMs + i * 1000;
    log.push({ type: "load", timeMs, targetRate: 100, acked: i * 100 + (i > 15 ? (i - 15) * 100 : 0), read: i * 95, segments });
    const observed = i >= 10 && i < 24 ? 2 : 1;
    log.push({ type: "sample", timeMs: timeMs + 500, segments, requested: observed, observed, running: true });
  }
  log.push({ type: "rescale", timeMs: startMs + 10_000, from: 1, to: 2, segmentsChangedAtMs: startMs + 8000, requestedAtMs: startMs + 9000, runningAtMs: startMs + 10_000, pauseMs: 700 });
  log.push({ type: "rescale", timeMs: startMs + 24_000, from: 2, to: 1, segmentsChangedAtMs: startMs + 22_000, requestedAtMs: startMs + 23_000, runningAtMs: startMs + 24_000, pauseMs: 900 });
  return log;
}

void t.test("chromium draws every chart's series from the generated report", async (t) => {
  if (!existsSync(chromiumPath)) {
    t.fail(`${chromiumPath} is missing: the report's browser check needs Debian's chromium; install it (as root): apt-get update && apt-get install -y --no-install-recommends chromium (npm test's pretest, test/ensure-servers.ts, does it)`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "sluice-demo-browser-"));
  const startMs = 1_700_000_000_000;
  const { series, pauses } = seriesFromLog(runLog(startMs), startMs);
  const files = await writeReport(dir, { title: "browser check", options: {}, series, pauses, summary: { audit: { lost: 0 } } });
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: process.getuid?.() === 0 ? ["--no-sandbox"] : [], timeout: browserTimeoutMs });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ offline: true, viewport: { width: 960, height: 1200 } });
  const page = await context.newPage();
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(files.html).href, { timeout: browserTimeoutMs });

  const drawn = await page.$$eval("svg.chart", (svgs) =>
    (svgs as unknown as DomNode[]).map((svg) => ({
      chart: svg.getAttribute("data-chart"),
      bands: svg.querySelectorAll("rect.pause").length,
      series: Array.from(svg.querySelectorAll("polyline[data-series]")).map((line) => {
        const box = line.getBBox();
        return { name: line.getAttribute("data-series"), points: line.points.numberOfItems, width: box.width, height: box.height };
      }),
    })),
  );
  t.same(drawn.map((c) => c.chart), chartGroups.map((g) => g.id), "one chart per group");
  for (const group of chartGroups) {
    const chart = drawn.find((c) => c.chart === group.id)!;
    t.equal(chart.bands, pauses.length, `${group.id}: one band per rescale pause`);
    t.same(chart.series.map((s) => s.name), [...group.series], `${group.id}: its series`);
    for (const s of chart.series) {
      t.equal(s.points, series[s.name as keyof typeof series].length, `${group.id}/${s.name}: every point is drawn`);
      t.ok(s.points > 1 && s.width > 0, `${group.id}/${s.name}: a visible line (box ${s.width} x ${s.height})`);
    }
  }
  t.same(requests, [pathToFileURL(files.html).href], "the page fetched nothing but itself");
  const screenshot = join(dir, "report.png");
  await page.screenshot({ path: screenshot, fullPage: true });
  t.ok(existsSync(screenshot), `screenshot: ${screenshot}`);
  t.comment(`screenshot of the report: ${screenshot}`);
});
