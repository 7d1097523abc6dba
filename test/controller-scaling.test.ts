// Auto-scaling end to end in a real `sluice standalone` process with second-long load windows: a byEventRate stream
// fed at 4x its target splits within the configured windows; fed nothing, it merges back down to minSegments and
// never below, although every segment goes cold at once. The epochs stay consistent all along (each covers [0, 1)
// once), and every acknowledged event reads back once per key, in order.
import t from "tap";
import { Sluice, type EventWriter } from "../client/index.js";
import { startStandaloneProcess } from "../perf/support/standalone-process.js";
import { readAllByKey, testEvent } from "./support/events.js";
import { eventually } from "./support/lognodes.js";

const target = 40;
const windows = "1000,2000,3000,4000";

function covers(ranges: { keyStart: number; keyEnd: number }[]): boolean {
  const sorted = [...ranges].sort((a, b) => a.keyStart - b.keyStart);
  let at = 0;
  for (const r of sorted) {
    if (r.keyStart !== at || r.keyEnd <= r.keyStart) return false;
    at = r.keyEnd;
  }
  return at === 1;
}

void t.test("byEventRate: splits under 4x load, merges back to minSegments and never below", async (t) => {
  const standalone = await startStandaloneProcess(t.testdir(), [
    "--load-windows-ms", windows, "--load-report-ms", "500", "--scale-interval-ms", "500", "--scale-cooldown-ms", "2000",
  ]);
  t.teardown(() => standalone.kill());
  const sluice = await Sluice.connect(standalone.controllerUri);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("as");
  await sluice.admin.createStream("as/clicks", { scaling: { type: "byEventRate", targetRate: target, scaleFactor: 4, minSegments: 2 } });

  // Feed 4x target per segment. A write that meets a sealed segment (a split landed) is not acknowledged; the
  // writer is then made again, which loads the new epoch's segments.
  const acked = new Map<string, number[]>();
  let writer: EventWriter = sluice.writer("as/clicks");
  let feeding = true;
  let seq = 0;
  const feed = (async () => {
    while (feeding) {
      const started = performance.now();
      const batch: Promise<void>[] = [];
      for (let i = 0; i < (4 * target * 2) / 10; i++, seq++) {
        const key = `k${seq % 50}`;
        const s = Math.floor(seq / 50);
        batch.push(writer.write(testEvent(key, s), { routingKey: key }).then(() => void (acked.get(key) ?? acked.set(key, []).get(key)!).push(s)));
      }
      const results = await Promise.allSettled(batch);
      if (results.some((r) => r.status === "rejected")) {
        await writer.close().catch(() => undefined);
        writer = sluice.writer("as/clicks");
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - started))));
    }
  })();

  const fedAt = performance.now();
  const split = await eventually(async () => (await sluice.admin.streamInfo("as/clicks")).segments.length > 2, 30_000);
  const splitMs = performance.now() - fedAt;
  t.ok(split, "the stream split");
  t.comment(`figure: 4x target -> first split committed after ${splitMs.toFixed(0)} ms (windows ${windows} ms, report 500 ms, scale tick 500 ms)`);
  t.ok(splitMs < 4000 + 2000 + 5000, `split within the longest window plus cooldown and slack (${splitMs.toFixed(0)} ms)`);
  const afterSplit = await sluice.admin.streamInfo("as/clicks");
  t.ok(afterSplit.epoch >= 1 && covers(afterSplit.segments), `epoch ${afterSplit.epoch}: ${afterSplit.segments.length} segments covering [0, 1) once`);
  await new Promise((r) => setTimeout(r, 3000));
  feeding = false;
  await feed;
  await writer.close().catch(() => undefined);
  const peak = (await sluice.admin.streamInfo("as/clicks")).segments.length;
  t.ok(peak > 2 && peak <= 2 * 4 * 4, `scaled up to ${peak} segments (scaleFactor 4 per split)`);

  // Fed nothing: every segment goes cold together. Watch the count until it rests at minSegments.
  let lowest = peak;
  const merged = await eventually(async () => {
    const info = await sluice.admin.streamInfo("as/clicks");
    lowest = Math.min(lowest, info.segments.length);
    if (!covers(info.segments)) throw new Error(`epoch ${info.epoch} does not cover [0, 1) once`);
    return info.segments.length === 2;
  }, 60_000);
  t.ok(merged, "merged back to minSegments");
  const stableUntil = performance.now() + 6000;
  while (performance.now() < stableUntil) {
    lowest = Math.min(lowest, (await sluice.admin.streamInfo("as/clicks")).segments.length);
    await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(lowest, 2, "never below minSegments, even with every segment cold at once");
  const final = await sluice.admin.streamInfo("as/clicks");
  t.equal(final.segments.length, 2, "still at minSegments after another 6 s of cold");
  t.comment(`figure: epochs ${final.epoch + 1}, peak ${peak} segments`);

  // Every acknowledged event reads back once, in order per key, across all epochs.
  const { byKey } = await readAllByKey(sluice, "as/clicks");
  let missing = 0;
  let disorder = 0;
  for (const [key, seqs] of acked) {
    const read = byKey.get(key) ?? [];
    const readSet = new Set(read);
    for (const s of seqs) if (!readSet.has(s)) missing++;
    for (let i = 1; i < read.length; i++) if (read[i]! <= read[i - 1]!) disorder++;
  }
  t.equal(missing, 0, "no acknowledged event is missing");
  t.equal(disorder, 0, "per key, events read in write order, once");
});
