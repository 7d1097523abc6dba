// Proves the Retention loop against a fake StreamOps whose tail grows by a fixed number of bytes per pass, with
// its record in a real FileMetadataStore and time from a ManualClock: BY_SIZE keeps the stream within [limit,
// limit + one pass's bytes] and never truncates below the limit; BY_TIME truncates at the newest sample older than
// the limit; only the leader acts; the sample list stays bounded; failed truncations are retried and refused
// ones drop their sample; a recreated stream starts over; records of streams gone are deleted; start()/close().
import t, { type Test } from "tap";
import { InvalidArgumentError, InvalidConfigError, ManualClock, metadataValueBytesMax, retentionSamplesMax, UnavailableError } from "../../common/index.js";
import type { KeyRange, RetentionPolicy, ScaleResponse, StreamCut } from "../../proto/index.js";
import { FileMetadataStore } from "../store/index.js";
import type { CurrentSegment, Leadership, StreamOps, StreamSummary, TailCut } from "../control-ops.js";
import { Retention } from "./retention.js";
import { decodeRecord, retentionKey, type RetentionRecord } from "./samples.js";

const intervalMs = 1_000;

interface FakeStream {
  summary: StreamSummary;
  /** Bytes written since the stream began (the tail's sizeBytes). */
  sizeBytes: number;
  /** Where the stream was last truncated (its head's sizeBytes). */
  headBytes: number;
}

class FakeOps implements StreamOps, Leadership {
  leader = true;
  readonly streams = new Map<string, FakeStream>();
  readonly truncates: { stream: string; offset: number; tailBytes: number }[] = [];
  /** Errors the next truncate calls throw, in order. */
  readonly truncateFailures: Error[] = [];
  tailCalls = 0;

  isLeader(): boolean {
    return this.leader;
  }

  add(stream: string, retention: RetentionPolicy): FakeStream {
    const s: FakeStream = {
      summary: { scope: "sc", stream, scaling: { type: "FIXED", minSegments: 1, targetRate: 0, scaleFactor: 0 }, retention },
      sizeBytes: 0,
      headBytes: 0,
    };
    this.streams.set(stream, s);
    return s;
  }

  listActiveStreams(): Promise<StreamSummary[]> {
    return Promise.resolve([...this.streams.values()].map((s) => s.summary));
  }

  currentSegments(): Promise<{ epoch: number; segments: CurrentSegment[] }> {
    return Promise.reject(new Error("not used by retention"));
  }

  scale(_scope: string, _stream: string, _seal: readonly string[], _newRanges: readonly KeyRange[]): Promise<ScaleResponse> {
    return Promise.reject(new Error("not used by retention"));
  }

  tailCut(_scope: string, stream: string): Promise<TailCut | undefined> {
    this.tailCalls++;
    const s = this.streams.get(stream)!;
    return Promise.resolve({ cut: { positions: [{ segment: `sc/${stream}/0.#epoch.0`, offset: s.sizeBytes }] }, epoch: 0, sizeBytes: s.sizeBytes });
  }

  truncate(_scope: string, stream: string, cut: StreamCut): Promise<void> {
    const s = this.streams.get(stream)!;
    const offset = cut.positions[0]!.offset;
    this.truncates.push({ stream, offset, tailBytes: s.sizeBytes });
    const failure = this.truncateFailures.shift();
    if (failure !== undefined) return Promise.reject(failure);
    s.headBytes = offset;
    return Promise.resolve();
  }
}

async function setup(t: Test) {
  const clock = new ManualClock();
  const store = await FileMetadataStore.open(t.testdir(), { clock });
  const ops = new FakeOps();
  const retention = new Retention(ops, store, ops, clock, { intervalMs });
  t.teardown(async () => {
    await retention.close();
    await store.close();
  });
  /** One interval: every stream grows by `bytes`, time moves on, and a pass runs. */
  const pass = async (bytes: number) => {
    for (const s of ops.streams.values()) s.sizeBytes += bytes;
    clock.advance(intervalMs);
    await retention.tick();
  };
  const record = async (stream: string): Promise<RetentionRecord | undefined> => {
    const kv = await store.get(retentionKey("sc", stream));
    return kv === undefined ? undefined : decodeRecord(kv.value);
  };
  return { clock, store, ops, retention, pass, record };
}

void t.test("BY_SIZE keeps the stream within [limit, limit + one pass's bytes] and never below the limit", async (t) => {
  const { ops, pass, record } = await setup(t);
  const limit = 10_500;
  const perPass = 1_000;
  const s = ops.add("a", { type: "BY_SIZE", limit });
  let inRange = 0;
  for (let i = 0; i < 60; i++) {
    await pass(perPass);
    const kept = s.sizeBytes - s.headBytes;
    if (s.sizeBytes < limit + perPass) {
      if (s.headBytes !== 0) t.fail(`truncated at ${s.headBytes} with only ${s.sizeBytes} bytes written`);
    } else if (kept < limit || kept >= limit + perPass) {
      t.fail(`kept ${kept} bytes after pass ${i}`);
    } else {
      inRange++;
    }
  }
  t.equal(inRange, 60 - 11, "in range after every pass once the stream outgrew the limit");
  t.ok(ops.truncates.every((x) => x.tailBytes - x.offset >= limit), "no truncation left fewer than limit bytes");
  t.equal(ops.truncates.length, 60 - 11, "one truncation per pass (each at a newer sample)");
  const r = await record("a");
  t.ok(r !== undefined && r.samples.length <= limit / perPass + 2, `older samples dropped (${r?.samples.length})`);
  t.equal(r?.truncatedAtSize, s.headBytes);
});

void t.test("BY_SIZE with no new writes does not truncate again", async (t) => {
  const { ops, pass } = await setup(t);
  ops.add("a", { type: "BY_SIZE", limit: 2_000 });
  for (let i = 0; i < 5; i++) await pass(1_000);
  const count = ops.truncates.length;
  for (let i = 0; i < 5; i++) await pass(0);
  t.equal(ops.truncates.length, count);
});

void t.test("BY_TIME truncates at the newest sample older than the limit", async (t) => {
  const { ops, pass, clock } = await setup(t);
  const s = ops.add("a", { type: "BY_TIME", limit: 4_500 });
  const startMs = clock.nowMs();
  for (let k = 1; k <= 20; k++) {
    await pass(1_000);
    // Pass k sampled k * 1000 bytes at startMs + k s; the newest at least 4.5 s old is pass k - 5's.
    const expected = k > 5 ? (k - 5) * 1_000 : 0;
    if (s.headBytes !== expected) t.fail(`after pass ${k} (${clock.nowMs() - startMs} ms): head ${s.headBytes}, expected ${expected}`);
  }
  t.equal(s.headBytes, 15_000);
  t.equal(ops.truncates.length, 15);
});

void t.test("a controller that is not the leader does nothing", async (t) => {
  const { ops, pass, record } = await setup(t);
  const s = ops.add("a", { type: "BY_SIZE", limit: 1 });
  ops.leader = false;
  for (let i = 0; i < 5; i++) await pass(1_000);
  t.equal(ops.tailCalls, 0);
  t.equal(s.headBytes, 0);
  t.equal(await record("a"), undefined);
});

void t.test("RETENTION_NONE streams are not sampled", async (t) => {
  const { ops, pass, record } = await setup(t);
  ops.add("a", { type: "RETENTION_NONE", limit: 0 });
  for (let i = 0; i < 3; i++) await pass(1_000);
  t.equal(ops.tailCalls, 0);
  t.equal(await record("a"), undefined);
});

void t.test("the sample list stays within retentionSamplesMax and the value bound", async (t) => {
  const { ops, pass, store } = await setup(t);
  ops.add("a", { type: "BY_TIME", limit: 365 * 24 * 60 * 60_000 });
  for (let i = 0; i < retentionSamplesMax + 50; i++) await pass(10);
  const kv = await store.get(retentionKey("sc", "a"));
  const r = decodeRecord(kv!.value)!;
  t.ok(r.samples.length <= retentionSamplesMax, `${r.samples.length} samples`);
  t.ok(r.samples.length > retentionSamplesMax / 2, "thinned, not emptied");
  t.ok(kv!.value.length <= metadataValueBytesMax);
  t.equal(r.samples.at(-1)!.sizeBytes, (retentionSamplesMax + 50) * 10, "the newest sample is there");
  t.equal(r.samples[0]!.sizeBytes, 10, "and the oldest");
});

void t.test("a failed truncation is retried next pass; a refused one drops its sample", async (t) => {
  const { ops, pass, record } = await setup(t);
  const s = ops.add("a", { type: "BY_SIZE", limit: 5_000 });
  for (let i = 0; i < 5; i++) await pass(1_000);
  t.equal(ops.truncates.length, 0);
  ops.truncateFailures.push(new UnavailableError("store down"), new UnavailableError("store down"));
  await pass(1_000);
  await pass(1_000);
  t.equal(s.headBytes, 0, "both attempts failed");
  t.equal((await record("a"))?.truncatedAtSize, 0);
  await pass(1_000);
  t.equal(ops.truncates.length, 3, "tried on every pass");
  t.equal(s.headBytes, 3_000);
  t.equal(s.sizeBytes - s.headBytes, 5_000);

  ops.truncateFailures.push(new InvalidArgumentError("segment gone"));
  await pass(1_000);
  t.equal(s.headBytes, 3_000);
  const r = await record("a");
  t.notOk(r?.samples.some((x) => x.sizeBytes === 4_000), "the refused sample is dropped");
  await pass(1_000);
  t.equal(s.headBytes, 5_000, "the next pass truncates at the next sample");
});

void t.test("a stream whose size went backwards starts its record over; records of streams gone are deleted", async (t) => {
  const { ops, pass, record } = await setup(t);
  const a = ops.add("a", { type: "BY_SIZE", limit: 2_000 });
  ops.add("b", { type: "BY_SIZE", limit: 2_000 });
  for (let i = 0; i < 5; i++) await pass(1_000);
  t.equal((await record("a"))?.truncatedAtSize, 3_000);

  a.sizeBytes = 0;
  a.headBytes = 0;
  await pass(1_000);
  t.same((await record("a"))?.samples.map((x) => x.sizeBytes), [1_000], "recreated: one sample");
  t.equal((await record("a"))?.truncatedAtSize, 0);
  for (let i = 0; i < 3; i++) await pass(1_000);
  t.equal(a.headBytes, 2_000, "and it is truncated again from its new start");

  ops.streams.delete("b");
  await pass(1_000);
  t.equal(await record("b"), undefined, "b's record is gone");
  t.ok((await record("a")) !== undefined);
});

void t.test("start() runs passes every intervalMs until close()", async (t) => {
  const { ops, retention, clock } = await setup(t);
  ops.add("a", { type: "BY_SIZE", limit: 1_000 });
  retention.start();
  // The next pass is timed from the end of the previous one, which does real disk I/O: keep moving the
  // clock until three passes have run.
  await until(() => {
    clock.advance(intervalMs);
    return ops.tailCalls >= 3;
  });
  await retention.close();
  const passes = ops.tailCalls;
  clock.advance(10 * intervalMs);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(ops.tailCalls, passes, "no pass after close");
});

void t.test("options are checked", async (t) => {
  const clock = new ManualClock();
  const store = await FileMetadataStore.open(t.testdir(), { clock });
  t.teardown(() => store.close());
  const ops = new FakeOps();
  t.throws(() => new Retention(ops, store, ops, clock, { intervalMs: 0 }), InvalidConfigError);
  t.throws(() => new Retention(ops, store, ops, clock, { intervalMs: 1.5 }), InvalidConfigError);
  t.equal(new Retention(ops, store, ops, clock).intervalMs, 60_000);
});

/** Polls `cond` every 10 ms of real time, for at most 30 s: the passes do real disk I/O. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 3_000; i++) {
    if (cond()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("condition not reached within 30 s");
}
