// Proves reader groups end to end against an in-process standalone: readers share a stream's segments and return
// every event exactly once and per key in order (also when one closes, crashes and is taken over, or is declared
// offline), across a split and a merge (with the segment-count signal), checkpoints and resets that re-read exactly
// the events after the checkpoint (also as a new group's start), `to` cuts and sealed streams that end reading,
// unread bytes falling to 0, and typed errors for bad names and configs. Events say their key and sequence
// (test/support/events.ts), so each check compares what was read with what was written.
import t, { type Test } from "tap";
import { Sluice, type Checkpoint, type EventReader, type ReaderGroup } from "../client/index.js";
import { StateSynchronizer } from "../client/reader/state-synchronizer.js";
import { ConnectionPool } from "../proto/index.js";
import { startStandalone } from "../bin/standalone.js";
import { parseTestEvent, writeKeyedEvents as write } from "./support/events.js";

function args(dir: string): string[] {
  return ["--data-dir", dir, "--controller-port", "0", "--segmentstore-port", "0"];
}

async function setup(t: Test): Promise<Sluice> {
  const s = await startStandalone(args(t.testdir()));
  t.teardown(() => s.close());
  const sluice = await Sluice.connect(`tcp://127.0.0.1:${s.controllerPort}`);
  t.teardown(() => sluice.close());
  await sluice.admin.createScope("shop");
  return sluice;
}

interface Read {
  reader: string;
  segment: string;
  key: string;
  seq: number;
}

/** Everything read, in the order readNext returned it (one JS thread: the order is global). */
class Log {
  readonly events: Read[] = [];
  readonly checkpoints: { reader: string; name: string; at: number }[] = [];
  ends = 0;

  /** While set, readers wait for it before their next readNext (as a slow application would). */
  paused: Promise<void> | undefined;

  /** Reads with `reader` until the end of the group, `stop()`, or the reader is closed. */
  async run(reader: EventReader, stop: () => boolean = () => false): Promise<void> {
    while (!stop()) {
      await this.paused;
      const item = await reader.readNext({ timeoutMs: 100 });
      if (item.type === "end") {
        this.ends++;
        return;
      }
      if (item.type === "event") {
        const { key, seq } = parseTestEvent(item.data);
        this.events.push({ reader: reader.id, segment: item.segment, key, seq });
      } else if (item.type === "checkpoint") {
        this.checkpoints.push({ reader: reader.id, name: item.name, at: this.events.length });
      }
    }
  }
}

/** Checks every key's sequences are exactly 0..count-1 in order (once each, in write order). */
function checkOnceInOrder(t: Test, events: readonly Read[], keys: number, count: number): void {
  const byKey = new Map<string, number[]>();
  for (const e of events) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e.seq]);
  t.equal(events.length, keys * count, `${keys * count} events read`);
  let bad = 0;
  for (let k = 0; k < keys; k++) {
    const got = byKey.get(`k${k}`) ?? [];
    if (JSON.stringify(got) !== JSON.stringify([...Array(count).keys()])) bad++;
  }
  t.equal(bad, 0, "every key read once each, in order");
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

void t.test("readers share 4 segments: each event once, per key in order, also after one closes", async (t) => {
  const sluice = await setup(t);
  await sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 4 } });
  await write(sluice, "shop/orders", 40, 25);
  const group = await sluice.readerGroup("shop/analytics", { streams: ["shop/orders"] });
  t.teardown(() => group.close());
  const log = new Log();
  const readers = ["r1", "r2", "r3"].map((id) => group.reader(id));
  const total = () => log.events.length;
  let r3Closed = false;
  const runs = readers.map((r) => log.run(r, () => total() >= 40 * 50 || (r.id === "r3" && r3Closed)));
  await until("a third of the events", () => total() >= 300);
  r3Closed = true;
  await runs[2];
  await readers[2]!.close();
  t.same(group.positions()[0]!.positions.length, 4);
  // More events after the close: the two left take over r3's segments where it stopped.
  await write(sluice, "shop/orders", 40, 25, 25);
  await Promise.all(runs);
  checkOnceInOrder(t, log.events, 40, 50);
  const held = new Set(log.events.slice(-200).map((e) => e.reader));
  t.notOk(held.has("r3"), "r3 read nothing after it closed");
  const segmentsByReader = new Map<string, Set<string>>();
  for (const e of log.events) segmentsByReader.set(e.reader, (segmentsByReader.get(e.reader) ?? new Set()).add(e.segment));
  t.equal(segmentsByReader.size, 3, "all three readers read");
  await Promise.all(readers.slice(0, 2).map((r) => r.close()));
});

void t.test("a reader that crashed is taken over by its id, or declared offline, with nothing skipped", async (t) => {
  const sluice = await setup(t);
  await sluice.admin.createStream("shop/orders", { scaling: { type: "fixed", minSegments: 2 } });
  await write(sluice, "shop/orders", 10, 30);
  await sluice.admin.sealStream("shop/orders");
  const first = await sluice.readerGroup("shop/g", { streams: ["shop/orders"] });
  const log = new Log();
  const crashed = first.reader("a");
  await log.run(crashed, () => log.events.length >= 100);
  // Let the periodic record of positions happen, then "crash": the group object is dropped without closing readers.
  await until("positions recorded", () => first.positions()[0]!.positions.some((p) => p.offset > 0), 5_000);
  const seen = log.events.length;
  const second = await sluice.readerGroup("shop/g");
  t.teardown(() => second.close());
  const again = second.reader("a");
  const log2 = new Log();
  await log2.run(again);
  t.equal(log2.ends, 1);
  // A takeover starts at the last recorded positions: at least once, nothing skipped.
  checkOnceInOrder(t, dedupe([...log.events, ...log2.events]), 10, 30);
  t.ok(log2.events.length <= 300 && log2.events.length >= 300 - seen, "the new reader started no later than the crashed one stopped");
  await again.close();
  await first.close().catch(() => undefined);

  // readerOffline: another reader gets the dead one's segments from its recorded positions.
  const third = await sluice.readerGroup("shop/h", { streams: ["shop/orders"] });
  t.teardown(() => third.close());
  const dead = third.reader("dead");
  const log3 = new Log();
  await log3.run(dead, () => log3.events.length >= 50);
  const position = dead.position();
  await third.readerOffline("dead", position);
  await t.rejects(dead.readNext(), { code: "CLOSED" }, "a reader declared offline is told so");
  const alive = third.reader("alive");
  await log3.run(alive);
  checkOnceInOrder(t, log3.events, 10, 30);
  await alive.close();
});

function dedupe(events: readonly Read[]): Read[] {
  const seen = new Set<string>();
  const out: Read[] = [];
  for (const e of events) {
    const id = `${e.key}|${e.seq}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(e);
  }
  return out;
}

void t.test("a split and a merge: per-key order across epochs, and the segment count signal", async (t) => {
  const sluice = await setup(t);
  const stream = "shop/scaled";
  await sluice.admin.createStream(stream, { scaling: { type: "fixed", minSegments: 2 } });
  await write(sluice, stream, 30, 10);
  const [low, high] = (await sluice.admin.streamInfo(stream)).segments;
  // Split the low half in two, then merge its upper part with the high half.
  const split = await sluice.admin.scaleStream(stream, [low!.segment], [{ keyStart: 0, keyEnd: 0.25 }, { keyStart: 0.25, keyEnd: 0.5 }]);
  await write(sluice, stream, 30, 10, 10);
  const upper = split.segments.find((s) => s.keyStart === 0.25)!;
  await sluice.admin.scaleStream(stream, [upper.segment, high!.segment], [{ keyStart: 0.25, keyEnd: 1 }]);
  await write(sluice, stream, 30, 10, 20);
  await sluice.admin.sealStream(stream);

  const group = await sluice.readerGroup("shop/scaling", { streams: [stream] });
  t.teardown(() => group.close());
  const counts: number[] = [];
  const off = group.onSegmentCountChange((n) => counts.push(n));
  const log = new Log();
  const readers = [group.reader("r1"), group.reader("r2")];
  await Promise.all(readers.map((r) => log.run(r)));
  off();
  t.equal(log.ends, 2, "both readers see the end of the sealed stream");
  checkOnceInOrder(t, log.events, 30, 30);
  t.ok(counts.length >= 2, `segment count changed: ${counts.join(" ")}`);
  t.equal(counts.at(-1), 0, "nothing readable at the end");
  t.equal(await group.unreadBytes(), 0, "nothing unread");
  await Promise.all(readers.map((r) => r.close()));
});

void t.test("checkpoint, resetTo it, a group from it: exactly the events after the checkpoint, per segment", async (t) => {
  const sluice = await setup(t);
  const stream = "shop/cp";
  await sluice.admin.createStream(stream, { scaling: { type: "fixed", minSegments: 3 } });
  await write(sluice, stream, 30, 40);
  await sluice.admin.sealStream(stream);
  const group = await sluice.readerGroup("shop/cp-group", { streams: [stream] });
  t.teardown(() => group.close());
  const before = await group.unreadBytes();
  t.ok(before > 30 * 40 * 100, `unread bytes before reading: ${before}`);
  const log = new Log();
  const readers = [group.reader("r1"), group.reader("r2")];
  // Readers stop after 200 events while the checkpoint begins (else they may read everything first), then go on.
  let checkpoint: Promise<Checkpoint> | undefined;
  const runs = readers.map((r) =>
    log.run(r, () => {
      if (checkpoint === undefined && log.events.length >= 200) {
        checkpoint = group.checkpoint("cp-1", { timeoutMs: 10_000 });
        log.paused = new Promise((resolve) => setTimeout(resolve, 300));
      }
      return false;
    }),
  );
  await Promise.all(runs);
  const cp = await checkpoint!;
  t.equal(cp.name, "cp-1");
  t.equal(cp.cuts.length, 1);
  t.equal(log.checkpoints.length, 2, "each reader returned the checkpoint in band");
  checkOnceInOrder(t, log.events, 30, 40);
  const after = afterCheckpoint(log);
  t.ok(after.size > 0, "the checkpoint fell in the middle of the stream");
  await until("positions recorded at the end", async () => (await group.unreadBytes()) === 0);

  await group.resetTo(cp);
  const again = new Log();
  await Promise.all(readers.map((r) => again.run(r)));
  t.same(bySegment(again.events), after, "after resetTo: the same events per segment as after the checkpoint");

  const fresh = await sluice.readerGroup("shop/from-cp", { streams: [stream], from: cp.cuts });
  t.teardown(() => fresh.close());
  const log3 = new Log();
  await log3.run(fresh.reader("solo"));
  t.same(bySegment(log3.events), after, "a group from the checkpoint's cuts reads only the events after it");
  await Promise.all(readers.map((r) => r.close()));
});

/** Events each reader returned after its checkpoint item, by segment in read order. */
function afterCheckpoint(log: Log): Map<string, string[]> {
  const after: Read[] = [];
  for (const [i, e] of log.events.entries()) {
    const cp = log.checkpoints.find((c) => c.reader === e.reader);
    if (cp !== undefined && i >= cp.at) after.push(e);
  }
  return bySegment(after);
}

function bySegment(events: readonly Read[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of [...events].sort((a, b) => a.segment.localeCompare(b.segment))) out.set(e.segment, [...(out.get(e.segment) ?? []), `${e.key}|${e.seq}`]);
  return out;
}

void t.test("a `to` cut ends reading there; unread bytes fall to 0", async (t) => {
  const sluice = await setup(t);
  const stream = "shop/bounded";
  await sluice.admin.createStream(stream, { scaling: { type: "fixed", minSegments: 2 } });
  await write(sluice, stream, 10, 20);
  const to = (await sluice.admin.streamInfo(stream)).tail!;
  await write(sluice, stream, 10, 20, 20);
  const group = await sluice.readerGroup("shop/bounded-g", { streams: [stream], to });
  t.teardown(() => group.close());
  t.ok((await group.unreadBytes()) > 0);
  const log = new Log();
  const reader = group.reader("r1");
  await log.run(reader);
  t.equal(log.ends, 1, "end at the `to` cut, though the stream goes on");
  checkOnceInOrder(t, log.events, 10, 20);
  t.equal(await group.unreadBytes(), 0);
  t.same((await reader.readNext()).type, "end", "and end again");
  await reader.close();

  const tail = await sluice.readerGroup("shop/tail-g", { streams: [stream], from: "tail" });
  t.teardown(() => tail.close());
  const r = tail.reader("r1");
  t.same(await r.readNext({ timeoutMs: 200 }), { type: "timeout" }, "from the tail: nothing old");
  await write(sluice, stream, 1, 1, 99);
  const item = await r.readNext({ timeoutMs: 5_000 });
  t.same(item.type === "event" ? parseTestEvent(item.data) : item, { key: "k0", seq: 99 });
  await r.close();
});

void t.test("typed errors for bad names and configs", async (t) => {
  const sluice = await setup(t);
  await sluice.admin.createStream("shop/a");
  await sluice.admin.createStream("shop/b");
  await t.rejects(sluice.readerGroup("nogroup", { streams: ["shop/a"] }), { code: "INVALID_NAME" });
  await t.rejects(sluice.readerGroup("shop/bad name", { streams: ["shop/a"] }), { code: "INVALID_NAME" });
  await t.rejects(sluice.readerGroup("shop/g"), { code: "NO_SUCH_READER_GROUP" });
  await t.rejects(sluice.readerGroup("shop/g", { streams: [] }), { code: "INVALID_ARGUMENT" });
  await t.rejects(sluice.readerGroup("shop/g", { streams: ["shop/a", "shop/a"] }), { code: "INVALID_ARGUMENT" });
  await t.rejects(sluice.readerGroup("shop/g", { streams: ["shop/none"] }), { code: "NO_SUCH_STREAM" });
  await t.rejects(sluice.readerGroup("shop/g", { streams: ["bad"] }), { code: "INVALID_NAME" });
  const cutOfB = (await sluice.admin.streamInfo("shop/b")).head!;
  await t.rejects(sluice.readerGroup("shop/g", { streams: ["shop/a"], from: cutOfB }), { code: "INVALID_ARGUMENT" });
  const group: ReaderGroup = await sluice.readerGroup("shop/g", { streams: ["shop/a"] });
  t.teardown(() => group.close());
  await t.rejects(sluice.readerGroup("shop/g", { streams: ["shop/b"] }), { code: "READER_GROUP_EXISTS", message: /delete it first, or open it as it is and move it with resetTo/ });
  const reopened = await sluice.readerGroup("shop/g", { streams: ["shop/a"], from: "tail" });
  t.same(reopened.streams, ["shop/a"], "the same streams open the existing group");
  await reopened.close();
  t.throws(() => group.reader("no spaces"), { code: "INVALID_NAME" });
  const r = group.reader("r1");
  t.throws(() => group.reader("r1"), { code: "INVALID_ARGUMENT" });
  await t.rejects(r.readNext({ timeoutMs: -1 }), { code: "INVALID_ARGUMENT" });
  await t.rejects(group.checkpoint(""), { code: "INVALID_ARGUMENT" });
  await t.rejects(group.resetTo(cutOfB), { code: "INVALID_ARGUMENT" });
  await t.rejects(group.checkpoint("nobody-reads", { timeoutMs: 300 }), { code: "TIMEOUT", message: /r1/ });
  await t.rejects(sluice.admin.deleteScope("shop"), { code: "SCOPE_NOT_EMPTY" });
  await r.close();
  await t.rejects(r.readNext(), { code: "CLOSED" });
  await group.delete();
  await t.rejects(sluice.readerGroup("shop/g"), { code: "NO_SUCH_READER_GROUP" });
  t.equal(await sluice.deleteReaderGroup("shop/g"), false);

  // A group deleted under a live reader: the reader is told.
  const doomed = await sluice.readerGroup("shop/doomed", { streams: ["shop/a"] });
  t.teardown(() => doomed.close());
  const live = doomed.reader("r1");
  t.same(await live.readNext({ timeoutMs: 100 }), { type: "timeout" });
  t.equal(await sluice.deleteReaderGroup("shop/doomed"), true);
  let error: unknown;
  await until("the reader sees the deletion", async () => {
    try {
      await live.readNext({ timeoutMs: 100 });
      return false;
    } catch (err) {
      error = err;
      return true;
    }
  });
  t.match(error, { code: "NO_SUCH_READER_GROUP" });
});

void t.test("state synchronizer: concurrent updates from two clients lose none, and old records are truncated", async (t) => {
  const s = await startStandalone(args(t.testdir()));
  t.teardown(() => s.close());
  const pool = new ConnectionPool();
  t.teardown(() => pool.close());
  const connect = () => pool.get({ host: "127.0.0.1", port: s.segmentStorePort });
  interface Counter {
    n: number;
    pad: string;
  }
  const options = {
    segment: "shop/sync/0.#epoch.0",
    connect,
    encode: (c: Counter) => Buffer.from(JSON.stringify(c)),
    decode: (b: Buffer) => JSON.parse(b.toString()) as Counter,
  };
  // Records of 200 KiB: the 1 MiB truncation bound is passed every few updates.
  const initial = () => Promise.resolve({ n: 0, pad: "x".repeat(200 * 1024) });
  const a = new StateSynchronizer<Counter>(options);
  const b = new StateSynchronizer<Counter>(options);
  await Promise.all([a.open(initial), b.open(initial)]);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  t.equal(a.state.n, 0, "one initial record wins");
  const seen: number[] = [];
  b.onChange(() => seen.push(b.state.n));
  const bump = (x: StateSynchronizer<Counter>) => x.update((c) => ({ state: { ...c, n: c.n + 1 }, result: c.n + 1 }));
  const results = await Promise.all([...Array(15).keys()].flatMap(() => [bump(a), bump(b)]));
  t.same([...results].sort((x, y) => x - y), [...Array(30).keys()].map((i) => i + 1), "each update applied once, to the state before it: none lost");
  await until("both follow", () => a.state.n === 30 && b.state.n === 30);
  t.same(seen, [...seen].sort((x, y) => x - y), "changes are seen in order");
  t.equal(await a.update(() => ({ result: "no change" })), "no change", "a change that makes no state appends nothing");
  const conn = await connect();
  const info = await conn.request({ type: "GetSegmentInfo", requestId: conn.nextRequestId(), segment: options.segment }, "SegmentInfo", 10_000);
  t.ok(info.startOffset > 0, `truncated at ${info.startOffset} of ${info.length}`);
  t.ok(info.length - info.startOffset < 2 * 1024 * 1024, "little more than the bound is kept");
  const c = new StateSynchronizer<Counter>(options);
  await c.open(initial);
  t.equal(c.state.n, 30, "a new client reads the state from the truncated segment");
  await c.close();
});
