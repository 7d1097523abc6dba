// Proves the per-segment load averages on a ManualClock: a steady input converges to its rate on every window, rates
// decay toward 0 while idle (short windows first), irregular recording gives the same rates as regular, a burst moves
// short windows far more than long ones, segments are removed and evicted least recently recorded first at the bound,
// track() reports a segment with zero rates before any append, trackedMs counts from the first record or track,
// and a bad window config is refused with INVALID_CONFIG naming windowsMs.
import t, { type Test } from "tap";
import { ManualClock, segmentsPerStoreMax } from "../../common/index.js";
import { loadWindowsMsDefault, SegmentLoadStats } from "./segment-load.js";

const windowsMs = [1000, 5000];
const seg = "s/t/0.#epoch.0";

/** Seeded random source (mulberry32), so the irregular test is repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Feeds `eventsPerMs` events of 100 bytes for `durationMs`, one record per gap drawn by `gapMs`. */
function feed(clock: ManualClock, stats: SegmentLoadStats, eventsPerMs: number, durationMs: number, gapMs: () => number): void {
  let leftMs = durationMs;
  while (leftMs > 0) {
    const stepMs = Math.min(leftMs, gapMs());
    clock.advance(stepMs);
    leftMs -= stepMs;
    const events = eventsPerMs * stepMs;
    stats.record(seg, events, events * 100);
  }
}

function within(t: Test, actual: number, expected: number, fraction: number, what: string): void {
  t.ok(Math.abs(actual - expected) <= expected * fraction, `${what}: ${actual.toFixed(1)} within ${fraction * 100}% of ${expected}`);
}

void t.test("steady 1000 events/s converges within 2% on every window", async (t) => {
  const clock = new ManualClock();
  const stats = new SegmentLoadStats(clock, { windowsMs });
  feed(clock, stats, 1, 5 * 5000, () => 10);
  const load = stats.get(seg);
  if (load === undefined) throw new Error("segment not tracked");
  t.equal(load.eventsPerSec.length, 2);
  for (let i = 0; i < windowsMs.length; i++) {
    within(t, load.eventsPerSec[i] ?? NaN, 1000, 0.02, `events/s over ${windowsMs[i]} ms`);
    within(t, load.bytesPerSec[i] ?? NaN, 100_000, 0.02, `bytes/s over ${windowsMs[i]} ms`);
  }
  t.equal(load.events, 25_000);
  t.equal(load.bytes, 2_500_000);
});

void t.test("idle decay: the 1 s window falls below 1% within 10 s, the 5 s window more slowly", async (t) => {
  const clock = new ManualClock();
  const stats = new SegmentLoadStats(clock, { windowsMs });
  feed(clock, stats, 1, 5 * 5000, () => 10);
  let belowAtMs = -1;
  for (let ms = 100; ms <= 10_000; ms += 100) {
    clock.advance(100);
    const [short = NaN, long = NaN] = stats.get(seg)?.eventsPerSec ?? [];
    t.ok(long > short, `at ${ms} ms the 5 s window (${long.toFixed(2)}) is above the 1 s window (${short.toFixed(2)})`);
    if (belowAtMs < 0 && short < 10) belowAtMs = ms;
  }
  t.ok(belowAtMs > 0 && belowAtMs <= 10_000, `1 s window below 1% of 1000/s after ${belowAtMs} ms`);
  const [short = NaN, long = NaN] = stats.get(seg)?.eventsPerSec ?? [];
  t.ok(short < 0.01 * 1000 && long > 0.05 * 1000, `after 10 s idle: 1 s window ${short.toFixed(3)}, 5 s window ${long.toFixed(1)}`);
  t.equal(stats.snapshot().length, 1, "an idle segment stays tracked until removed or evicted");
});

void t.test("irregular intervals give the rates regular ones do", async (t) => {
  const regularClock = new ManualClock();
  const regular = new SegmentLoadStats(regularClock, { windowsMs });
  feed(regularClock, regular, 1, 25_000, () => 10);
  const random = seeded(42);
  const irregularClock = new ManualClock();
  const irregular = new SegmentLoadStats(irregularClock, { windowsMs });
  feed(irregularClock, irregular, 1, 25_000, () => 1 + Math.floor(random() * 50));
  const a = regular.get(seg);
  const b = irregular.get(seg);
  if (a === undefined || b === undefined) throw new Error("segment not tracked");
  t.equal(b.events, a.events, "same total input");
  for (let i = 0; i < windowsMs.length; i++) {
    within(t, b.eventsPerSec[i] ?? NaN, a.eventsPerSec[i] ?? NaN, 0.03, `irregular events/s over ${windowsMs[i]} ms`);
    within(t, b.bytesPerSec[i] ?? NaN, a.bytesPerSec[i] ?? NaN, 0.03, `irregular bytes/s over ${windowsMs[i]} ms`);
  }

  // The accumulators depend only on what was recorded and when: reads in between and split records change nothing.
  const c1 = new ManualClock();
  const one = new SegmentLoadStats(c1, { windowsMs });
  const c2 = new ManualClock();
  const split = new SegmentLoadStats(c2, { windowsMs });
  for (let i = 0; i < 20; i++) {
    c1.advance(137);
    c2.advance(137);
    one.record(seg, 10, 1000);
    split.record(seg, 4, 400);
    split.get(seg);
    split.record(seg, 6, 600);
  }
  c1.advance(3000);
  c2.advance(3000);
  const x = one.get(seg)?.eventsPerSec ?? [];
  const y = split.get(seg)?.eventsPerSec ?? [];
  for (let i = 0; i < windowsMs.length; i++) within(t, y[i] ?? NaN, x[i] ?? NaN, 1e-9, `split records, window ${i}`);
});

void t.test("a 1-second burst raises the short window much more than the long", async (t) => {
  const clock = new ManualClock();
  const stats = new SegmentLoadStats(clock, { windowsMs });
  feed(clock, stats, 10, 1000, () => 10); // 10,000 events/s for 1 s
  const [short = NaN, long = NaN] = stats.get(seg)?.eventsPerSec ?? [];
  // A burst of B moves a window of W seconds by at most B / W: 10,000/s on the 1 s window, 2,000/s on the 5 s one.
  t.ok(short > 3 * long, `1 s window ${short.toFixed(0)}/s is over 3x the 5 s window ${long.toFixed(0)}/s`);
  t.ok(long <= 10_000 / 5, "the 5 s window moves by at most burst / 5 s");

  // With Pravega's windows the 20-minute average moves by at most burst / 1200 s.
  const c = new ManualClock();
  const pravega = new SegmentLoadStats(c);
  feed(c, pravega, 10, 1000, () => 10);
  const rates = pravega.get(seg)?.eventsPerSec ?? [];
  t.equal(rates.length, loadWindowsMsDefault.length);
  for (let i = 1; i < rates.length; i++) t.ok((rates[i] ?? NaN) < (rates[i - 1] ?? NaN), `window ${i} below window ${i - 1}`);
  t.ok((rates[3] ?? NaN) <= 10_000 / 1200, `20-minute window ${rates[3]?.toFixed(2)}/s`);
});

void t.test("remove() forgets a segment; at segmentsMax the least recently recorded is evicted", async (t) => {
  const clock = new ManualClock();
  const stats = new SegmentLoadStats(clock, { windowsMs, segmentsMax: 3 });
  t.equal(stats.get("a"), undefined, "never recorded");
  for (const s of ["a", "b", "c"]) {
    clock.advance(10);
    stats.record(s, 1, 10);
  }
  clock.advance(10);
  stats.record("a", 1, 10); // "a" is now the most recently recorded; "b" the least.
  stats.get("b"); // Reading does not count as recording.
  stats.record("d", 1, 10);
  t.equal(stats.size, 3);
  t.equal(stats.get("b"), undefined, "b evicted");
  t.same(stats.snapshot().map((l) => l.segment), ["c", "a", "d"]);
  t.equal(stats.get("a")?.events, 2);
  stats.remove("c");
  stats.remove("never-there");
  t.equal(stats.size, 2);
  t.equal(stats.get("c"), undefined, "c removed");
  stats.record("c", 5, 50);
  t.equal(stats.get("c")?.events, 5, "a removed segment starts again from zero");
});

void t.test("bad config raises INVALID_CONFIG naming the property", async (t) => {
  const clock = new ManualClock();
  const bad: (readonly number[])[] = [[], [999], [1000, 1000], [5000, 1000], [1500.5], [86_400_001], [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => n * 1000)];
  for (const w of bad) {
    t.throws(
      () => new SegmentLoadStats(clock, { windowsMs: w }),
      { code: "INVALID_CONFIG", message: /^windowsMs: .* integers in \[1000, 86400000\], strictly increasing$/ },
      `windowsMs ${JSON.stringify(w)} refused`,
    );
  }
  for (const m of [0, 1.5, segmentsPerStoreMax + 1]) {
    t.throws(() => new SegmentLoadStats(clock, { segmentsMax: m }), { code: "INVALID_CONFIG", message: /segmentsMax/ });
  }
  t.doesNotThrow(() => new SegmentLoadStats(clock, { windowsMs: [1000, 2000, 3000, 4000, 5000, 6000, 7000, 86_400_000] }));
  t.equal(new SegmentLoadStats(clock).size, 0, "defaults are valid");
});

void t.test("track() reports a segment cold, and trackedMs counts from its first record or track", async (t) => {
  const clock = new ManualClock();
  const stats = new SegmentLoadStats(clock, { windowsMs, segmentsMax: 3 });
  stats.track("cold");
  t.same(stats.get("cold"), { segment: "cold", eventsPerSec: [0, 0], bytesPerSec: [0, 0], events: 0, bytes: 0, trackedMs: 0 });
  clock.advance(1500);
  stats.record("hot", 10, 100);
  stats.track("cold"); // Tracking again changes nothing: not the rates, not trackedMs.
  stats.track("hot");
  clock.advance(500);
  t.equal(stats.get("cold")?.trackedMs, 2000);
  t.equal(stats.get("hot")?.trackedMs, 500, "from the first record");
  t.equal(stats.get("hot")?.events, 10, "tracking a recorded segment keeps its totals");
  t.same(stats.snapshot().map((l) => [l.segment, l.trackedMs]), [["cold", 2000], ["hot", 500]]);
  stats.record("cold", 1, 1);
  t.equal(stats.get("cold")?.trackedMs, 2000, "recording does not restart it");
  // At the bound, tracking a new segment evicts the least recently recorded, as recording does.
  stats.track("third");
  stats.track("fourth");
  t.same(stats.snapshot().map((l) => l.segment), ["cold", "third", "fourth"], "hot was the least recently recorded");
  stats.remove("cold");
  stats.track("cold");
  t.equal(stats.get("cold")?.trackedMs, 0, "a removed segment starts again");
});
