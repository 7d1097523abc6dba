// Proves retention's pure parts (samples.ts) by table: the truncation point each policy picks, what a
// truncation drops, thinning that keeps the newest samples dense within the count and byte bounds, and the
// record's JSON round trip that refuses anything malformed.
import t from "tap";
import { retentionSamplesMax } from "../../common/index.js";
import {
  afterTruncation,
  boundRecord,
  chooseTruncation,
  decodeRecord,
  encodeRecord,
  parseRetentionKey,
  retentionKey,
  thinOnce,
  type RetentionSample,
} from "./samples.js";

/** Sample i: `i * 100` bytes at `i * 1000` ms. */
function sample(i: number, positions = 1, nameBytes = 8): RetentionSample {
  return {
    cut: { positions: Array.from({ length: positions }, (_, p) => ({ segment: `${"s".repeat(nameBytes)}/${p}`, offset: i * 100 })) },
    sizeBytes: i * 100,
    atMs: i * 1000,
  };
}

const samples = Array.from({ length: 11 }, (_, i) => sample(i));

void t.test("BY_SIZE picks the newest sample that leaves at least limit bytes to the tail", async (t) => {
  t.equal(chooseTruncation({ type: "BY_SIZE", limit: 300 }, samples, 1000, 0)?.sizeBytes, 700);
  t.equal(chooseTruncation({ type: "BY_SIZE", limit: 350 }, samples, 1000, 0)?.sizeBytes, 600);
  t.equal(chooseTruncation({ type: "BY_SIZE", limit: 1000 }, samples, 1000, 0)?.sizeBytes, 0);
  t.equal(chooseTruncation({ type: "BY_SIZE", limit: 1001 }, samples, 1000, 0), undefined, "the stream is smaller than the limit");
});

void t.test("BY_TIME picks the newest sample at least limit old", async (t) => {
  t.equal(chooseTruncation({ type: "BY_TIME", limit: 4000 }, samples, 1000, 10_000)?.atMs, 6000);
  t.equal(chooseTruncation({ type: "BY_TIME", limit: 4500 }, samples, 1000, 10_000)?.atMs, 5000);
  t.equal(chooseTruncation({ type: "BY_TIME", limit: 10_001 }, samples, 1000, 10_000), undefined);
});

void t.test("RETENTION_NONE and a bad limit truncate nothing", async (t) => {
  t.equal(chooseTruncation({ type: "RETENTION_NONE", limit: 0 }, samples, 1000, 10_000), undefined);
  t.equal(chooseTruncation({ type: "BY_SIZE", limit: -1 }, samples, 1000, 10_000), undefined);
  t.equal(chooseTruncation({ type: "BY_TIME", limit: Number.NaN }, samples, 1000, 10_000), undefined);
});

void t.test("a truncation drops the samples before it and remembers its size", async (t) => {
  const record = { samples: [...samples], truncatedAtSize: 0 };
  const after = afterTruncation(record, samples[4]!);
  t.equal(after.truncatedAtSize, 400);
  t.same(after.samples.map((s) => s.sizeBytes), [400, 500, 600, 700, 800, 900, 1000]);
});

void t.test("thinning keeps the oldest and the newest, and halves only the older half", async (t) => {
  const ten = Array.from({ length: 10 }, (_, i) => sample(i));
  t.same(thinOnce(ten).map((s) => s.sizeBytes / 100), [0, 2, 4, 5, 6, 7, 8, 9]);
  t.same(thinOnce(ten.slice(0, 3)).map((s) => s.sizeBytes / 100), [0, 2]);
  t.same(thinOnce(ten.slice(0, 2)).map((s) => s.sizeBytes / 100), [1], "two: only the newest is left");
});

void t.test("appending forever stays within retentionSamplesMax, newest samples dense", async (t) => {
  let record = { samples: [] as RetentionSample[], truncatedAtSize: 0 };
  for (let i = 0; i < 5 * retentionSamplesMax; i++) {
    record.samples.push(sample(i));
    const bounded = boundRecord(record);
    if (bounded === undefined) throw new Error("unexpectedly too large");
    record = bounded.record;
    if (record.samples.length > retentionSamplesMax) t.fail(`${record.samples.length} samples after ${i}`);
  }
  const sizes = record.samples.map((s) => s.sizeBytes / 100);
  t.equal(sizes[0], 0, "the oldest is kept");
  t.equal(sizes.at(-1), 5 * retentionSamplesMax - 1);
  const dense = sizes.slice(-retentionSamplesMax / 2);
  t.ok(dense.every((v, i) => i === 0 || v === dense[i - 1]! + 1), "the newest half has every sample");
  t.ok(sizes.every((v, i) => i === 0 || v > sizes[i - 1]!), "still in order");
});

void t.test("the byte bound thins too, and a cut that alone is too large cannot be kept", async (t) => {
  const big = (i: number) => sample(i, 1000, 200); // about 215 KB of JSON each
  const record = { samples: Array.from({ length: 10 }, (_, i) => big(i)), truncatedAtSize: 0 };
  const bounded = boundRecord(record, retentionSamplesMax, 1024 * 1024);
  t.ok(bounded !== undefined);
  t.ok(bounded!.value.length <= 1024 * 1024, `${bounded!.value.length} bytes`);
  t.ok(bounded!.record.samples.length >= 2 && bounded!.record.samples.length < 10);
  t.equal(bounded!.record.samples.at(-1)!.sizeBytes, 900, "the newest is kept");
  t.equal(boundRecord({ samples: [big(1)], truncatedAtSize: 0 }, retentionSamplesMax, 100_000), undefined);
});

void t.test("records round-trip through JSON; anything else is refused", async (t) => {
  const record = { samples: samples.slice(0, 3), truncatedAtSize: 100 };
  t.same(decodeRecord(encodeRecord(record)), record);
  t.equal(decodeRecord(Buffer.from("not json")), undefined);
  t.equal(decodeRecord(Buffer.from(JSON.stringify({ samples: [{ sizeBytes: -1, atMs: 0, cut: { positions: [] } }], truncatedAtSize: 0 }))), undefined);
  t.equal(decodeRecord(Buffer.from(JSON.stringify({ samples: [{ sizeBytes: 1, atMs: 0, cut: { positions: [{ segment: 1, offset: 0 }] } }], truncatedAtSize: 0 }))), undefined);
  t.equal(decodeRecord(Buffer.from(JSON.stringify({ samples: {}, truncatedAtSize: 0 }))), undefined);
  t.same(parseRetentionKey(retentionKey("sc", "st")), { scope: "sc", stream: "st" });
  t.equal(parseRetentionKey("retention/a/b/c"), undefined);
  t.equal(parseRetentionKey("other/a/b"), undefined);
});
