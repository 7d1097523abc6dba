// Retention by size end to end: a real `sluice standalone` tiering to a real Ceph radosgw keeps a stream at
// [limit, limit + one flush] of bytes while it is written to well past the limit; the chunks below the truncation are
// deleted from the bucket (every tier: memory, Tier-1 via the checkpointed truncation, Tier-2), a read below the head
// answers SEGMENT_TRUNCATED, and a read from the head parses into whole events (never garbage).
import t from "tap";
import { Sluice } from "../client/index.js";
import { MiB } from "../common/index.js";
import { startRadosgw, type Radosgw } from "../perf/support/radosgw.js";
import { startStandaloneProcess } from "../perf/support/standalone-process.js";
import { parseTestEvent, testEvent } from "./support/events.js";
import { bucketObjects } from "./support/tier2-cluster.js";
import { eventually } from "./support/lognodes.js";

let gw: Radosgw;
t.before(async () => {
  gw = await startRadosgw();
});
t.teardown(() => gw.stop());

const limit = 4 * MiB;
const flush = 1 * MiB;
const eventBytes = 8 * 1024;

void t.test("bySize keeps [limit, limit + one flush]; truncated reads answer SEGMENT_TRUNCATED", async (t) => {
  process.env.AWS_ACCESS_KEY_ID = gw.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = gw.secretAccessKey;
  const standalone = await startStandaloneProcess(t.testdir(), [
    "--tier2", `s3://${gw.bucket}/retention`, "--s3-endpoint", gw.endpoint,
    "--flush-bytes", String(flush), "--flush-age-ms", "1000", "--retention-interval-ms", "300",
  ]);
  t.teardown(() => standalone.kill());
  const sluice = await Sluice.connect(standalone.controllerUri);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("rt");
  await sluice.admin.createStream("rt/log", { retention: { type: "bySize", limitBytes: limit } });
  const segment = (await sluice.admin.streamInfo("rt/log")).segments[0]!.segment;

  // Write 14 MiB, one flush's worth at a time, giving retention a tick between them.
  const writer = sluice.writer("rt/log");
  let seq = 0;
  const sizes: number[] = [];
  for (let round = 0; round < 14; round++) {
    const acks: Promise<void>[] = [];
    for (let i = 0; i < flush / (eventBytes + 4); i++) acks.push(writer.write(testEvent("k", seq++, eventBytes), { routingKey: "k" }));
    await Promise.all(acks);
    await new Promise((r) => setTimeout(r, 900));
    const info = await sluice.admin.streamInfo("rt/log");
    const head = info.head?.positions.find((p) => p.segment === segment)?.offset ?? 0;
    const tail = info.tail?.positions.find((p) => p.segment === segment)?.offset ?? 0;
    sizes.push(tail - head);
  }
  await writer.close();
  const settled = await eventually(async () => {
    const info = await sluice.admin.streamInfo("rt/log");
    const head = info.head?.positions[0]?.offset ?? 0;
    const tail = info.tail?.positions[0]?.offset ?? 0;
    return tail - head <= limit + flush;
  }, 20_000);
  t.ok(settled, "retention caught up");
  const info = await sluice.admin.streamInfo("rt/log");
  const head = info.head!.positions[0]!.offset;
  const tail = info.tail!.positions[0]!.offset;
  t.comment(`figure: stream sizes after each MiB written: ${sizes.map((s) => (s / MiB).toFixed(2)).join(", ")} MiB; final ${((tail - head) / MiB).toFixed(2)} MiB (limit 4, flush 1)`);
  t.ok(head > 0, `the head moved (${head})`);
  t.ok(tail - head >= limit, `at least the limit is kept (${tail - head} >= ${limit})`);
  t.ok(tail - head <= limit + flush, `at most the limit plus one flush (${tail - head} <= ${limit + flush})`);
  t.ok(sizes.slice(6).every((s) => s >= limit), "never truncated below the limit while written");

  // Tier-2 holds only the chunks at or above the head (one chunk may straddle it).
  const bucketed = await eventually(async () => {
    let bytes = 0;
    for (const b of (await bucketObjects(gw, "retention")).values()) bytes += b;
    return bytes <= tail - head + flush + 64 * 1024;
  }, 30_000);
  let bucketBytes = 0;
  for (const b of (await bucketObjects(gw, "retention")).values()) bucketBytes += b;
  t.ok(bucketed, `the bucket holds ${bucketBytes} bytes for a ${tail - head}-byte stream: chunks below the head were deleted`);

  // Below the head: SEGMENT_TRUNCATED. From the head: whole events, in order.
  const below = sluice.segmentReader(segment, { offset: 0, endOffset: head, waitMs: 0 });
  await t.rejects(below.next(), { code: "SEGMENT_TRUNCATED" }, "a read below the head answers SEGMENT_TRUNCATED");
  below.close();
  const from = sluice.segmentReader(segment, { offset: head, endOffset: tail, waitMs: 0 });
  const seqs: number[] = [];
  for await (const e of from.events()) seqs.push(parseTestEvent(e.data).seq);
  from.close();
  t.equal(seqs.length, (tail - head) / (eventBytes + 4), "the retained bytes are whole events");
  t.same(seqs, Array.from({ length: seqs.length }, (_, i) => seq - seqs.length + i), "the newest events, in order");
});
