// Proves the container's operation processor: appends are acked only after the log says durable, in order; resends are
// applied once (whole and partial overlap); gaps are refused; a log failure fails the container for good; recovery by
// replaying the logged entries rebuilds lengths, data and writer state exactly. The log is an in-memory fake here; the
// journal-backed path is proven by test/durability.test.ts.
import t from "tap";
import { ManualClock } from "../../common/index.js";
import { encodeEvents } from "../../proto/index.js";
import { TailWaiters } from "../readindex/read-index.js";
import type { DataLogAppender } from "../tier1/durable-data-log.js";
import { SegmentContainer, type CacheBudget } from "./segment-container.js";

/** A log whose appends complete only when the test says so. */
class ManualLog implements DataLogAppender {
  readonly entries: Buffer[] = [];
  private readonly waiting: { resolve: (id: number) => void; reject: (e: Error) => void; id: number }[] = [];
  append(pieces: readonly Buffer[]): Promise<number> {
    const id = this.entries.length;
    this.entries.push(Buffer.concat(pieces));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject, id }));
  }
  get pending(): number {
    return this.waiting.length;
  }
  completeAll(): void {
    for (const w of this.waiting.splice(0)) w.resolve(w.id);
  }
  failAll(): void {
    for (const w of this.waiting.splice(0)) w.reject(new Error("disk on fire"));
  }
}

const seg = "s/t/0.#epoch.0";
const writer = Buffer.alloc(16, 1);
const tick = () => new Promise((r) => setImmediate(r));

function make(cacheMax = 1 << 30) {
  const clock = new ManualClock();
  const cache: CacheBudget = { usedBytes: 0, maxBytes: cacheMax };
  const c = new SegmentContainer(0, clock, cache, new TailWaiters(clock));
  const log = new ManualLog();
  c.start(log);
  return { c, log, cache, clock };
}

async function created(c: SegmentContainer, log: ManualLog) {
  const p = c.createSegment(seg);
  await tick();
  log.completeAll();
  await p;
}

const ev = (...texts: string[]) => encodeEvents(texts.map((s) => Buffer.from(s)));

void t.test("acks only after the log completes, in order; reads never see undurable bytes", async (t) => {
  const { c, log } = make();
  await created(c, log);
  const acks: number[] = [];
  const a = c.append(seg, writer, 0, 1, ev("a")).then((r) => acks.push(r.eventNumber));
  const b = c.append(seg, writer, 2, 2, ev("b", "c")).then((r) => acks.push(r.eventNumber));
  await tick();
  t.same(acks, [], "nothing acked before durable");
  t.equal(c.info(seg).length, 0, "length excludes queued appends");
  t.equal((await c.read(seg, 0, 100, 0)).data.length, 0);
  log.completeAll();
  await Promise.all([a, b]);
  t.same(acks, [0, 2]);
  t.equal(c.info(seg).length, 15);
  t.equal(c.lastEventNumber(seg, writer), 2);
});

void t.test("resends are applied once: whole duplicates and partial overlaps", async (t) => {
  const { c, log } = make();
  await created(c, log);
  const first = c.append(seg, writer, 1, 2, ev("e0", "e1"));
  await tick();
  // Duplicate of an in-flight block: must not ack before the original is durable.
  let dupAcked = false;
  const dup = c.append(seg, writer, 1, 2, ev("e0", "e1")).then(() => (dupAcked = true));
  await tick();
  t.notOk(dupAcked);
  log.completeAll();
  await Promise.all([first, dup]);
  // A re-batched resend overlapping the stored events: only e2 and e3 are new.
  const overlap = c.append(seg, writer, 3, 3, ev("e1", "e2", "e3"));
  await tick();
  log.completeAll();
  await overlap;
  const data = (await c.read(seg, 0, 1000, 0)).data;
  t.same(data, ev("e0", "e1", "e2", "e3"), "each event once, in order");
  t.equal(c.lastEventNumber(seg, writer), 3);
});

void t.test("a gap in a writer's event numbers is refused and changes nothing", async (t) => {
  const { c, log } = make();
  await created(c, log);
  t.throws(() => c.append(seg, writer, 5, 1, ev("x")), { code: "INVALID_EVENT_NUMBER" });
  t.throws(() => c.append("s/t/9.#epoch.0", writer, 0, 1, ev("x")), { code: "NO_SUCH_SEGMENT" });
  t.equal(log.pending, 0, "nothing was logged");
  t.equal(c.info(seg).length, 0);
});

void t.test("the pinned-bytes bound refuses appends with STORAGE_FULL", async (t) => {
  const { c, log } = make(20);
  await created(c, log);
  const ok = c.append(seg, writer, 0, 1, ev("0123456789"));
  t.throws(() => c.append(seg, writer, 1, 1, ev("0123456789")), { code: "STORAGE_FULL" }, "queued bytes count too");
  await tick();
  log.completeAll();
  await ok;
  t.throws(() => c.append(seg, writer, 1, 1, ev("0123456789")), { code: "STORAGE_FULL" });
});

void t.test("a log failure fails every waiting operation and every later one", async (t) => {
  const { c, log } = make();
  await created(c, log);
  const a = c.append(seg, writer, 0, 1, ev("a"));
  const b = c.append(seg, writer, 1, 1, ev("b"));
  await tick();
  log.failAll();
  await t.rejects(a, { code: "CONTAINER_NOT_READY" });
  await t.rejects(b, { code: "CONTAINER_NOT_READY" });
  t.throws(() => c.append(seg, writer, 2, 1, ev("c")), { code: "CONTAINER_NOT_READY" });
  t.equal(c.info(seg).length, 0, "nothing applied");
});

void t.test("a tail read waits for the next append, or answers empty at its deadline", async (t) => {
  const { c, log, clock } = make();
  await created(c, log);
  const waiting = c.read(seg, 0, 100, 5000);
  const a = c.append(seg, writer, 0, 1, ev("late"));
  await tick();
  log.completeAll();
  await a;
  const r = await waiting;
  t.same(r.data, ev("late"));
  t.equal(r.atTail, true);
  const timedOut = c.read(seg, r.data.length, 100, 1000);
  clock.advance(1000);
  const empty = await timedOut;
  t.equal(empty.data.length, 0);
  t.equal(empty.atTail, true);
  await t.rejects(c.read(seg, 999, 10, 0), { code: "INVALID_ARGUMENT" });
});

void t.test("replaying the logged entries rebuilds the same state", async (t) => {
  const { c, log } = make();
  await created(c, log);
  const w2 = Buffer.alloc(16, 2);
  const ps = [c.append(seg, writer, 1, 2, ev("a", "b")), c.append(seg, w2, 0, 1, ev("z")), c.append(seg, writer, 2, 1, ev("c"))];
  await tick();
  log.completeAll();
  await Promise.all(ps);
  const clock = new ManualClock();
  const r = new SegmentContainer(0, clock, { usedBytes: 0, maxBytes: 1 << 30 }, new TailWaiters(clock));
  log.entries.forEach((e, i) => r.replay(i, e));
  r.start(new ManualLog());
  t.equal(r.info(seg).length, c.info(seg).length);
  t.same((await r.read(seg, 0, 1000, 0)).data, (await c.read(seg, 0, 1000, 0)).data);
  t.equal(r.lastEventNumber(seg, writer), 2);
  t.equal(r.lastEventNumber(seg, w2), 0);
  // A resend of the last block after recovery is a duplicate, not a new append.
  const resend = r.append(seg, writer, 2, 1, ev("c"));
  await resend;
  t.equal(r.info(seg).length, c.info(seg).length, "the resend added nothing");
});

void t.test("a resend between two in-flight entries is acked in order, with no entry of its own", async (t) => {
  const { c, log } = make();
  await created(c, log);
  const acks: string[] = [];
  const e1 = c.append(seg, writer, 0, 1, ev("one")).then(() => acks.push("e1"));
  await tick();
  const dup = c.append(seg, writer, 0, 1, ev("one")).then(() => acks.push("dup"));
  await tick();
  const e2 = c.append(seg, writer, 1, 1, ev("two")).then(() => acks.push("e2"));
  await tick();
  t.equal(log.pending, 2, "two entries logged; the resend added none");
  log.completeAll();
  await Promise.all([e1, dup, e2]);
  t.same(acks, ["e1", "dup", "e2"]);
  t.same((await c.read(seg, 0, 100, 0)).data, ev("one", "two"));
});
