// Proves batch reads straight from Tier-2 against a real Ceph radosgw: an in-process standalone tiers a stream to S3 in
// small chunks; a client given the S3 endpoint (through a counting proxy), bucket, prefix and credentials reads ranges
// with the bytes of listed chunks taken by ranged GETs (counted by the proxy and the client's byte counters; a range
// wholly in Tier-2 sends no ReadSegment) and the rest from the store, and every event equals what the store alone
// returns. A 503 is retried; a wrong prefix falls back to the store; refused credentials are AUTH_FAILED; a chunk deleted
// by truncation while a read is under way falls back to the store, which answers SEGMENT_TRUNCATED.
import t from "tap";
import { Sluice, type SegmentRangeToRead } from "../client/index.js";
import { startStandalone } from "../bin/standalone.js";
import { startRadosgw, type Radosgw } from "../perf/support/radosgw.js";
import { testEvent, parseTestEvent } from "./support/events.js";
import { startS3FaultProxy } from "./support/s3-fault-proxy.js";
import { bucketObjects } from "./support/tier2-cluster.js";

const stream = "t2b/s";
const prefix = "bt2";
const flushBytes = 16 * 1024;
const keys = 16;

let gw: Radosgw;
t.before(async () => {
  gw = await startRadosgw();
});
t.teardown(() => gw.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A segment name as chunk names hold it (segmentstore/tier2/chunk-names.ts): bytes outside [A-Za-z0-9_-] as %XX. */
function escaped(segment: string): string {
  let out = "";
  for (const byte of Buffer.from(segment, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Per segment, the end of the run of chunks from offset 0 in the bucket, once the bucket has stopped changing (no
 * upload under way, so every object is recorded in the container's metadata, and no flush pending).
 */
async function tieredEnds(segments: readonly string[]): Promise<{ ends: Map<string, number>; chunks: Map<string, number> }> {
  let last = "";
  for (let i = 0; i < 200; i++) {
    const objects = await bucketObjects(gw, prefix);
    const now = JSON.stringify([...objects].sort());
    if (now === last) {
      const ends = new Map<string, number>();
      const chunks = new Map<string, number>();
      for (const segment of segments) {
        const mine = [...objects]
          .map(([name, bytes]) => ({ m: new RegExp(`^c\\d+/${escaped(segment)}/(\\d{16})-s\\d+-e\\d+(\\.\\d+)?$`).exec(name), bytes }))
          .filter((o) => o.m !== null)
          .map((o) => ({ offset: Number(o.m![1]), bytes: o.bytes }))
          .sort((a, b) => a.offset - b.offset);
        let end = 0;
        for (const c of mine) if (c.offset === end) end += c.bytes;
        ends.set(segment, end);
        chunks.set(segment, mine.length);
      }
      return { ends, chunks };
    }
    last = now;
    await sleep(500);
  }
  throw new Error("the bucket never stopped changing");
}

/** Every event of `range` read by `sluice`, as `offset:key|seq` and the raw bytes. */
async function readRange(sluice: Sluice, range: SegmentRangeToRead): Promise<{ ids: string[]; bytes: Buffer }> {
  const ids: string[] = [];
  const parts: Buffer[] = [];
  for await (const e of sluice.batch.read(range)) {
    const { key, seq } = parseTestEvent(e.data);
    ids.push(`${e.offset}:${key}|${seq}`);
    parts.push(Buffer.from(e.data));
  }
  return { ids, bytes: Buffer.concat(parts) };
}

void t.test("ranges read straight from Tier-2 equal what the store returns", async (t) => {
  const credentials = { accessKeyId: gw.accessKeyId, secretAccessKey: gw.secretAccessKey };
  process.env.AWS_ACCESS_KEY_ID = gw.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = gw.secretAccessKey;
  const proxy = await startS3FaultProxy(gw.endpoint);
  t.teardown(() => proxy.close());
  // The store tiers straight to radosgw; only the direct client goes through the proxy, so its GETs are the client's.
  const s = await startStandalone([
    "--data-dir", t.testdir(), "--controller-port", "0", "--segmentstore-port", "0",
    "--tier2", `s3://${gw.bucket}/${prefix}`, "--s3-endpoint", gw.endpoint,
    "--flush-bytes", String(flushBytes), "--flush-age-ms", "3600000",
  ]);
  t.teardown(() => s.close());
  const uri = `tcp://127.0.0.1:${s.controllerPort}`;
  const plain = await Sluice.connect(uri);
  t.teardown(() => plain.close());
  const direct = await Sluice.connect(uri, { tier2: { endpoint: proxy.endpoint, bucket: gw.bucket, prefix, credentials } });
  t.teardown(async () => {
    direct.batch.close();
    await direct.close();
  });
  await t.rejects(Sluice.connect(uri, { tier2: { endpoint: "ftp://x", bucket: gw.bucket } }), { code: "INVALID_ARGUMENT", message: /tier2\.endpoint/ });
  await t.rejects(Sluice.connect(uri, { tier2: { endpoint: gw.endpoint, bucket: "No_Such" } }), { code: "INVALID_ARGUMENT", message: /tier2\.bucket/ });

  await plain.admin.createScope("t2b");
  await plain.admin.createStream(stream, { scaling: { type: "fixed", minSegments: 2 } });
  const segments = (await plain.admin.streamInfo(stream)).segments.map((x) => x.segment);
  // Rounds a little apart, each more than flushBytes per segment: many small chunks per segment.
  const w = plain.writer(stream);
  let seq = 0;
  for (let round = 0; round < 40; round++) {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 2 * keys; i++, seq++) writes.push(w.write(testEvent(`k${seq % keys}`, seq, 1000), { routingKey: `k${seq % keys}` }));
    await Promise.all(writes);
    await sleep(30);
  }
  await w.flush();
  const { ends, chunks } = await tieredEnds(segments);
  for (const segment of segments) t.ok(chunks.get(segment)! >= 4, `${segment}: ${chunks.get(segment)} chunks, ${ends.get(segment)} bytes in Tier-2`);

  // A range wholly in Tier-2: every byte by a GET through the proxy, no ReadSegment at all.
  const keysOf = new Map<string, string>();
  const getsBefore = proxy.counts.get;
  for (const segment of segments) {
    const range = { segment, startOffset: 0, endOffset: ends.get(segment)! };
    const before = direct.batch.stats;
    const [fromTier2, fromStore] = await Promise.all([readRange(direct, range), readRange(plain, range)]);
    const after = direct.batch.stats;
    t.ok(fromTier2.ids.length > 0, `${segment}: ${fromTier2.ids.length} events read from Tier-2`);
    t.same(fromTier2.ids, fromStore.ids, `${segment}: the same events at the same offsets`);
    t.ok(fromTier2.bytes.equals(fromStore.bytes), `${segment}: byte for byte`);
    t.equal(after.tier2Bytes - before.tier2Bytes, range.endOffset, `${segment}: every byte came from Tier-2`);
    t.equal(after.storeBytes - before.storeBytes, 0, `${segment}: none through the store`);
    keysOf.set(segment, fromStore.ids[0]!.split(":")[1]!.split("|")[0]!);
  }
  t.ok(proxy.counts.get - getsBefore >= segments.length, `${proxy.counts.get - getsBefore} GETs went to the object store`);

  // A small tail stays in the store's memory (below flushBytes, flushed only after an hour): full ranges mix both.
  let held = 0;
  let current = ends;
  let lengths = new Map<string, number>();
  for (let attempt = 0; attempt < 5 && held === 0; attempt++) {
    const tail = plain.writer(stream);
    for (const key of keysOf.values()) await tail.write(testEvent(key, seq++, 100), { routingKey: key });
    await tail.close();
    current = (await tieredEnds(segments)).ends;
    lengths = new Map((await plain.batch.segments(stream)).map((r) => [r.segment, r.endOffset]));
    held = segments.reduce((n, x) => n + lengths.get(x)! - current.get(x)!, 0);
  }
  t.ok(held > 0, `${held} bytes held in the store's memory`);
  const ranges = await plain.batch.segments(stream);
  const before = direct.batch.stats;
  const viaTier2 = await Promise.all(ranges.map((r) => readRange(direct, r)));
  const viaStore = await Promise.all(ranges.map((r) => readRange(plain, r)));
  const after = direct.batch.stats;
  t.same(viaTier2.map((r) => r.ids), viaStore.map((r) => r.ids), "full ranges, read in parallel: the same events");
  t.ok(viaTier2.every((r, i) => r.bytes.equals(viaStore[i]!.bytes)), "byte for byte");
  t.equal(after.tier2Bytes - before.tier2Bytes, segments.reduce((n, x) => n + current.get(x)!, 0), "the tiered part from Tier-2");
  t.equal(after.storeBytes - before.storeBytes, held, "the held tail from the store");
  t.equal(after.tier2Missing, 0, "no listed chunk was missing");

  // A 503 from the object store is tried again.
  const first = { segment: segments[0]!, startOffset: 0, endOffset: ends.get(segments[0]!)! };
  proxy.setMode("fail503", { times: 1, method: "GET" });
  const failedBefore = proxy.counts.failed;
  t.same((await readRange(direct, first)).ids, (await readRange(plain, first)).ids, "read in full despite a 503");
  t.equal(proxy.counts.failed - failedBefore, 1, "after one 503");

  // A wrong prefix finds no chunk: every byte comes through the store (and a warning says to check the prefix).
  const wrong = await Sluice.connect(uri, { tier2: { endpoint: gw.endpoint, bucket: gw.bucket, prefix: "elsewhere", credentials } });
  t.teardown(async () => {
    wrong.batch.close();
    await wrong.close();
  });
  t.same((await readRange(wrong, first)).ids, (await readRange(plain, first)).ids, "a wrong prefix still reads everything");
  t.match(wrong.batch.stats, { tier2Bytes: 0, storeBytes: first.endOffset }, "all of it through the store");
  t.ok(wrong.batch.stats.tier2Missing > 0, "each chunk found missing");

  // Refused credentials are a typed error, not a silent fallback.
  const refused = await Sluice.connect(uri, { tier2: { endpoint: gw.endpoint, bucket: gw.bucket, prefix, credentials: { ...credentials, secretAccessKey: "wrong" } } });
  t.teardown(async () => {
    refused.batch.close();
    await refused.close();
  });
  await t.rejects(readRange(refused, first), { code: "AUTH_FAILED" });

  // Truncation deletes chunks while a read is under way: the reader falls back to the store, which says SEGMENT_TRUNCATED.
  const whole = ranges[0]!;
  const events = direct.batch.read(whole);
  const one = await events.next();
  t.equal(one.done, false, "the read is under way");
  await plain.admin.truncateStream(stream, await plain.admin.tailCut(stream));
  for (let i = 0; i < 100 && (await tieredEnds([whole.segment])).chunks.get(whole.segment)! > 1; i++) await sleep(100);
  t.ok((await tieredEnds([whole.segment])).chunks.get(whole.segment)! <= 1, "the chunks below the truncation are deleted");
  const missingBefore = direct.batch.stats.tier2Missing;
  const rest = (async () => {
    for (let r = await events.next(); r.done !== true; r = await events.next()) {
      // Reading on until a deleted chunk is reached.
    }
  })();
  await t.rejects(rest, { code: "SEGMENT_TRUNCATED" }, "the rest is truncated");
  t.ok(direct.batch.stats.tier2Missing > missingBefore, "a listed chunk was found deleted, and the store asked");
  await t.rejects(readRange(direct, whole), { code: "SEGMENT_TRUNCATED" }, "a new read of a truncated range is refused at once");
});
