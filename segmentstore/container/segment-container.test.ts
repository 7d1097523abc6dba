// Proves the container's operation processor: appends are acked only after the log says durable, in order; resends are
// applied once (whole and partial overlap); gaps are refused; a log failure fails the container for good, and a fenced
// log turns it into WRONG_HOST; recovery by replaying the logged entries rebuilds lengths, data and writer state
// exactly. The log is an in-memory fake here; the Tier-1 path is proven by test/durability.test.ts and the
// segment-store process tests. Seal, truncate, merge, delete, attributes and checkpoints: segment-operations.test.ts.
import t from "tap";
import { ManualClock, WriterNotPrimaryError } from "../../common/index.js";
import { SegmentContainer } from "./segment-container.js";
import { ManualLog, containerServices, created, ev, make, seg, tick, writer } from "./container-test-support.js";

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

void t.test("a fenced log stops the container: WRONG_HOST for waiting and later operations and for reads", async (t) => {
  const { c, log, stopped } = make();
  await created(c, log);
  const a = c.append(seg, writer, 0, 1, ev("a"));
  await tick();
  log.failAll(new WriterNotPrimaryError("a newer owner opened the log"));
  await t.rejects(a, { code: "WRONG_HOST" });
  t.throws(() => c.append(seg, writer, 1, 1, ev("b")), { code: "WRONG_HOST" });
  await t.rejects(c.read(seg, 0, 10, 0), { code: "WRONG_HOST" });
  t.same(stopped.map((e) => e.code), ["WRONG_HOST"], "the store is told once");
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
  t.throws(() => c.info(seg), { code: "CONTAINER_NOT_READY" }, "a failed container serves nothing, not even reads");
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
  const r = new SegmentContainer(0, containerServices(new ManualClock()).services);
  log.entries.forEach((e, i) => r.replay(i, e));
  const rlog = new ManualLog();
  r.start(rlog);
  t.equal(r.info(seg).length, c.info(seg).length);
  t.same((await r.read(seg, 0, 1000, 0)).data, (await c.read(seg, 0, 1000, 0)).data);
  t.equal(r.lastEventNumber(seg, writer), 2);
  t.equal(r.lastEventNumber(seg, w2), 0);
  // A resend of the last block after recovery is a duplicate, not a new append.
  const resend = r.append(seg, writer, 2, 1, ev("c"));
  await tick();
  t.equal(rlog.pending, 1, "only the start checkpoint was logged");
  rlog.completeAll();
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
